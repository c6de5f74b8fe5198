"""binary components (see CONTRIBUTING.md)."""
