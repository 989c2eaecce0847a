"""The outbox: rows written with the action, channels by preference, nothing published before commit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseapp.cases import operations as case_ops
from caseapp.notifications import operations as ops
from caseapp.notifications.models import Channel, DeliveryStatus, Kind, Notification, NotificationDelivery
from caseapp.notifications.preferences import DEFAULTS, preferences_for, wants


def deliveries_of(session, notification_id):
    return {d.channel: d for d in session.scalars(
        select(NotificationDelivery).where(NotificationDelivery.notification_id == notification_id))}


def approve(ctx, case, people):
    case_ops.transition_case(ctx, case, "approve_verification", people["supervisor"], version=case.version)
    return ctx.scalar(select(Notification).where(Notification.case_id == case.id, Notification.kind == "approved"))


def test_the_action_writes_pending_rows_and_publishes_only_after_commit(ctx, people, submitted_case, published):
    published.clear()
    notification = approve(ctx, submitted_case, people)
    assert notification.recipient_id == people["worker"].id
    assert notification.status == DeliveryStatus.PENDING and notification.channel == Channel.IN_APP
    assert notification.payload == {"case_number": submitted_case.number, "action": "approve_verification",
                                    "stage": "intervention", "actor": people["supervisor"].full_name}
    assert notification.link == f"/cases/{submitted_case.id}"
    assert published == []  # nothing leaves the process before the transaction commits
    ctx.commit()
    assert ("notifications.deliver_in_app", [notification.id]) in published


def test_a_rolled_back_action_publishes_nothing(ctx, people, submitted_case, published):
    ctx.commit()
    published.clear()
    approve(ctx, submitted_case, people)
    ctx.rollback()
    assert published == []


def test_external_channels_follow_configuration_and_preferences(ctx, people, submitted_case, published, smtp, webhook):
    worker = people["worker"]
    worker.phone = "+6281234567890"
    ops.set_preferences(ctx, worker, {"approved": [Channel.EMAIL, Channel.WEBHOOK]})
    notification = approve(ctx, submitted_case, people)
    assert set(deliveries_of(ctx, notification.id)) == {Channel.EMAIL, Channel.WEBHOOK}


def test_no_phone_no_sms_and_an_unticked_kind_is_not_mailed(ctx, people, submitted_case, published, smtp, webhook):
    worker = people["worker"]
    worker.phone = None
    ops.set_preferences(ctx, worker, {"approved": [Channel.WEBHOOK]})
    notification = approve(ctx, submitted_case, people)
    assert deliveries_of(ctx, notification.id) == {}


def test_channels_that_are_not_configured_are_off(ctx, people, submitted_case, published):
    people["worker"].phone = "+6281234567890"
    ops.set_preferences(ctx, people["worker"], {"approved": [Channel.EMAIL, Channel.WEBHOOK]})
    notification = approve(ctx, submitted_case, people)
    assert deliveries_of(ctx, notification.id) == {}  # SMTP_HOST and SMS_WEBHOOK_URL unset in tests


def test_defaults_mail_everything_and_text_only_what_is_late(ctx, people):
    prefs = preferences_for(ctx, people["worker"])
    assert all(prefs[kind][Channel.EMAIL] for kind in prefs)
    assert {kind for kind in prefs if prefs[kind][Channel.WEBHOOK]} == {"overdue", "escalation"}
    assert DEFAULTS[Channel.WEBHOOK] == {Kind.OVERDUE, Kind.ESCALATION}


def test_saved_preferences_replace_the_defaults(ctx, people):
    ops.set_preferences(ctx, people["worker"], {"digest": [Channel.WEBHOOK], "unknown-kind": [Channel.EMAIL]})
    prefs = preferences_for(ctx, people["worker"])
    assert prefs["digest"] == {Channel.EMAIL: False, Channel.WEBHOOK: True}
    assert prefs["overdue"] == {Channel.EMAIL: False, Channel.WEBHOOK: False}
    assert wants({}, people["worker"].id, "assigned", Channel.IN_APP)  # in-app is always on


def test_inactive_recipients_and_duplicate_dedupe_keys_are_skipped(ctx, people, published):
    people["worker2"].active = False
    draft = ops.Draft(recipient_id=people["worker"].id, kind="digest", payload={"date": "2026-01-05"},
                      dedupe_key="digest:test:u1")
    first = ops.write_notifications(ctx, [draft, ops.Draft(recipient_id=people["worker2"].id, kind="digest")])
    second = ops.write_notifications(ctx, [draft])
    assert len(first) == 1 and second == []
    assert ctx.scalar(select(func.count()).where(Notification.dedupe_key == "digest:test:u1")) == 1


@pytest.mark.parametrize("size", [1, 3])
def test_large_writes_are_published_in_batches(ctx, people, published, app, monkeypatch, size):
    monkeypatch.setitem(app.config, "NOTIFY_BATCH_SIZE", size)
    ids = ops.write_notifications(ctx, [ops.Draft(recipient_id=people["worker"].id, kind="digest",
                                                  dedupe_key=f"batch:{size}:{n}") for n in range(7)])
    published.clear()
    ctx.commit()
    batches = [batch for name, batch in published if name == "notifications.deliver_in_app"]
    assert sorted(i for batch in batches for i in batch) == sorted(ids)
    assert max(len(batch) for batch in batches) == size
