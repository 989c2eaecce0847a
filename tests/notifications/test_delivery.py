"""Delivery: idempotent claims, real SMTP and webhook round trips, backoff, giving up, retrying by hand."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from caseapp.core.audit import AuditEvent
from caseapp.core.models import utcnow
from caseapp.notifications import delivery as delivery_module
from caseapp.notifications import operations as ops
from caseapp.notifications.channels.email import header_safe
from caseapp.notifications.models import Channel, DeliveryStatus, Notification, NotificationDelivery
from tests.notifications.conftest import HEAD_NIK

ND = NotificationDelivery


def write(ctx, user, kind="overdue", case=None, key=None):
    payload = {"case_number": case.number if case else "KDR-2026-000777", "task": "verification",
               "due_date": "2026-03-02", "days": 0}
    [notification_id] = ops.write_notifications(ctx, [ops.Draft(
        recipient_id=user.id, kind=kind, case_id=case.id if case else None, payload=payload,
        link=f"/cases/{case.id}" if case else "/", dedupe_key=key)])
    return notification_id


def delivery(ctx, notification_id, channel):
    return ctx.scalar(select(ND).where(ND.notification_id == notification_id, ND.channel == channel))


def refresh(ctx, row):
    ctx.refresh(row)
    return row


def test_in_app_delivery_marks_sent_once(ctx, people, published):
    notification_id = write(ctx, people["worker"])
    assert ops.deliver_in_app(ctx, [notification_id]) == 1
    assert ops.deliver_in_app(ctx, [notification_id]) == 0  # the same message again: nothing to do
    row = ctx.get(Notification, notification_id)
    ctx.refresh(row)
    assert row.status == DeliveryStatus.SENT and row.sent_at is not None


def test_email_goes_through_a_real_smtp_server_in_the_recipients_language(ctx, people, published, smtp,
                                                                          submitted_case):
    people["dokter"].locale = "en"
    ids = [write(ctx, people["worker"], "returned", submitted_case), write(ctx, people["dokter"], "returned",
                                                                          submitted_case)]
    deliveries = [delivery(ctx, i, Channel.EMAIL).id for i in ids]
    report = ops.deliver_external(ctx, Channel.EMAIL, deliveries)
    assert (report.sent, report.failed, report.retrying) == (2, 0, 0)
    indonesian, english = (smtp.for_delivery(d)[0] for d in deliveries)
    assert indonesian["To"] == "worker@sinergi.test"
    assert indonesian["Subject"] == f"[Sinergi] Kasus {submitted_case.number} dikembalikan dengan komentar"
    assert english["Subject"] == f"[Sinergi] Case {submitted_case.number} was returned with a comment"
    text = english.get_body(("plain",)).get_content()
    html = english.get_body(("html",)).get_content()
    assert "Open in Sinergi: https://sinergi.kedirikota.test/cases/" in text
    assert f'href="https://sinergi.kedirikota.test/cases/{submitted_case.id}"' in html
    assert "Buka di Sinergi" in indonesian.get_body(("plain",)).get_content()
    for message in (indonesian, english):
        shown = message["Subject"] + message.get_body(("plain",)).get_content() + \
            message.get_body(("html",)).get_content()
        assert HEAD_NIK not in shown and not re.search(r"(?<!\d)\d{16}(?!\d)", shown)
        assert message["Message-ID"] and message["X-Sinergi-Delivery"]


def test_html_mail_escapes_what_users_typed(ctx, people, published, smtp, app):
    people["worker"].full_name = '<script>alert("x")</script>'
    notification_id = write(ctx, people["worker"], "approved")
    ops.deliver_external(ctx, Channel.EMAIL, [delivery(ctx, notification_id, Channel.EMAIL).id])
    [message] = smtp.received()
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_header_values_never_carry_line_breaks():
    assert header_safe("Kasus KDR\r\nBcc: evil@example.com") == "Kasus KDR Bcc: evil@example.com"


def test_webhook_is_signed_json_without_nik(ctx, people, published, webhook, submitted_case):
    people["worker"].phone = "+6281234567890"
    notification_id = write(ctx, people["worker"], "overdue", submitted_case)
    row = delivery(ctx, notification_id, Channel.WEBHOOK)
    report = ops.deliver_external(ctx, Channel.WEBHOOK, [row.id])
    assert report.sent == 1 and webhook.rejected == []
    [call] = webhook.received()
    assert call["content_type"].startswith("application/json")
    assert call["delivery"] == f"sinergi-delivery-{row.id}"
    body = call["body"]
    assert body["to"] == "+6281234567890" and body["event"] == "overdue"
    assert body["case_number"] == submitted_case.number
    assert HEAD_NIK not in str(body) and not re.search(r"\d{16}", str(body))


def test_a_second_run_on_the_same_ids_sends_nothing(ctx, people, published, smtp, webhook):
    people["worker"].phone = "+6281234567890"
    notification_id = write(ctx, people["worker"], "overdue")
    rows = [delivery(ctx, notification_id, Channel.EMAIL), delivery(ctx, notification_id, Channel.WEBHOOK)]
    for _ in range(2):
        ops.deliver_external(ctx, Channel.EMAIL, [rows[0].id])
        ops.deliver_external(ctx, Channel.WEBHOOK, [rows[1].id])
    assert len(smtp.received()) == 1 and len(webhook.received()) == 1


def test_a_live_claim_is_skipped_and_an_expired_one_is_taken_over(ctx, people, published, smtp, app):
    notification_id = write(ctx, people["worker"])
    row = delivery(ctx, notification_id, Channel.EMAIL)
    lease = app.config["NOTIFY_CLAIM_LEASE"]
    claimed_at, jobs = ops.claim_deliveries(ctx, Channel.EMAIL, [row.id], lease=lease)
    assert [job.delivery_id for job in jobs] == [row.id]
    assert ops.deliver_external(ctx, Channel.EMAIL, [row.id]).skipped == 1  # another worker holds it
    assert smtp.received() == []
    # That worker was killed: once the lease has run out the row is claimed again and sent.
    later = claimed_at + timedelta(seconds=lease + 1)
    _, jobs = ops.claim_deliveries(ctx, Channel.EMAIL, [row.id], lease=lease, now=later)
    assert [job.delivery_id for job in jobs] == [row.id]
    assert refresh(ctx, row).attempts == 2


def test_smtp_down_backs_off_then_fails_after_the_configured_attempts(ctx, people, published, smtp, fast_retries,
                                                                       app):
    smtp.stop()
    first, second = (write(ctx, people["worker"], key=f"down:{n}") for n in range(2))
    rows = [delivery(ctx, first, Channel.EMAIL), delivery(ctx, second, Channel.EMAIL)]
    before = utcnow()
    report = ops.deliver_external(ctx, Channel.EMAIL, [r.id for r in rows])
    assert (report.sent, report.retrying) == (0, 2)  # the server is down: the whole batch waits
    for row in rows:
        refresh(ctx, row)
        assert row.status == DeliveryStatus.PENDING and row.attempts == 1
        assert row.next_attempt_at > before and "unavailable" in row.last_error
    # Not due yet: a duplicate message does not bypass the backoff.
    ctx.execute(ND.__table__.update().where(ND.id == rows[0].id).values(next_attempt_at=utcnow() + timedelta(hours=1)))
    assert ops.deliver_external(ctx, Channel.EMAIL, [rows[0].id]).skipped == 1
    ctx.execute(ND.__table__.update().where(ND.id.in_([r.id for r in rows])).values(next_attempt_at=None))
    for _ in range(app.config["NOTIFY_MAX_ATTEMPTS"] - 1):
        ops.deliver_external(ctx, Channel.EMAIL, [r.id for r in rows])
        ctx.execute(ND.__table__.update().where(ND.id.in_([r.id for r in rows])).values(next_attempt_at=None))
    for row in rows:
        refresh(ctx, row)
        assert row.status == DeliveryStatus.FAILED and row.attempts == app.config["NOTIFY_MAX_ATTEMPTS"]
    assert ops.deliver_external(ctx, Channel.EMAIL, [r.id for r in rows]).skipped == 2


def test_a_refused_recipient_fails_at_once(ctx, people, published, smtp):
    smtp.refuse_code = 550
    row = delivery(ctx, write(ctx, people["worker"]), Channel.EMAIL)
    report = ops.deliver_external(ctx, Channel.EMAIL, [row.id])
    assert report.failed == 1 and refresh(ctx, row).status == DeliveryStatus.FAILED
    assert "550" in row.last_error


def test_webhook_server_errors_retry_and_client_errors_fail(ctx, people, published, webhook, fast_retries):
    people["worker"].phone = "+6281234567890"
    retry = delivery(ctx, write(ctx, people["worker"], key="wh:1"), Channel.WEBHOOK)
    webhook.status = 503
    assert ops.deliver_external(ctx, Channel.WEBHOOK, [retry.id]).retrying == 1
    assert refresh(ctx, retry).status == DeliveryStatus.PENDING and "503" in retry.last_error
    give_up = delivery(ctx, write(ctx, people["worker"], key="wh:2"), Channel.WEBHOOK)
    webhook.status = 400
    assert ops.deliver_external(ctx, Channel.WEBHOOK, [give_up.id]).failed == 1
    assert refresh(ctx, give_up).status == DeliveryStatus.FAILED


def test_rows_of_a_channel_switched_off_later_fail_visibly(ctx, people, published, smtp, app, monkeypatch):
    row = delivery(ctx, write(ctx, people["worker"]), Channel.EMAIL)
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    assert ops.deliver_external(ctx, Channel.EMAIL, [row.id]).failed == 1
    assert "not configured" in refresh(ctx, row).last_error


def test_a_task_out_of_time_gives_its_rows_back(ctx, people, published, smtp, monkeypatch):
    monkeypatch.setattr(delivery_module, "_time_budget", lambda config: -1.0)  # out of time at once
    row = delivery(ctx, write(ctx, people["worker"]), Channel.EMAIL)
    published.clear()
    report = ops.deliver_external(ctx, Channel.EMAIL, [row.id])
    assert report.released == [row.id] and smtp.received() == []
    refresh(ctx, row)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 0)
    assert ("notifications.deliver_email", [row.id]) in published


def test_retry_puts_failed_rows_back_and_is_audited(ctx, people, published, smtp, app):
    smtp.refuse_code = 550
    row = delivery(ctx, write(ctx, people["worker"]), Channel.EMAIL)
    ops.deliver_external(ctx, Channel.EMAIL, [row.id])
    assert refresh(ctx, row).status == DeliveryStatus.FAILED
    published.clear()
    assert ops.retry_deliveries(ctx, actor=people["admin"], ids=[row.id, 999999]) == [row.id]
    ctx.commit()
    refresh(ctx, row)
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.PENDING, 0, None)
    assert ("notifications.deliver_email", [row.id]) in published
    event = ctx.scalar(select(AuditEvent).where(AuditEvent.action == "retry_delivery").order_by(AuditEvent.id.desc()))
    assert event.actor_id == people["admin"].id and event.object_id == row.id
    smtp.refuse_code = None
    assert ops.deliver_external(ctx, Channel.EMAIL, [row.id]).sent == 1
    assert ops.retry_deliveries(ctx, actor=None, ids=[row.id]) == []  # only failed rows are retried
