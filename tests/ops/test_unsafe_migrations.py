"""``flask db upgrade`` refuses a pending migration marked ``unsafe = True`` unless allowed (issue #9)."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from caseapp import create_app
from caseapp.extensions import db

PROJECT_DIR = Path(__file__).resolve().parents[2]

UNSAFE_REVISION = '''
"""drop a column the old version still reads (a stand-in: creates a marker table)"""
from alembic import op
import sqlalchemy as sa

revision = "ffffunsafe"
down_revision = {head!r}
branch_labels = None
depends_on = None

unsafe = True


def upgrade():
    op.create_table("unsafe_marker", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("unsafe_marker")
'''


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A copy of migrations/ with one extra unsafe revision on top, and an empty SQLite database."""
    directory = tmp_path / "migrations"
    shutil.copytree(PROJECT_DIR / "migrations", directory, ignore=shutil.ignore_patterns("__pycache__"))
    config = AlembicConfig()
    config.set_main_option("script_location", str(directory))
    head = ScriptDirectory.from_config(config).get_current_head()
    script = textwrap.dedent(UNSAFE_REVISION.format(head=head))
    (directory / "versions" / "ffffunsafe_drop_column.py").write_text(script)
    database = tmp_path / "upgrade.db"
    monkeypatch.setenv("TEST_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.delenv("ALLOW_UNSAFE_MIGRATIONS", raising=False)
    app = create_app("testing")
    yield app, str(directory), head, database
    with app.app_context():
        db.engine.dispose()


def state(database: Path) -> tuple[str, bool]:
    with sqlite3.connect(database) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        marker = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'unsafe_marker'").fetchone()[0]
    return version, bool(marker)


def test_an_unsafe_migration_is_refused_without_the_flag_and_applied_with_it(scratch):
    app, directory, head, database = scratch
    runner = app.test_cli_runner()

    result = runner.invoke(args=["db", "upgrade", "-d", directory, head])  # every safe migration: fine
    assert result.exit_code == 0, result.output
    assert state(database) == (head, False)

    result = runner.invoke(args=["db", "upgrade", "-d", directory])
    assert result.exit_code == 1
    # migrations/env.py logs to stderr through alembic.ini's console handler.
    assert "refusing to apply unsafe migration(s) ffffunsafe" in result.output
    assert "allow-unsafe=true" in result.output
    assert state(database) == (head, False)  # nothing applied

    result = runner.invoke(args=["db", "upgrade", "-d", directory, "-x", "allow-unsafe=true"])
    assert result.exit_code == 0, result.output
    assert state(database) == ("ffffunsafe", True)


def test_the_environment_variable_allows_it_too(scratch, monkeypatch):
    app, directory, _head, database = scratch
    monkeypatch.setenv("ALLOW_UNSAFE_MIGRATIONS", "1")
    result = app.test_cli_runner().invoke(args=["db", "upgrade", "-d", directory])
    assert result.exit_code == 0, result.output
    assert state(database) == ("ffffunsafe", True)


def test_a_fresh_database_with_only_safe_migrations_upgrades_without_a_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", f"sqlite:///{tmp_path / 'safe.db'}")
    app = create_app("testing")
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()
