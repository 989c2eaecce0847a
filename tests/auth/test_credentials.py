"""Credentials (ASVS 6.x, 11.4.2, 16.3.1): argon2id with rehash, the password list, throttling, login log."""

from __future__ import annotations

import json
from pathlib import Path

from argon2 import PasswordHasher
from flask_migrate import upgrade
from sqlalchemy import func, select

from caseapp import create_app
from caseapp.auth.models import User
from caseapp.auth.passwords import password_problems
from caseapp.core.audit import AccessKind, AccessLog
from caseapp.extensions import db, limiter
from tests.helpers import DEMO_PASSWORD, csrf_token, login

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_hashes_are_argon2id_and_old_parameters_are_rehashed_at_login(app, client):
    with app.app_context():
        worker = db.session.scalar(select(User).where(User.email == "worker@sinergi.test"))
        worker.password_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(DEMO_PASSWORD)
        db.session.commit()
        old = worker.password_hash
    assert login(client, "worker@sinergi.test").status_code == 302
    with app.app_context():
        new = db.session.scalar(select(User.password_hash).where(User.email == "worker@sinergi.test"))
    assert new != old and new.startswith("$argon2id$") and "t=1" in new


def test_length_common_and_context_passwords(app):
    with app.test_request_context():
        assert password_problems("kopi tubruk pagi hari") == []
        assert password_problems("x" * 11)                                 # < 12
        assert password_problems("sebuah kalimat panjang sekali " * 2 + "ok!!") == []   # 64 accepted
        assert password_problems("a" * 129)                                # > 128
        assert password_problems("password1234")                           # common list
        assert password_problems("dinsoskediri2025")                       # context words
        assert password_problems("budisantoso99", email="budisantoso@sinergi.test")


def test_login_attempts_from_one_address_are_throttled(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.99.0.1"   # its own address: other tests are not throttled
    try:
        page = client.get("/login")
        limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
        statuses = [client.post("/login", data={"email": f"nobody{i}@sinergi.test", "password": "x" * 12,
                                                "csrf_token": csrf_token(page.text)}).status_code
                    for i in range(limit + 1)]
        assert statuses[:limit] == [200] * limit
        assert statuses[limit] == 429
    finally:
        limiter.reset()


def test_every_login_and_failure_is_logged_without_the_password(app, client):
    login(client, "worker@sinergi.test", "wrong-password-123")
    login(client, "worker@sinergi.test")
    with app.app_context():
        rows = db.session.scalars(select(AccessLog).where(AccessLog.kind.in_([AccessKind.LOGIN,
                                                                               AccessKind.LOGIN_FAILED]))
                                  .order_by(AccessLog.id)).all()
        kinds = [r.kind for r in rows]
        assert kinds[-2:] == [AccessKind.LOGIN_FAILED, AccessKind.LOGIN]
        assert all(r.occurred_at and r.ip_address for r in rows[-2:])
        text = json.dumps([r.detail for r in rows])
    assert "wrong-password-123" not in text and DEMO_PASSWORD not in text


def test_a_fresh_install_has_no_account(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh = create_app("testing")
    with fresh.app_context():
        upgrade(directory=str(PROJECT_DIR / "migrations"))
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        db.session.remove()


def test_login_starts_a_new_session(client):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "fixation attempt"
    assert login(client, "worker@sinergi.test").status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session and "_user_id" in session


def test_remember_me_is_never_set(client):
    response = login(client, "worker@sinergi.test")
    assert "remember_token" not in response.headers.get("Set-Cookie", "")
    assert client.get_cookie("remember_token") is None
