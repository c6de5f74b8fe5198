"""tensor components (see CONTRIBUTING.md)."""
