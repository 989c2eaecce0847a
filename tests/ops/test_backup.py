"""``flask backup create`` / ``restore``: a round trip into a fresh database finds every case, audit
event and attachment (row and bytes) identical (issue #9). PostgreSQL (pg_dump) and SQLite."""

from __future__ import annotations

import io
import json
import os
import uuid
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from PIL import Image
from sqlalchemy import create_engine, inspect, make_url, select, text

from caseapp import create_app
from caseapp.auth.models import User
from caseapp.cases import operations as case_ops
from caseapp.cases.operations.attachments import add_attachment
from caseapp.demo.loader import load_demo
from caseapp.extensions import db
from tests.factories import HouseholdFactory, PersonFactory

PROJECT_DIR = Path(__file__).resolve().parents[2]
COMPARED = ("cases", "audit_events", "attachments", "households", "persons", "steps", "users")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


class Databases:
    """Fresh, empty databases of the run's kind, dropped at the end."""

    def __init__(self, tmp_path: Path, server: str | None) -> None:
        self.tmp, self.created = tmp_path, []
        self.server = server

    def new(self) -> str:
        if not self.server:
            return f"sqlite:///{self.tmp / f'{uuid.uuid4().hex[:8]}.db'}"
        name = f"sinergi_backup_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self._admin(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(self.server).set(database=name).render_as_string(hide_password=False)

    def _admin(self) -> str:
        return make_url(self.server).set(drivername="postgresql", database="postgres").render_as_string(
            hide_password=False)

    def drop(self) -> None:
        if self.created:
            with psycopg.connect(self._admin(), autocommit=True) as admin:
                for name in self.created:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def databases(tmp_path):
    """The run's kind: PostgreSQL in the PostgreSQL pass, SQLite files otherwise."""
    made = Databases(tmp_path, os.environ.get("TEST_POSTGRES_URL"))
    yield made
    made.drop()


@pytest.fixture
def sqlite_databases(tmp_path):
    return Databases(tmp_path, None)


@pytest.fixture
def postgres_databases(tmp_path):
    made = Databases(tmp_path, os.environ["TEST_POSTGRES_URL"])
    yield made
    made.drop()


def make_app(url: str, uploads: Path, monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", url)
    app = create_app("testing")
    app.config["UPLOAD_DIR"] = str(uploads)
    return app


def fill(app) -> dict:
    """Migrate, load reference data and users, then two committed cases with audit events and files."""
    with app.app_context():
        upgrade(directory=str(PROJECT_DIR / "migrations"))
        load_demo(db.session, households=0, progress=lambda _msg: None)
        session = db.session
        worker = session.scalar(select(User).where(User.email == "worker@sinergi.test"))
        supervisor = session.scalar(select(User).where(User.email == "supervisor@sinergi.test"))
        for reason in ("Atap bocor", "Anak putus sekolah"):
            household = PersonFactory(household=HouseholdFactory()).household
            case = case_ops.create_referral(session, actor=worker, household=household, source="OUTREACH",
                                            reason=reason)
            case_ops.transition_case(session, case, "accept_referral", supervisor, version=case.version,
                                     assignee_id=worker.id)
            add_attachment(session, actor=worker, case=case, filename="surat.pdf",
                           data=b"%PDF-1.4\n" + os.urandom(2048) + b"\n%%EOF\n")
            add_attachment(session, actor=worker, case=case, filename="rumah.png", data=_png())
        session.commit()
        db.session.remove()


def snapshot(url: str, uploads: Path) -> dict:
    """Every row of the compared tables, in id order, and the bytes of every attachment."""
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg") if url.startswith("postgresql")
                           else url)
    try:
        with engine.connect() as connection:
            rows = {table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
                    for table in COMPARED}
            names = [name for (name,) in connection.execute(text("SELECT storage_name FROM attachments"))]
    finally:
        engine.dispose()
    return {"rows": rows, "files": {name: (uploads / name).read_bytes() for name in names}}


@pytest.mark.postgres
def test_pg_dump_backup_restores_into_a_fresh_postgresql_database(postgres_databases, tmp_path, monkeypatch):
    round_trip(postgres_databases, tmp_path, monkeypatch)


def test_sqlite_copy_backup_restores_into_a_fresh_sqlite_database(sqlite_databases, tmp_path, monkeypatch):
    round_trip(sqlite_databases, tmp_path, monkeypatch)


def round_trip(databases, tmp_path, monkeypatch):
    source_url, target_url = databases.new(), databases.new()
    source_uploads, target_uploads = tmp_path / "uploads-source", tmp_path / "uploads-target"
    source = make_app(source_url, source_uploads, monkeypatch)
    fill(source)
    before = snapshot(source_url, source_uploads)
    assert len(before["rows"]["cases"]) == 2 and len(before["files"]) == 4
    assert len(before["rows"]["audit_events"]) >= 6

    result = source.test_cli_runner().invoke(args=["backup", "create", "--output", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    [backup] = (tmp_path / "backups").iterdir()
    assert f"Backup written: {backup}" in result.output
    manifest = json.loads((backup / "manifest.json").read_text())
    dump = "database.dump" if source_url.startswith("postgresql") else "database.sqlite3"
    assert set(manifest["files"]) == {dump, "attachments.tar.gz"}
    assert manifest["counts"]["cases"] == 2 and manifest["counts"]["attachments"] == 4
    assert oct(backup.stat().st_mode & 0o777) == "0o700"
    with source.app_context():
        db.engine.dispose()

    target = make_app(target_url, target_uploads, monkeypatch)
    runner = target.test_cli_runner()
    assert runner.invoke(args=["backup", "verify", str(backup)]).exit_code == 0
    result = runner.invoke(args=["backup", "restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output and "cases=2" in result.output

    assert snapshot(target_url, target_uploads) == before
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "Audit trail intact" in result.output, result.output
    # The restored database serves: at head, readable.
    assert target.test_client().get("/readyz").status_code == 200

    # A second restore into the now non-empty database is refused without --clean.
    result = runner.invoke(args=["backup", "restore", str(backup), "--yes"])
    assert result.exit_code == 1 and "already has tables" in result.output
    with target.app_context():
        db.engine.dispose()


def test_a_damaged_backup_is_refused_before_anything_is_restored(databases, tmp_path, monkeypatch):
    source_url = databases.new()
    source = make_app(source_url, tmp_path / "uploads", monkeypatch)
    with source.app_context():
        upgrade(directory=str(PROJECT_DIR / "migrations"))
    result = source.test_cli_runner().invoke(args=["backup", "create", "--output", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    [backup] = (tmp_path / "backups").iterdir()
    with (backup / "attachments.tar.gz").open("ab") as handle:
        handle.write(b"x")
    with source.app_context():
        db.engine.dispose()

    target_url = databases.new()
    target = make_app(target_url, tmp_path / "uploads-target", monkeypatch)
    result = target.test_cli_runner().invoke(args=["backup", "restore", str(backup), "--yes"])
    assert result.exit_code == 1
    assert "attachments.tar.gz does not match its checksum" in result.output
    with target.app_context():
        assert inspect(db.engine).get_table_names() == []
        db.engine.dispose()


def test_a_restore_with_other_encryption_keys_is_refused(databases, tmp_path, monkeypatch):
    source = make_app(databases.new(), tmp_path / "uploads", monkeypatch)
    with source.app_context():
        upgrade(directory=str(PROJECT_DIR / "migrations"))
    assert source.test_cli_runner().invoke(args=["backup", "create", "--output", str(tmp_path / "b")]).exit_code == 0
    [backup] = (tmp_path / "b").iterdir()
    with source.app_context():
        db.engine.dispose()
    target = make_app(databases.new(), tmp_path / "uploads-target", monkeypatch)
    target.config["ENCRYPTION_KEY"] = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMDA="
    result = target.test_cli_runner().invoke(args=["backup", "restore", str(backup), "--yes"])
    assert result.exit_code == 1 and "ENCRYPTION_KEY does not include the key" in result.output
    with target.app_context():
        db.engine.dispose()
