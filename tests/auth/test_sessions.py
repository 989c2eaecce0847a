"""Sessions end when they should: idle and absolute timeouts, password change; MFA enrolment."""

from __future__ import annotations

import re

import pyotp

from tests.helpers import csrf_token, login


def test_idle_session_expires_after_30_minutes(client):
    login(client, "worker@sinergi.test")
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] -= 31 * 60
    response = client.get("/")
    assert response.status_code == 302
    assert "expired=1" in response.headers["Location"]
    assert "Sesi Anda berakhir" in client.get(response.headers["Location"]).text


def test_absolute_lifetime_is_12_hours_even_when_active(client):
    login(client, "worker@sinergi.test")
    with client.session_transaction() as session:
        session["login_at"] -= 12 * 3600 + 1
    assert client.get("/").status_code == 302


def test_password_change_ends_every_session_of_the_user(app, client):
    login(client, "worker@sinergi.test")
    other_device = app.test_client()
    login(other_device, "worker@sinergi.test")
    assert other_device.get("/").status_code == 200
    page = client.get("/account")
    response = client.post("/account", data={
        "current_password": "sinergi-demo-2025", "new_password": "kopi tubruk pagi hari",
        "confirm": "kopi tubruk pagi hari", "csrf_token": csrf_token(page.text),
    })
    assert response.status_code == 302
    assert other_device.get("/").status_code == 302
    assert client.get("/").status_code == 302
    assert login(client, "worker@sinergi.test", "kopi tubruk pagi hari").status_code == 302


def test_a_weak_new_password_is_refused_with_the_reason(client):
    login(client, "worker@sinergi.test")
    page = client.get("/account")
    response = client.post("/account", data={
        "current_password": "sinergi-demo-2025", "new_password": "qwertyqwerty",
        "confirm": "qwertyqwerty", "csrf_token": csrf_token(page.text),
    })
    assert response.status_code == 200
    assert "terlalu umum" in response.text
    assert client.get("/").status_code == 200  # nothing changed, still logged in


def test_a_new_admin_must_enrol_a_second_factor_before_entering(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "baru@kedirikota.go.id", "--role", "admin",
                                 "--password", "lampu merah di simpang lima"])
    assert result.exit_code == 0, result.output
    page = client.get("/login")
    response = client.post("/login", data={"email": "baru@kedirikota.go.id", "password": "lampu merah di simpang lima",
                                           "csrf_token": csrf_token(page.text)})
    assert response.headers["Location"].endswith("/login/enrol")
    assert client.get("/").status_code == 302  # not logged in yet
    enrol = client.get("/login/enrol")
    secret = re.search(r'name="secret" type="hidden" value="([A-Z2-7]+)"', enrol.text).group(1)
    wrong = client.post("/login/enrol", data={"secret": secret, "code": "123456", "csrf_token": csrf_token(enrol.text)})
    assert "Kode tidak cocok" in wrong.text
    done = client.post("/login/enrol", data={
        "secret": secret, "code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(enrol.text)})
    assert done.status_code == 302
    assert client.get("/").status_code == 200
