"""TKPK dashboard, quarterly performance reports and their frozen snapshots (issue #6)."""
