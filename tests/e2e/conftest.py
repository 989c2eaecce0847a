"""A real server and a real browser for the journey tests.

The app is served by Werkzeug's threaded WSGI server on 127.0.0.1 (a free port) from a thread of
the test process, on its own database: a fresh SQLite file, or a fresh PostgreSQL database when
``TEST_POSTGRES_URL`` is set (created here and dropped afterwards). Nothing the browser commits
reaches the database the rest of the suite shares.

The browser is Debian's Chromium (``/usr/bin/chromium``, installed by ``.ci/run``) driven by
Playwright for Python; Playwright never downloads a browser here. Without Chromium the tests skip
on a developer's machine and fail in CI (``CI=true``).
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import make_url
from werkzeug.serving import make_server

from caseapp import create_app
from caseapp.demo.loader import load_demo
from caseapp.extensions import db

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def e2e_database_url():
    server = os.environ.get("TEST_POSTGRES_URL")
    if not server:
        with tempfile.TemporaryDirectory(prefix="sinergi-e2e-") as tmp:
            yield f"sqlite:///{tmp}/e2e.db"
        return
    name = f"sinergi_e2e_{uuid.uuid4().hex[:10]}"
    admin_url = make_url(server).set(drivername="postgresql", database="postgres")
    admin = psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def live_app(app, e2e_database_url):
    """A second app object (testing config) on the e2e database, migrated and with the demo users.

    Depends on ``app`` so the suite's own app exists first; the environment variable both read is
    put back afterwards.
    """
    previous = os.environ.get("TEST_DATABASE_URL")
    os.environ["TEST_DATABASE_URL"] = e2e_database_url
    try:
        application = create_app("testing")
    finally:
        if previous is not None:
            os.environ["TEST_DATABASE_URL"] = previous
    application.config["UPLOAD_DIR"] = tempfile.mkdtemp(prefix="sinergi-e2e-uploads-")
    with application.app_context():
        upgrade(directory=str(PROJECT_DIR / "migrations"))
        load_demo(db.session, households=0, progress=lambda _msg: None)
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    """``http://127.0.0.1:<port>``: a real HTTP server process thread answering the browser."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()
