"""analysis components (see CONTRIBUTING.md)."""
