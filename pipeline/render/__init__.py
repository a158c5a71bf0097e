"""Render: device facts -> config files through per-platform Jinja templates; lint them."""
