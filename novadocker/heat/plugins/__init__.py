"""The directory to name in Heat's [DEFAULT] plugin_dirs: Heat loads each
module here and registers the resource types it maps."""
