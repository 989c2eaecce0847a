"""``/api/v1/admin/users`` (DESIGN.md §6): admins list, create and change users; others get 403."""

from __future__ import annotations

from tests.admin.conftest import events, user
from tests.helpers import DEMO_PASSWORD, MFA_USERS, totp_code


def token(client, email: str) -> dict:
    body = {"email": email, "password": DEMO_PASSWORD}
    if email in MFA_USERS:
        body["totp"] = totp_code()
    answer = client.post("/api/v1/auth/token", json=body)
    assert answer.status_code == 200, answer.json
    return {"Authorization": f"Bearer {answer.json['token']}"}


def test_admin_lists_creates_and_patches_users(app, client):
    admin = token(client, "admin@sinergi.test")
    listing = client.get("/api/v1/admin/users?q=worker", headers=admin)
    assert listing.status_code == 200 and {u["email"] for u in listing.json["items"]} >= {"worker@sinergi.test"}

    created = client.post("/api/v1/admin/users", headers=admin, json={
        "email": "petugas.baru@sinergi.test", "full_name": "Petugas Baru", "role": "agency_officer",
        "agency": "DINKES"})
    assert created.status_code == 201, created.json
    assert created.json["has_password"] is False and "/welcome/" in created.json["invite_url"]

    bad = client.post("/api/v1/admin/users", headers=admin, json={
        "email": "x", "full_name": "X", "role": "agency_officer"})
    assert bad.status_code == 422
    assert set(bad.json["fields"]) >= {"email", "agency"}

    with_password = client.post("/api/v1/admin/users", headers=admin, json={
        "email": "viewer.baru@sinergi.test", "full_name": "Pemantau Baru", "role": "viewer",
        "password": "kopi-tubruk-di-pagi-hari-9"})
    assert with_password.status_code == 201 and with_password.json["has_password"] is True
    assert "invite_url" not in with_password.json
    assert client.post("/api/v1/auth/token", json={"email": "viewer.baru@sinergi.test",
                                                   "password": "kopi-tubruk-di-pagi-hari-9"}).status_code == 200

    patched = client.patch(f"/api/v1/admin/users/{created.json['id']}", headers=admin,
                           json={"phone": "+62811111111", "active": False})
    assert patched.status_code == 200 and patched.json["phone"] == "+62811111111" and not patched.json["active"]
    with app.app_context():
        assert events("update_user")[-1].after == {"phone": "+62811111111"}
        assert events("deactivate_user")[-1].object_id == created.json["id"]
        worker_id = user("worker@sinergi.test").id
    assert client.patch("/api/v1/admin/users/999999", headers=admin, json={}).status_code == 404
    # The worker holds open cases in the demo? Either way a bad role answers 422 naming the field.
    wrong = client.patch(f"/api/v1/admin/users/{worker_id}", headers=admin, json={"role": "king"})
    assert wrong.status_code == 422 and "role" in wrong.json["fields"]


def test_non_admins_get_403(client):
    supervisor = token(client, "supervisor@sinergi.test")
    assert client.get("/api/v1/admin/users", headers=supervisor).status_code == 403
    assert client.post("/api/v1/admin/users", headers=supervisor, json={}).status_code == 403
