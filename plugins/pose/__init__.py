"""pose components (see CONTRIBUTING.md)."""
