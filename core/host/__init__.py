"""The plugin host: hook specifications, the plugin manager, the components plugins declare, errors, limits and atomic writes."""
