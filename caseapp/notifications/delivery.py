"""Delivering outbox rows, idempotently: claim, send, mark; back off and retry; give up as ``failed``.

In-app rows need no transport: a batch is marked ``sent`` (visible in the notification centre) in
one statement. E-mail and webhook rows are *claimed* first (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL, a conditional ``UPDATE`` on SQLite, which has no row locks) by setting ``sending`` and
counting the attempt, and the claim is committed before anything is sent. Each send is then marked
``sent`` in its own commit, guarded by the claim time, so:

* a message delivered twice, or two workers on the same ids, send once (the second finds the row
  ``sent``, or ``sending`` under a live claim, and skips it);
* a worker killed mid-send leaves its rows ``sending``; once the claim's lease
  (``NOTIFY_CLAIM_LEASE``, longer than the task time limit) has expired, a redelivered message or
  the relay claims them again;
* an attempt is counted before the send, so a message that kills its worker every time (a poison
  message) ends as ``failed`` after ``NOTIFY_MAX_ATTEMPTS`` instead of looping forever.

Unlike other operations these functions commit: a sent e-mail must be recorded as sent at once,
not when the rest of its batch is done.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Engine, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from caseapp.auth.models import User
from caseapp.core.audit import record_audit_event
from caseapp.core.models import utcnow
from caseapp.notifications.channels import DeliveryError, Job
from caseapp.notifications.channels.email import SmtpSender
from caseapp.notifications.channels.webhook import WebhookSender
from caseapp.notifications.models import Channel, DeliveryStatus, Notification, NotificationDelivery
from caseapp.notifications.outbox import publish_after_commit
from caseapp.notifications.preferences import channel_configured

log = logging.getLogger("sinergi.notifications")

ND = NotificationDelivery
SENDERS: dict[Channel, Callable[[Mapping], object]] = {Channel.EMAIL: SmtpSender, Channel.WEBHOOK: WebhookSender}
MAX_ERROR_LENGTH = 500


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before attempt *attempt* + 1: exponential (base · 2^(attempt−1), capped) with "equal jitter".

    Half of the delay is fixed and half random, so retries of many rows that failed together
    (the SMTP server was down) spread out instead of hammering it at the same instant.
    """
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- in-app ------------------------------------------------------------------------------------

def deliver_in_app(session: Session, ids: Sequence[int]) -> int:
    """Mark the pending in-app rows among *ids* as sent (flushed; the caller commits).

    Rows already sent are skipped; rows locked by another transaction (another worker, the relay)
    are skipped too: whoever holds them delivers or re-publishes them.
    """
    if not ids:
        return 0
    pending = and_(Notification.id.in_(list(ids)), Notification.status == DeliveryStatus.PENDING)
    if _on_postgresql(session):
        target = Notification.id.in_(
            select(Notification.id).where(pending).order_by(Notification.id)
            .with_for_update(skip_locked=True).scalar_subquery())
    else:
        target = pending
    result = session.execute(
        update(Notification).where(target)
        .values(status=DeliveryStatus.SENT, sent_at=utcnow(), attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False))
    return result.rowcount


# --- e-mail and webhook ------------------------------------------------------------------------

@dataclass
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    released: list[int] = field(default_factory=list)


def claimable(now: datetime, lease: float):
    """Pending and due, or ``sending`` under a claim whose lease has run out (its worker died)."""
    return or_(
        and_(ND.status == DeliveryStatus.PENDING, or_(ND.next_attempt_at.is_(None), ND.next_attempt_at <= now)),
        and_(ND.status == DeliveryStatus.SENDING, ND.claimed_at < now - timedelta(seconds=lease)),
    )


def claim_deliveries(session: Session, channel: Channel, ids: Sequence[int], *, lease: float,
                     now: datetime | None = None) -> tuple[datetime, list[Job]]:
    """Claim the claimable rows among *ids* and commit the claim; returns the claim time and jobs."""
    now = now or utcnow()
    wanted = and_(ND.id.in_(list(ids)), ND.channel == channel, claimable(now, lease))
    if _on_postgresql(session):
        target = ND.id.in_(select(ND.id).where(wanted).order_by(ND.id)
                           .with_for_update(skip_locked=True).scalar_subquery())
    else:
        target = wanted
    claimed = list(session.scalars(
        update(ND).where(target)
        .values(status=DeliveryStatus.SENDING, claimed_at=now, attempts=ND.attempts + 1)
        .returning(ND.id).execution_options(synchronize_session=False)))
    jobs = []
    if claimed:
        rows = session.execute(
            select(ND.id, Notification.id, Notification.kind, Notification.payload, Notification.link,
                   User.email, User.phone, User.locale, User.full_name)
            .join(Notification, Notification.id == ND.notification_id)
            .join(User, User.id == Notification.recipient_id)
            .where(ND.id.in_(claimed)).order_by(ND.id))
        jobs = [Job(delivery_id=r[0], notification_id=r[1], kind=r[2], payload=r[3] or {}, link=r[4], email=r[5],
                    phone=r[6], locale=r[7] or "id", full_name=r[8]) for r in rows]
    session.commit()
    return now, jobs


def _guarded(delivery_id: int, claimed_at: datetime):
    # Only the claim that sent it may mark it: after a lease takeover the newer claim owns the row.
    return and_(ND.id == delivery_id, ND.status == DeliveryStatus.SENDING, ND.claimed_at == claimed_at)


_TABLE = NotificationDelivery.__table__
# Built once: marking a row sent runs once per e-mail, and building the statement cost as much as running it.
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("delivery_id"), _TABLE.c.status == DeliveryStatus.SENDING,
           _TABLE.c.claimed_at == bindparam("b_claimed_at", type_=_TABLE.c.claimed_at.type))
    .values(status=DeliveryStatus.SENT, sent_at=bindparam("now", type_=_TABLE.c.sent_at.type), last_error=None)
)


@contextmanager
def _sent_marker(session: Session) -> Iterator[Callable[[int, datetime], None]]:
    """Something that records one row as sent, durably, at once.

    On an engine it is a connection in autocommit mode: one round trip per e-mail instead of an
    UPDATE and a COMMIT. When the session is bound to a connection that is already inside a
    transaction (the tests' rolled-back one), marks go through the session and commit it.
    """
    bind = session.get_bind()
    if isinstance(bind, Engine):
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield lambda delivery_id, claimed_at: connection.execute(
                _MARK_SENT, {"delivery_id": delivery_id, "b_claimed_at": claimed_at, "now": utcnow()})
        return

    def through_session(delivery_id: int, claimed_at: datetime) -> None:
        session.connection().execute(_MARK_SENT, {"delivery_id": delivery_id, "b_claimed_at": claimed_at,
                                                  "now": utcnow()})
        session.commit()

    yield through_session


def _mark_failure(session: Session, delivery_id: int, claimed_at: datetime, error: DeliveryError,
                  config: Mapping) -> DeliveryStatus:
    attempts = session.scalar(select(ND.attempts).where(ND.id == delivery_id)) or 0
    message = str(error)[:MAX_ERROR_LENGTH]
    if error.permanent or attempts >= config["NOTIFY_MAX_ATTEMPTS"]:
        status, values = DeliveryStatus.FAILED, {"next_attempt_at": None}
        log.warning("delivery %s failed after %s attempt(s): %s", delivery_id, attempts, message)
    else:
        delay = backoff_seconds(attempts, config["NOTIFY_BACKOFF_BASE"], config["NOTIFY_BACKOFF_MAX"])
        status, values = DeliveryStatus.PENDING, {"next_attempt_at": utcnow() + timedelta(seconds=delay)}
    session.execute(update(ND).where(_guarded(delivery_id, claimed_at))
                    .values(status=status, last_error=message, published_at=None, claimed_at=None, **values)
                    .execution_options(synchronize_session=False))
    return status


def _release(session: Session, ids: list[int], claimed_at: datetime) -> None:
    """Give claimed-but-unsent rows back (the task ran out of time); their attempt does not count."""
    for delivery_id in ids:
        session.execute(update(ND).where(_guarded(delivery_id, claimed_at))
                        .values(status=DeliveryStatus.PENDING, claimed_at=None, attempts=ND.attempts - 1)
                        .execution_options(synchronize_session=False))


def _time_budget(config: Mapping) -> float:
    # Stop starting sends well before the soft time limit; what is left goes back to the queue.
    soft = (config.get("CELERY") or {}).get("task_soft_time_limit") or 240
    return float(soft) * 0.75


def deliver_external(session: Session, channel: Channel, ids: Sequence[int]) -> Report:
    """Send the e-mail or webhook deliveries among *ids* over one connection; commits per row."""
    config = current_app.config
    report = Report()
    if not ids:
        return report
    if not channel_configured(channel, config):
        # The channel was switched off after the rows were written: park them where an admin sees them.
        error = DeliveryError(f"channel {channel} is not configured", permanent=True)
        now, jobs = claim_deliveries(session, channel, ids, lease=config["NOTIFY_CLAIM_LEASE"])
        for job in jobs:
            _mark_failure(session, job.delivery_id, now, error, config)
            report.failed += 1
        session.commit()
        return report
    claimed_at, jobs = claim_deliveries(session, channel, ids, lease=config["NOTIFY_CLAIM_LEASE"])
    report.skipped = len(set(ids)) - len(jobs)
    if not jobs:
        return report
    deadline = time.monotonic() + _time_budget(config)
    sender = None
    try:
        sender = SENDERS[channel](config)
        with _sent_marker(session) as mark_sent:
            _send_all(session, sender, channel, jobs, claimed_at, deadline, mark_sent, report, config)
    except DeliveryError as error:  # the sender could not even be built (bad configuration)
        for job in jobs:
            _mark_failure(session, job.delivery_id, claimed_at, error, config)
        report.failed += len(jobs)
        session.commit()
    finally:
        if sender is not None:
            sender.close()
    return report


def _send_all(session: Session, sender, channel: Channel, jobs: list[Job], claimed_at: datetime, deadline: float,
              mark_sent: Callable[[int, datetime], None], report: Report, config: Mapping) -> None:
    """Send one by one; each outcome is recorded before the next send."""
    for index, job in enumerate(jobs):
        if time.monotonic() > deadline:
            report.released = [j.delivery_id for j in jobs[index:]]
            _release(session, report.released, claimed_at)
            publish_after_commit(session, channel, report.released)
            session.commit()
            break
        try:
            sender.send(job)
        except DeliveryError as error:
            rest = jobs[index + 1:] if error.breaks_batch else []
            for failed in [job, *rest]:
                status = _mark_failure(session, failed.delivery_id, claimed_at, error, config)
                if status == DeliveryStatus.FAILED:
                    report.failed += 1
                else:
                    report.retrying += 1
            session.commit()
            if rest:
                break
            continue
        mark_sent(job.delivery_id, claimed_at)
        report.sent += 1


# --- retry by hand -----------------------------------------------------------------------------

def retry_deliveries(session: Session, *, actor: User | None, ids: Sequence[int] = (),
                     all_failed: bool = False) -> list[int]:
    """Put failed deliveries back in the queue (fresh attempts); published after commit.

    Takes *ids* (only those that are ``failed``) or every failed row with *all_failed*.
    """
    condition = ND.status == DeliveryStatus.FAILED
    if not all_failed:
        if not ids:
            return []
        condition = and_(condition, ND.id.in_(list(ids)))
    rows = session.execute(
        update(ND).where(condition)
        .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=None, claimed_at=None,
                published_at=None)
        .returning(ND.id, ND.channel).execution_options(synchronize_session=False)).all()
    by_channel: dict[str, list[int]] = {}
    for delivery_id, channel in rows:
        by_channel.setdefault(str(channel), []).append(delivery_id)
    for channel, channel_ids in by_channel.items():
        publish_after_commit(session, Channel(channel), channel_ids)
    retried = sorted(row[0] for row in rows)
    if retried:
        record_audit_event(session, actor_id=actor.id if actor else None, action="retry_delivery",
                           object_type="notification_delivery", object_id=retried[0] if len(retried) == 1 else None,
                           after={"count": len(retried), "ids": retried[:100]})
    session.flush()
    return retried
