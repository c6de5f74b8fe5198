"""deploy components (see CONTRIBUTING.md)."""
