"""Neuralgae engine: networks, objectives, renderers and the plugin host."""
