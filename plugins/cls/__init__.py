"""cls components (see CONTRIBUTING.md)."""
