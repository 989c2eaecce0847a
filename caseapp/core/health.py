"""Cheap checks of the running system (no personal data)."""

from __future__ import annotations

from sqlalchemy import text

from caseapp.extensions import db


def database_summary() -> dict:
    """Dialect and the number of regions: proves a connection and a migrated schema."""
    regions = db.session.execute(text("SELECT count(*) FROM regions")).scalar_one()
    return {"dialect": db.engine.dialect.name, "regions": regions}
