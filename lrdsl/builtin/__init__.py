"""The built-in nodes, registered through the same hooks as any plugin."""
