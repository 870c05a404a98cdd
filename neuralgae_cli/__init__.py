"""The `nd` command line."""
