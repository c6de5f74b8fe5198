"""datasets components (see CONTRIBUTING.md)."""
