"""Users screens: invitation by one-time link, edit, deactivate/reactivate, resets, delete refused."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from caseapp.auth.models import TokenPurpose, UserToken
from caseapp.cases.models import Case, CaseStatus, Stage
from caseapp.extensions import db
from tests.admin.conftest import LINK_RE, events, post, user
from tests.factories import CaseFactory, UserFactory
from tests.helpers import DEMO_PASSWORD, csrf_token, login

NEW_USER = {"email": "Siti.Baru@Sinergi.test", "full_name": "Siti Baru", "role": "social_worker", "agency": "DINSOS",
            "kecamatan_code": "35.71.01", "kelurahan_code": "35.71.01.1001", "phone": "+6281234567890",
            "locale": "en"}
NEW_PASSWORD = "pohon-mangga-berbuah-lebat-7"


def test_list_and_search(admin_client):
    page = admin_client.get("/admin/users/?q=worker2")
    assert page.status_code == 200
    assert "worker2@sinergi.test" in page.text and "dokter@sinergi.test" not in page.text
    inactive = admin_client.get("/admin/users/?status=inactive")
    assert "worker@sinergi.test" not in inactive.text


def test_invite_user_sets_own_password_through_one_time_link(app, admin_client):
    response = post(admin_client, "/admin/users/new", NEW_USER, form_page="/admin/users/new")
    assert response.status_code == 200, response.text
    link = LINK_RE.search(response.text).group(1)
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        created = user("siti.baru@sinergi.test")
        assert (created.role, created.agency.code, created.kelurahan_code, created.phone, created.locale) == (
            "social_worker", "DINSOS", "35.71.01.1001", "+6281234567890", "en")
        assert created.password_hash is None
        row = db.session.scalar(select(UserToken).where(UserToken.user_id == created.id))
        # Only the hash is stored, never the token itself.
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
        assert row.purpose == TokenPurpose.INVITE
        audit = events("create_user", "user")[-1]
        assert audit.object_id == created.id and audit.after["email"] == "siti.baru@sinergi.test"

    client = app.test_client()
    opened = client.get(link)
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/welcome/")
    form = client.get("/welcome/")
    assert "Siti Baru" in form.text
    weak = client.post("/welcome/", data={"password": "short", "password_again": "short",
                                          "csrf_token": csrf_token(form.text)})
    assert weak.status_code == 422
    done = client.post("/welcome/", data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD,
                                          "csrf_token": csrf_token(form.text)})
    assert done.status_code == 302 and "/login" in done.headers["Location"]
    assert client.get(link).status_code == 302 and client.get("/welcome/").status_code == 404  # used once only
    assert login(client, "siti.baru@sinergi.test", NEW_PASSWORD).status_code == 302
    assert client.get("/cases/my-work").status_code == 200


def test_invalid_input_names_the_field_and_creates_nothing(app, admin_client):
    bad = {**NEW_USER, "email": "not-an-email", "role": "agency_officer", "agency": "", "phone": "abc"}
    response = post(admin_client, "/admin/users/new", bad, form_page="/admin/users/new")
    assert response.status_code == 422
    assert "Alamat e-mail tidak valid." in response.text
    assert "Petugas dinas harus punya dinas" in response.text
    assert "Nomor telepon" in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UserToken)) == 0


def test_edit_user_is_audited_with_before_and_after(app, admin_client):
    with app.app_context():
        target = user("worker2@sinergi.test")
        values = {"email": target.email, "full_name": "Nama Diperbaiki", "role": "social_worker",
                  "agency": target.agency.code if target.agency else "", "kecamatan_code": target.kecamatan_code or "",
                  "kelurahan_code": target.kelurahan_code or "", "phone": "0812-3456-7890", "locale": "id"}
        target_id = target.id
    response = post(admin_client, f"/admin/users/{target_id}", values, form_page=f"/admin/users/{target_id}")
    assert response.status_code == 302
    with app.app_context():
        event = events("update_user", "user")[-1]
        assert event.before["full_name"] != "Nama Diperbaiki" and event.after["full_name"] == "Nama Diperbaiki"
        assert event.after["phone"] == "0812-3456-7890"


def test_deactivation_refused_while_the_worker_holds_cases(app, admin_client):
    with app.app_context():
        worker = user("worker@sinergi.test")
        CaseFactory(owner_id=worker.id)
        worker_id = worker.id
        db.session.commit()
    response = post(admin_client, f"/admin/users/{worker_id}/deactivate")
    assert response.status_code == 302
    page = admin_client.get(f"/admin/users/{worker_id}")
    assert "masih memegang kasus" in page.text, page.text[page.text.find("<main"):page.text.find("<main")+1500]
    with app.app_context():
        assert user("worker@sinergi.test").active


def test_deactivate_ends_sessions_and_reactivate(app, admin_client):
    other = app.test_client()
    assert login(other, "viewer@sinergi.test").status_code == 302
    assert other.get("/reports/").status_code == 200
    with app.app_context():
        viewer_id = user("viewer@sinergi.test").id
    assert post(admin_client, f"/admin/users/{viewer_id}/deactivate").status_code == 302
    assert other.get("/reports/").status_code == 302  # the session is dead: back to login
    assert login(other, "viewer@sinergi.test").status_code == 200  # inactive: refused
    assert post(admin_client, f"/admin/users/{viewer_id}/reactivate").status_code == 302
    assert login(other, "viewer@sinergi.test").status_code == 302
    with app.app_context():
        assert [e.after for e in events("deactivate_user")][-1] == {"active": False}
        assert [e.after for e in events("activate_user")][-1] == {"active": True}


def test_admin_cannot_deactivate_themselves(app, admin_client):
    with app.app_context():
        admin_id = user("admin@sinergi.test").id
    post(admin_client, f"/admin/users/{admin_id}/deactivate")
    assert "akun Anda sendiri" in admin_client.get(f"/admin/users/{admin_id}").text


def test_reset_password_voids_the_old_one_and_shows_a_link_once(app, admin_client):
    client = app.test_client()
    with app.app_context():
        viewer_id = user("viewer@sinergi.test").id
    response = post(admin_client, f"/admin/users/{viewer_id}/reset-password")
    assert response.status_code == 200
    link = LINK_RE.search(response.text).group(1)
    assert login(client, "viewer@sinergi.test", DEMO_PASSWORD).status_code == 200  # old password gone
    client.get(link)
    form = client.get("/welcome/")
    client.post("/welcome/", data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD,
                                   "csrf_token": csrf_token(form.text)})
    assert login(client, "viewer@sinergi.test", NEW_PASSWORD).status_code == 302


def test_reset_second_factor(app, admin_client):
    with app.app_context():
        supervisor = user("supervisor@sinergi.test")
        assert supervisor.has_totp
        supervisor_id = supervisor.id
    post(admin_client, f"/admin/users/{supervisor_id}/reset-totp")
    with app.app_context():
        assert not user("supervisor@sinergi.test").has_totp
        assert events("reset_totp")[-1].before == {"has_totp": True}


def test_user_named_by_cases_or_audit_is_never_deleted(app, admin_client):
    with app.app_context():
        worker = user("worker@sinergi.test")
        CaseFactory(owner_id=worker.id, stage=Stage.CLOSED, status=CaseStatus.CLOSED)
        worker_id = worker.id
        fresh = UserFactory()
        fresh_id = fresh.id
        db.session.commit()
    post(admin_client, f"/admin/users/{worker_id}/delete")
    assert "tidak dapat dihapus" in admin_client.get(f"/admin/users/{worker_id}").text
    with app.app_context():
        assert user("worker@sinergi.test") is not None
        assert db.session.scalar(select(func.count()).select_from(Case).where(Case.owner_id == worker_id)) == 1
    assert post(admin_client, f"/admin/users/{fresh_id}/delete").status_code == 302
    with app.app_context():
        assert events("delete_user")[-1].object_id == fresh_id


def test_last_active_admin_cannot_lose_the_role(app, admin_client):
    with app.app_context():
        admin = user("admin@sinergi.test")
        values = {"email": admin.email, "full_name": admin.full_name, "role": "viewer", "locale": "id"}
        admin_id = admin.id
    response = post(admin_client, f"/admin/users/{admin_id}", values, form_page=f"/admin/users/{admin_id}")
    assert response.status_code == 422 and "admin aktif terakhir" in response.text


def test_non_admin_gets_403(client):
    login(client, "supervisor@sinergi.test")
    assert client.get("/admin/users/").status_code == 403
    assert client.get("/admin/audit/").status_code == 403


def test_issuing_a_link_is_audited_without_the_token(app, admin_client):
    with app.app_context():
        viewer_id = user("viewer@sinergi.test").id
    response = post(admin_client, f"/admin/users/{viewer_id}/reset-password")
    token = LINK_RE.search(response.text).group(1).rsplit("/", 1)[1]
    with app.app_context():
        event = events("issue_user_link")[-1]
        assert event.object_id == viewer_id and event.after["purpose"] == "reset"
        assert token not in str(event.after) and token not in str(event.before)
