"""lipreading components (see CONTRIBUTING.md)."""
