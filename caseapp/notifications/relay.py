"""The outbox relay: publish again whatever the after-commit publish did not get delivered.

Rows stay ``pending`` when Redis was down at commit time, when the web process died between commit
and publish, or when a retry has come due. The relay (a beat task every ``NOTIFY_RELAY_INTERVAL``
seconds) publishes:

* rows pending for more than ``NOTIFY_RELAY_AFTER`` seconds and not re-published in that time;
* retries whose ``next_attempt_at`` has come (the failure cleared ``published_at``);
* e-mail/webhook rows stuck in ``sending`` past the claim lease (their worker was killed), or marks
  them ``failed`` when their attempts are used up.

Publishing twice is harmless (delivery is idempotent), so the relay is safe to run twice at once;
``published_at`` only keeps it from flooding the queue with copies while a worker is busy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from caseapp.core.models import utcnow
from caseapp.notifications.models import Channel, DeliveryStatus, Notification, NotificationDelivery
from caseapp.notifications.outbox import publish_after_commit

ND = NotificationDelivery


def _lock(session: Session, stmt):
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def _due(model, now: datetime, cutoff: datetime):
    return and_(
        or_(and_(model.next_attempt_at.is_(None), model.created_at <= cutoff), model.next_attempt_at <= now),
        or_(model.published_at.is_(None), model.published_at <= cutoff),
    )


def relay_outbox(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Re-publish due rows (flushed; published when the caller commits). Returns counts per channel."""
    config = current_app.config
    now = now or utcnow()
    cutoff = now - timedelta(seconds=config["NOTIFY_RELAY_AFTER"])
    stale = now - timedelta(seconds=config["NOTIFY_CLAIM_LEASE"])
    limit = config["NOTIFY_RELAY_LIMIT"]
    counts: dict[str, int] = {"failed": 0}

    in_app = list(session.scalars(_lock(session, select(Notification.id).where(
        Notification.status == DeliveryStatus.PENDING, _due(Notification, now, cutoff))
        .order_by(Notification.id).limit(limit))))
    if in_app:
        session.execute(update(Notification).where(Notification.id.in_(in_app)).values(published_at=now)
                        .execution_options(synchronize_session=False))
        publish_after_commit(session, Channel.IN_APP, in_app)
    counts[Channel.IN_APP.value] = len(in_app)

    # Claims whose worker died with no attempts left: stop here, an admin can retry them.
    exhausted = list(session.scalars(_lock(session, select(ND.id).where(
        ND.status == DeliveryStatus.SENDING, ND.claimed_at < stale,
        ND.attempts >= config["NOTIFY_MAX_ATTEMPTS"]).limit(limit))))
    if exhausted:
        session.execute(update(ND).where(ND.id.in_(exhausted)).values(
            status=DeliveryStatus.FAILED, claimed_at=None,
            last_error="the worker stopped during delivery; no attempts left")
            .execution_options(synchronize_session=False))
    counts["failed"] = len(exhausted)

    rows = session.execute(_lock(session, select(ND.id, ND.channel).where(or_(
        and_(ND.status == DeliveryStatus.PENDING, _due(ND, now, cutoff)),
        and_(ND.status == DeliveryStatus.SENDING, ND.claimed_at < stale,
             or_(ND.published_at.is_(None), ND.published_at <= cutoff)),
    )).order_by(ND.id).limit(limit))).all()
    if rows:
        session.execute(update(ND).where(ND.id.in_([r[0] for r in rows])).values(published_at=now)
                        .execution_options(synchronize_session=False))
    for channel in (Channel.EMAIL, Channel.WEBHOOK):
        ids = [delivery_id for delivery_id, row_channel in rows if row_channel == channel]
        if ids:
            publish_after_commit(session, channel, ids)
        counts[channel.value] = len(ids)
    session.flush()
    return counts
