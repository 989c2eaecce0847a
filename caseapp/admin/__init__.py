"""Administration screens (top layer): the admin landing page and its tools."""
