"""The relay publishes what is still pending, once per window, and recovers claims of dead workers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from caseapp.core.models import utcnow
from caseapp.notifications import operations as ops
from caseapp.notifications.models import Channel, DeliveryStatus, NotificationDelivery

ND = NotificationDelivery


def published_ids(calls, name):
    return sorted(i for task, ids in calls if task == name for i in ids)


def test_rows_pending_past_the_window_are_published_once_per_window(ctx, people, published, smtp, app):
    ids = ops.write_notifications(ctx, [ops.Draft(recipient_id=people["worker"].id, kind="overdue")])
    email = ctx.scalar(select(ND.id).where(ND.notification_id == ids[0]))
    ctx.commit()
    published.clear()
    now = utcnow()
    assert ops.relay_outbox(ctx, now=now) == {"failed": 0, "in_app": 0, "email": 0, "webhook": 0}  # too fresh
    later = now + timedelta(seconds=app.config["NOTIFY_RELAY_AFTER"] + 1)
    counts = ops.relay_outbox(ctx, now=later)
    ctx.commit()
    assert (counts["in_app"], counts["email"]) == (1, 1)
    assert published_ids(published, "notifications.deliver_in_app") == ids
    assert published_ids(published, "notifications.deliver_email") == [email]
    # Published a moment ago and still pending (a worker is busy): not again within the window.
    assert ops.relay_outbox(ctx, now=later + timedelta(seconds=1))["in_app"] == 0
    assert ops.relay_outbox(ctx, now=later + timedelta(seconds=app.config["NOTIFY_RELAY_AFTER"] + 1))["in_app"] == 1


def test_sent_rows_are_never_published_again(ctx, people, published, app):
    ids = ops.write_notifications(ctx, [ops.Draft(recipient_id=people["worker"].id, kind="overdue")])
    ops.deliver_in_app(ctx, ids)
    later = utcnow() + timedelta(seconds=app.config["NOTIFY_RELAY_AFTER"] + 1)
    assert ops.relay_outbox(ctx, now=later)["in_app"] == 0


def test_a_retry_is_published_when_it_comes_due(ctx, people, published, smtp, fast_retries, app):
    smtp.stop()
    ids = ops.write_notifications(ctx, [ops.Draft(recipient_id=people["worker"].id, kind="overdue")])
    email = ctx.scalar(select(ND).where(ND.notification_id == ids[0]))
    ops.deliver_external(ctx, Channel.EMAIL, [email.id])
    ctx.refresh(email)
    published.clear()
    assert ops.relay_outbox(ctx, now=email.next_attempt_at - timedelta(seconds=1))["email"] == 0
    assert ops.relay_outbox(ctx, now=email.next_attempt_at + timedelta(seconds=1))["email"] == 1


def test_claims_of_a_dead_worker_are_published_again_or_given_up(ctx, people, published, smtp, app):
    ids = ops.write_notifications(ctx, [ops.Draft(recipient_id=people["worker"].id, kind="overdue",
                                                  dedupe_key=f"dead:{n}") for n in range(2)])
    rows = ctx.scalars(select(ND).where(ND.notification_id.in_(ids)).order_by(ND.id)).all()
    lease = app.config["NOTIFY_CLAIM_LEASE"]
    claimed_at, _ = ops.claim_deliveries(ctx, Channel.EMAIL, [r.id for r in rows], lease=lease)
    # The worker is killed here. One row still has attempts left, the other has used them all.
    ctx.execute(update(ND).where(ND.id == rows[1].id).values(attempts=app.config["NOTIFY_MAX_ATTEMPTS"]))
    published.clear()
    assert ops.relay_outbox(ctx, now=claimed_at + timedelta(seconds=1))["email"] == 0  # the claim is still live
    counts = ops.relay_outbox(ctx, now=claimed_at + timedelta(seconds=app.config["NOTIFY_CLAIM_LEASE"] + 1))
    assert (counts["email"], counts["failed"]) == (1, 1)
    ctx.commit()
    assert published_ids(published, "notifications.deliver_email") == [rows[0].id]
    ctx.refresh(rows[1])
    assert rows[1].status == DeliveryStatus.FAILED and "worker stopped" in rows[1].last_error

