"""The notification centre, the unread badge, preferences, the admin's failed-deliveries page and the CLI."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.extensions import db
from caseapp.notifications import operations as ops
from caseapp.notifications.models import Channel, DeliveryStatus, Notification, NotificationDelivery
from caseapp.notifications.preferences import preferences_for
from tests.helpers import csrf_token, login


def committed(app, work):
    """Run *work(session)* in an app context of its own and commit (the test's outer transaction stays)."""
    with app.app_context():
        result = work(db.session)
        db.session.commit()
        return result


def user_id(session, email):
    return session.scalar(select(User.id).where(User.email == email))


def notify(app, email, kinds=("assigned",), deliver=True):
    def work(session):
        uid = user_id(session, email)
        ids = ops.write_notifications(session, [ops.Draft(
            recipient_id=uid, kind=kind, case_id=None, link="/cases/1234",
            payload={"case_number": f"KDR-2026-00{n:04d}", "actor": "Sri Wahyuni", "stage": "verification"})
            for n, kind in enumerate(kinds)])
        if deliver:
            ops.deliver_in_app(session, ids)
        return ids
    return committed(app, work)


@pytest.fixture
def quiet(app, monkeypatch):
    """Embedded, with in-process delivery off: rows stay as the test leaves them."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.extensions, "sinergi_local_jobs", {})


def badge(html):
    match = re.search(r'data-unread="(\d+)"', html)
    return int(match.group(1)) if match else 0


def test_the_centre_lists_delivered_notifications_with_an_unread_badge(client, app, quiet):
    notify(app, "worker@sinergi.test", kinds=("assigned", "approved"))
    notify(app, "worker@sinergi.test", kinds=("returned",), deliver=False)  # still in the outbox
    notify(app, "worker2@sinergi.test", kinds=("closed",))                   # someone else's
    login(client, "worker@sinergi.test")
    page = client.get("/notifications/")
    assert page.status_code == 200
    assert "Kasus KDR-2026-000000 ditugaskan kepada Anda" in page.text
    assert "Langkah kasus KDR-2026-000001 disetujui" in page.text
    assert "dikembalikan" not in page.text and "ditutup" not in page.text
    assert badge(page.text) == 2
    assert badge(client.get("/").text) == 2


def test_mark_as_read_is_a_post_with_csrf_and_only_for_ones_own(client, app, quiet):
    mine = notify(app, "worker@sinergi.test", kinds=("assigned", "approved"))
    theirs = notify(app, "worker2@sinergi.test", kinds=("closed",))
    login(client, "worker@sinergi.test")
    page = client.get("/notifications/")
    token = csrf_token(page.text)
    assert client.get(f"/notifications/{mine[0]}/read").status_code == 405  # GET never changes state
    assert client.post(f"/notifications/{mine[0]}/read").status_code == 400  # no CSRF token
    assert client.post(f"/notifications/{theirs[0]}/read", data={"csrf_token": token}).status_code == 404
    response = client.post(f"/notifications/{mine[0]}/read", data={"csrf_token": token})
    assert response.status_code == 302
    assert badge(client.get("/notifications/").text) == 1
    opened = client.post(f"/notifications/{mine[1]}/open", data={"csrf_token": token})
    assert opened.status_code == 302 and opened.headers["Location"] == "/cases/1234"
    assert badge(client.get("/notifications/").text) == 0
    with app.app_context():
        assert db.session.scalar(select(Notification.read_at).where(Notification.id == theirs[0])) is None


def test_mark_all_read(client, app, quiet):
    notify(app, "worker@sinergi.test", kinds=("assigned", "approved", "returned"))
    login(client, "worker@sinergi.test")
    token = csrf_token(client.get("/notifications/").text)
    client.post("/notifications/read-all", data={"csrf_token": token})
    assert badge(client.get("/notifications/").text) == 0


def test_the_open_link_never_leaves_the_site(client, app, quiet):
    [nid] = notify(app, "worker@sinergi.test")
    committed(app, lambda s: s.get(Notification, nid).__setattr__("link", "//evil.example/x"))
    login(client, "worker@sinergi.test")
    token = csrf_token(client.get("/notifications/").text)
    assert client.post(f"/notifications/{nid}/open", data={"csrf_token": token}).headers["Location"] == "/"


def test_preferences_page_saves_the_users_choice(client, app, quiet):
    login(client, "worker@sinergi.test")
    page = client.get("/notifications/preferences")
    assert page.status_code == 200 and "Pengaturan notifikasi" in page.text
    form = {"csrf_token": csrf_token(page.text), "email__assigned": "y", "webhook__assigned": "y",
            "email__digest": "y"}
    assert client.post("/notifications/preferences", data=form).status_code == 302
    with app.app_context():
        worker = db.session.scalar(select(User).where(User.email == "worker@sinergi.test"))
        prefs = preferences_for(db.session, worker)
    assert prefs["assigned"] == {Channel.EMAIL: True, Channel.WEBHOOK: True}
    assert prefs["digest"] == {Channel.EMAIL: True, Channel.WEBHOOK: False}
    assert prefs["overdue"] == {Channel.EMAIL: False, Channel.WEBHOOK: False}


def failed_delivery(app, email="worker@sinergi.test", error="SMTP server 127.0.0.1:2525 unavailable"):
    def work(session):
        [nid] = ops.write_notifications(session, [ops.Draft(recipient_id=user_id(session, email), kind="overdue",
                                                            payload={"case_number": "KDR-2026-000042"})])
        row = NotificationDelivery(notification_id=nid, channel=Channel.EMAIL, status=DeliveryStatus.FAILED,
                                   attempts=8, last_error=error)
        session.add(row)
        session.flush()
        return row.id
    return committed(app, work)


def test_failed_deliveries_are_shown_to_admins_with_a_retry_button(client, app, quiet):
    delivery_id = failed_delivery(app)
    login(client, "admin@sinergi.test")
    landing = client.get("/admin/")
    assert landing.status_code == 200 and "/admin/deliveries" in landing.text
    page = client.get("/admin/deliveries")
    assert page.status_code == 200
    assert "SMTP server 127.0.0.1:2525 unavailable" in page.text and "worker@sinergi.test" in page.text
    assert f"/admin/deliveries/{delivery_id}/retry" in page.text
    assert client.get(f"/admin/deliveries/{delivery_id}/retry").status_code == 405
    response = client.post(f"/admin/deliveries/{delivery_id}/retry", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(NotificationDelivery, delivery_id)
        assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 0)
    assert client.post(f"/admin/deliveries/{delivery_id}/retry",
                       data={"csrf_token": csrf_token(page.text)}).status_code == 404  # no longer failed


@pytest.mark.parametrize("email", ["worker@sinergi.test", "viewer@sinergi.test"])
def test_only_admins_see_the_admin_pages(client, app, quiet, email):
    login(client, email)
    assert client.get("/admin/deliveries").status_code == 403
    assert client.get("/admin/").status_code == 403


def test_cli_retry_by_id_and_all_failed(app, quiet, session):
    first, second = failed_delivery(app), failed_delivery(app, error="webhook refused the message: HTTP 400")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["notifications", "retry"]).exit_code == 2
    result = runner.invoke(args=["notifications", "retry", "--id", str(first)])
    assert result.exit_code == 0 and f"({first})" in result.output
    result = runner.invoke(args=["notifications", "retry", "--all-failed"])
    assert result.exit_code == 0 and f"({second})" in result.output
    with app.app_context():
        statuses = db.session.scalars(select(NotificationDelivery.status).where(
            NotificationDelivery.id.in_([first, second]))).all()
    assert set(statuses) == {DeliveryStatus.PENDING}


def test_cli_runs_the_periodic_jobs(app, quiet, session):
    runner = app.test_cli_runner()
    for command, expected in (("relay", "Relayed: "), ("scan-sla", "SLA reminders written: "),
                              ("digest", "Digests written: ")):
        result = runner.invoke(args=["notifications", command])
        assert result.exit_code == 0 and expected in result.output
