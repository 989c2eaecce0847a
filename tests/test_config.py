"""Configuration modes: production refuses to start without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from caseapp import create_app
from caseapp.core.crypto import generate_key
from config import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent
GOOD = {
    "SECRET_KEY": "x" * 48,
    "DATABASE_URL": "postgresql://sinergi@127.0.0.1:5432/sinergi",
    "ENCRYPTION_KEY": generate_key(),
    "BLIND_INDEX_KEY": generate_key(),
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "ENCRYPTION_KEY", "BLIND_INDEX_KEY"])
def test_production_refuses_to_start_without(monkeypatch, missing):
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        create_app("production")


def test_production_refuses_a_short_secret_key_and_sqlite(monkeypatch):
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app("production")
    monkeypatch.setenv("SECRET_KEY", "y" * 48)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///prod.db")
    with pytest.raises(ConfigError, match="PostgreSQL"):
        create_app("production")


def test_production_starts_with_everything_set_and_secure_cookies(monkeypatch):
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert not app.debug


def test_the_real_entry_point_exits_with_a_clear_message():
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env["SINERGI_ENV"] = "production"
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "DATABASE_URL" in result.stderr
