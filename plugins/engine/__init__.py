"""engine components (see CONTRIBUTING.md)."""
