"""Built-in transforms (filled in by their own issue)."""
