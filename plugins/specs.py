"""Built-in specs (filled in by their own issue)."""
