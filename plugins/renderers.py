"""Built-in renderers (filled in by their own issue)."""
