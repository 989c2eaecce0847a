"""The JSON API under /api/v1 (DESIGN.md §6): token auth, OpenAPI generated from the code."""
