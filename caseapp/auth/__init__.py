"""Users, roles and permissions, login (web and API token), second factor."""
