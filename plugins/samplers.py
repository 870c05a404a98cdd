"""Built-in samplers (filled in by their own issue)."""
