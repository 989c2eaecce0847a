"""POST /api/v1/auth/token and GET /api/v1/me, as DESIGN.md §6 describes them."""

from __future__ import annotations

import pytest

from tests.helpers import DEMO_PASSWORD, MFA_USERS, login, totp_code

DEMO_USERS = {
    "admin@sinergi.test": ("admin", None),
    "supervisor@sinergi.test": ("supervisor", "DINSOS"),
    "worker@sinergi.test": ("social_worker", "DINSOS"),
    "worker2@sinergi.test": ("social_worker", "DINSOS"),
    "dokter@sinergi.test": ("agency_officer", "DINKES"),
    "rumah@sinergi.test": ("agency_officer", "DPKP"),
    "viewer@sinergi.test": ("viewer", "BAPPEDA"),
}


def get_token(client, email, **extra):
    body = {"email": email, "password": DEMO_PASSWORD, **extra}
    if email in MFA_USERS and "totp" not in extra:
        body["totp"] = totp_code()
    return client.post("/api/v1/auth/token", json=body)


@pytest.mark.parametrize("email", sorted(DEMO_USERS))
def test_token_then_me_for_every_demo_user(client, email):
    response = get_token(client, email)
    assert response.status_code == 200, response.json
    token = response.json["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    role, agency = DEMO_USERS[email]
    assert me.json["email"] == email
    assert me.json["role"] == role
    assert (me.json["agency"] or {}).get("code") == agency
    assert isinstance(me.json["id"], int)


def test_bad_password_is_401_in_the_error_shape(client):
    response = client.post("/api/v1/auth/token", json={"email": "worker@sinergi.test", "password": "not-the-password"})
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert response.json["message"]
    assert response.json["fields"] == {}


@pytest.mark.parametrize("email", sorted(MFA_USERS))
def test_mfa_roles_without_or_with_a_wrong_code_get_totp_required(client, email):
    missing = client.post("/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD})
    assert missing.status_code == 401
    assert missing.json["error"] == "totp_required"
    wrong = client.post("/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD, "totp": "000000"})
    if wrong.status_code == 200:  # 000000 can be the real code once in a million
        return
    assert wrong.status_code == 401
    assert wrong.json["error"] == "totp_required"


def test_a_totp_code_is_accepted_once_only(client):
    code = totp_code()
    first = get_token(client, "supervisor@sinergi.test", totp=code)
    assert first.status_code == 200
    replay = get_token(client, "supervisor@sinergi.test", totp=code)
    assert replay.status_code == 401
    assert replay.json["error"] == "totp_required"


def test_repeated_failures_lock_the_account_with_429(client):
    for _ in range(6):
        client.post("/api/v1/auth/token", json={"email": "worker2@sinergi.test", "password": "wrong-password-x"})
    locked = client.post("/api/v1/auth/token", json={"email": "worker2@sinergi.test", "password": DEMO_PASSWORD})
    assert locked.status_code == 429
    assert locked.json["error"] == "too_many_requests"


def test_unknown_fields_are_refused_with_422_naming_the_field(client):
    response = client.post(
        "/api/v1/auth/token", json={"email": "worker@sinergi.test", "password": DEMO_PASSWORD, "role": "admin"}
    )
    assert response.status_code == 422
    assert "role" in response.json["fields"]


def test_me_without_or_with_a_bad_token_is_401(client):
    assert client.get("/api/v1/me").status_code == 401
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"


def test_api_ignores_the_session_cookie(client):
    """The API takes bearer tokens only, so a browser's cookie cannot be ridden (no CSRF on the API)."""
    login(client, "worker@sinergi.test")
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_openapi_document_is_public_and_lists_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert spec.json["openapi"].startswith("3.")
    assert {"/api/v1/auth/token", "/api/v1/me"} <= set(spec.json["paths"])
