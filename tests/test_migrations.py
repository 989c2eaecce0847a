"""One migration chain builds the model on SQLite and PostgreSQL; nothing is left to autogenerate."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from caseapp.extensions import db
from caseapp.models import Base

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def script_directory() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_single_head():
    heads = script_directory().get_heads()
    assert len(heads) == 1, f"several heads: {heads}; merge them"


def test_database_is_at_head_and_autogenerate_finds_nothing(app):
    """The run's database was built by the migrations (see conftest); compare it with the models."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert context.get_current_revision() == script_directory().get_current_head()
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], "models and migrations differ; run `flask db migrate`:\n" + "\n".join(map(str, diff))
