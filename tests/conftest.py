"""Test fixtures: one migrated database per run, each test inside a rolled-back transaction.

Which database: SQLite in a temporary file by default; PostgreSQL when ``TEST_POSTGRES_URL``
names a server (a fresh database is created for the run and dropped after). A service the run was
told to use and cannot reach fails the run; it is never skipped.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession
from hypothesis import settings
from sqlalchemy import make_url

from caseapp import create_app
from caseapp.demo.loader import load_demo
from caseapp.extensions import db, limiter

# Every log record and audit row of the whole run is scanned for planted secrets at the end.
pytest_plugins = ["tests.security.log_capture"]

settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _admin_conninfo(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` or ``redis`` belong to the run that has those services.

    They are deselected (not skipped) in the SQLite-only run; in a run that names the service,
    an unreachable service fails the fixtures instead.
    """
    missing = set()
    if not os.environ.get("TEST_POSTGRES_URL"):
        missing.add("postgres")
    if not os.environ.get("TEST_REDIS_URL"):
        missing.add("redis")
    keep, dropped = [], []
    for item in items:
        (dropped if missing & {m.name for m in item.iter_markers()} else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_header(config):
    database = os.environ.get("TEST_POSTGRES_URL") or "SQLite (temporary file)"
    return f"database: {database}; redis: {os.environ.get('TEST_REDIS_URL') or 'none'}"


class ConnectionBoundSession(FlaskSQLAlchemySession):
    """Flask-SQLAlchemy's session picks an engine per table and would ignore ``bind=connection``:
    the test's outer transaction then would not see (or roll back) what the code wrote."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return bind or self.bind or super().get_bind(mapper, clause, bind, **kwargs)


@pytest.fixture(scope="session")
def database_url():
    server = os.environ.get("TEST_POSTGRES_URL")
    if not server:
        with tempfile.TemporaryDirectory(prefix="sinergi-test-") as tmp:
            yield f"sqlite:///{tmp}/test.db"
        return
    name = f"sinergi_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_admin_conninfo(server), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"TEST_POSTGRES_URL={server} is set but PostgreSQL is unreachable: {exc}", pytrace=False)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def redis_url():
    """The Redis of this run, or None; set but unreachable fails the run."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=3)
            client.ping()
            # The run's own database number: start empty, so queued messages of earlier runs don't pile up.
            client.flushdb()
            client.close()
        except redis.RedisError as exc:
            pytest.fail(f"TEST_REDIS_URL={url} is set but Redis is unreachable: {exc}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def app(database_url, redis_url):
    os.environ["TEST_DATABASE_URL"] = database_url
    application = create_app("testing")
    application.config["UPLOAD_DIR"] = tempfile.mkdtemp(prefix="sinergi-uploads-")
    # No app context stays pushed: a request would reuse it, and with it ``g`` (CSRF token,
    # logged-in user) from the previous request. Tests that call code directly use ``ctx``.
    with application.app_context():
        upgrade(directory=str(PROJECT_DIR / "migrations"))
        load_demo(db.session, households=0, progress=lambda _msg: None)
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def session(app):
    """``db.session`` bound to one connection whose outer transaction is rolled back after the test.

    Code under test may commit: with ``create_savepoint`` a commit only releases a savepoint.
    """
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    original = db.session
    db.session = db._make_scoped_session(
        {"class_": ConnectionBoundSession, "bind": connection, "join_transaction_mode": "create_savepoint"}
    )
    try:
        yield db.session
    finally:
        with app.app_context():
            db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def ctx(app, session):
    """An app context for tests that call operations and queries directly (not through HTTP)."""
    with app.app_context():
        yield session


@pytest.fixture
def client(app, session):
    with app.app_context():
        limiter.reset()  # each test starts with fresh per-address login counters
    return app.test_client()
