"""Sensitive re-authentication (ASVS 7.5.1): e-mail and second-factor changes need the password again."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.core.audit import AuditEvent
from caseapp.extensions import db
from tests.helpers import DEMO_PASSWORD, csrf_token, login, totp_code


def _confirm(client, password=DEMO_PASSWORD, code=None, next_path="/account/email"):
    page = client.get(f"/account/confirm?next={next_path}")
    data = {"password": password, "csrf_token": csrf_token(page.text)}
    if code is not None:
        data["code"] = code
    return client.post(f"/account/confirm?next={next_path}", data=data)


_APP = {}


@pytest.fixture(autouse=True)
def _remember_app(app):
    _APP["app"] = app


def db_context():
    return _APP["app"].app_context()


def _user(email):
    with db_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def _audit(action, object_id):
    with db_context():
        return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action,
                                                          AuditEvent.object_id == object_id))


def test_changing_email_without_fresh_password_is_sent_to_confirm(client):
    login(client, "worker@sinergi.test")
    response = client.get("/account/email")
    assert response.status_code == 302
    assert "/account/confirm" in response.headers["Location"]
    # A POST straight at the form is refused the same way, and nothing changes.
    page = client.get("/account")
    response = client.post("/account/email", data={"email": "baru@sinergi.test", "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and "/account/confirm" in response.headers["Location"]
    assert _user("baru@sinergi.test") is None


def test_wrong_password_does_not_confirm_and_counts_as_a_failure(client):
    login(client, "worker@sinergi.test")
    response = _confirm(client, password="not-my-password-123")
    assert response.status_code == 200
    assert "Kata sandi atau kode salah" in response.text
    assert client.get("/account/email").status_code == 302
    assert _user("worker@sinergi.test").failed_logins == 1


def test_email_change_after_confirmation_is_audited_and_used_for_login(client):
    login(client, "worker@sinergi.test")
    response = _confirm(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/email")
    page = client.get("/account/email")
    assert page.status_code == 200
    response = client.post("/account/email", data={"email": " Pekerja.Baru@Sinergi.test ",
                                                    "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    user = _user("pekerja.baru@sinergi.test")
    assert user is not None
    event = _audit("change_email", user.id)
    assert event.before == {"email": "worker@sinergi.test"}
    assert event.after == {"email": "pekerja.baru@sinergi.test"}
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    assert login(client, "pekerja.baru@sinergi.test").status_code == 302
    assert client.get("/account").status_code == 200


def test_email_taken_or_malformed_is_refused_naming_the_field(client):
    login(client, "worker@sinergi.test")
    _confirm(client)
    page = client.get("/account/email")
    response = client.post("/account/email", data={"email": "worker2@sinergi.test",
                                                    "csrf_token": csrf_token(page.text)})
    assert response.status_code == 200
    assert "E-mail ini sudah dipakai pengguna lain." in response.text
    assert _user("worker@sinergi.test") is not None


def test_confirmation_expires_after_the_window(app, client):
    login(client, "worker@sinergi.test")
    _confirm(client)
    assert client.get("/account/email").status_code == 200
    window = app.config["REAUTH_WINDOW"].total_seconds()
    with client.session_transaction() as sess:
        sess["reauth_at"] -= window + 1
    response = client.get("/account/email")
    assert response.status_code == 302 and "/account/confirm" in response.headers["Location"]


def test_a_fresh_login_alone_does_not_count(client):
    login(client, "supervisor@sinergi.test")  # password and TOTP seconds ago
    assert "/account/confirm" in client.get("/account/totp").headers["Location"]


def test_enrolled_user_must_also_give_a_totp_code(client):
    login(client, "supervisor@sinergi.test")
    response = _confirm(client, next_path="/account/totp")
    assert response.status_code == 200
    assert "Isi kode 6 angka" in response.text
    assert client.get("/account/totp").status_code == 302
    # The code used at login was spent; the next time step is accepted once.
    response = _confirm(client, code=totp_code(1), next_path="/account/totp")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/totp")
    assert client.get("/account/totp").status_code == 200


def test_replacing_the_second_factor_needs_a_code_from_the_new_app(client):
    login(client, "supervisor@sinergi.test")
    _confirm(client, code=totp_code(1), next_path="/account/totp")
    page = client.get("/account/totp")
    secret = page.text.split('name="secret" type="hidden" value="')[1].split('"')[0]
    bad = client.post("/account/totp", data={"secret": secret, "code": "000000", "csrf_token": csrf_token(page.text)})
    assert bad.status_code == 200 and "Kode tidak cocok" in bad.text
    good = client.post("/account/totp", data={"secret": secret, "code": pyotp.TOTP(secret).now(),
                                               "csrf_token": csrf_token(page.text)})
    assert good.status_code == 302
    user = _user("supervisor@sinergi.test")
    assert _audit("replace_totp", user.id) is not None
    # The old authenticator no longer logs in; the new one does.
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    page = client.get("/login")
    client.post("/login", data={"email": "supervisor@sinergi.test", "password": DEMO_PASSWORD,
                                "csrf_token": csrf_token(page.text)})
    page = client.get("/login/totp")
    old_app = client.post("/login/totp", data={"code": totp_code(2), "csrf_token": csrf_token(page.text)})
    assert old_app.status_code == 200
    response = client.post("/login/totp", data={"code": pyotp.TOTP(secret).at(time.time() + 30),
                                                 "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302


def test_worker_without_totp_can_enrol_after_confirming(client):
    login(client, "worker@sinergi.test")
    _confirm(client, next_path="/account/totp")
    page = client.get("/account/totp")
    assert "Atur verifikasi dua langkah" in page.text
    secret = page.text.split('name="secret" type="hidden" value="')[1].split('"')[0]
    response = client.post("/account/totp", data={"secret": secret, "code": pyotp.TOTP(secret).now(),
                                                   "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert _user("worker@sinergi.test").has_totp
