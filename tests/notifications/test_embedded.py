"""Embedded mode (no REDIS_URL): the same dispatch delivers in-process after commit; failures never
fail the user's action."""

from __future__ import annotations

from sqlalchemy import select

from caseapp.notifications import operations as ops
from caseapp.notifications.models import Channel, DeliveryStatus, Notification, NotificationDelivery
from tests.helpers import DEMO_PASSWORD, totp_code
from tests.notifications.servers import free_port


def supervisor_headers(client):
    response = client.post("/api/v1/auth/token", json={"email": "supervisor@sinergi.test",
                                                       "password": DEMO_PASSWORD, "totp": totp_code()})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def approve(client, case):
    return client.post(f"/api/v1/cases/{case.id}/actions", headers=supervisor_headers(client),
                       json={"action": "approve_verification", "version": case.version})


def approved_row(ctx, case):
    return ctx.execute(select(Notification.id, Notification.status, Notification.sent_at).where(
        Notification.case_id == case.id, Notification.kind == "approved")).one()


def test_an_approval_creates_and_delivers_the_in_app_notification(client, ctx, submitted_case, embedded):
    response = approve(client, submitted_case)
    assert response.status_code == 200, response.json
    row = approved_row(ctx, submitted_case)
    assert row.status == DeliveryStatus.SENT and row.sent_at is not None


def test_a_failing_smtp_server_does_not_fail_the_approval(client, ctx, people, submitted_case, embedded, app,
                                                          monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())  # nothing listens there
    ops.set_preferences(ctx, people["worker"], {"approved": [Channel.EMAIL]})
    response = approve(client, submitted_case)
    assert response.status_code == 200, response.json
    row = approved_row(ctx, submitted_case)
    assert row.status == DeliveryStatus.SENT  # in-app still delivered
    email = ctx.execute(select(NotificationDelivery.status, NotificationDelivery.attempts,
                               NotificationDelivery.last_error).where(
        NotificationDelivery.notification_id == row.id)).one()
    assert email.status == DeliveryStatus.PENDING and email.attempts == 1  # will be retried
    assert "unavailable" in email.last_error


def test_an_exception_in_an_in_process_handler_is_logged_not_raised(client, ctx, submitted_case, embedded, app,
                                                                   monkeypatch, caplog):
    def broken(ids):
        raise RuntimeError("delivery exploded")

    monkeypatch.setitem(app.extensions, "sinergi_local_jobs",
                        {**app.extensions["sinergi_local_jobs"], "notifications.deliver_in_app": broken})
    response = approve(client, submitted_case)
    assert response.status_code == 200
    assert approved_row(ctx, submitted_case).status == DeliveryStatus.PENDING  # the relay will publish it
    assert "could not dispatch notifications.deliver_in_app" in caplog.text
