"""sr components (see CONTRIBUTING.md)."""
