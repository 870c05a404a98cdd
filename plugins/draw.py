"""Built-in deepdraw renderer (filled in by the deepdraw issue)."""
