"""Writing notifications into the outbox, in the same transaction as the action that causes them.

:func:`write_notifications` inserts one in-app row per recipient (skipping dedupe keys that exist:
``INSERT … ON CONFLICT DO NOTHING``, so two SLA scans or two beats cannot write a reminder twice)
and one delivery row per external channel the recipient wants. Nothing talks to Redis here: the ids
are handed to ``enqueue_after_commit`` and published only once the transaction has committed; the
relay (:mod:`caseapp.notifications.relay`) publishes whatever that publish missed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, Intervention, Step
from caseapp.cases.workflow import Notify, StepKind
from caseapp.core.jobs import enqueue_after_commit
from caseapp.core.models import utcnow
from caseapp.notifications.models import Channel, DeliveryStatus, Notification, NotificationDelivery
from caseapp.notifications.preferences import CHOOSABLE, can_receive, channel_configured, load_choices, wants

TASKS = {
    Channel.IN_APP: "notifications.deliver_in_app",
    Channel.EMAIL: "notifications.deliver_email",
    Channel.WEBHOOK: "notifications.deliver_webhook",
}


@dataclass(frozen=True)
class Draft:
    """A notification about to be written: to whom, what kind, about which case, with what data."""

    recipient_id: int
    kind: str
    case_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    link: str | None = None
    dedupe_key: str | None = None


def chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    size = max(1, size)
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


def publish_after_commit(session: Session, channel: Channel, ids: Sequence[int]) -> None:
    """Ask for delivery of *ids* once *session* commits, in batches of ``NOTIFY_BATCH_SIZE``."""
    for batch in chunks(sorted(ids), current_app.config["NOTIFY_BATCH_SIZE"]):
        enqueue_after_commit(session, TASKS[channel], batch)


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def write_notifications(session: Session, drafts: Sequence[Draft]) -> list[int]:
    """Write *drafts* to the outbox (flushed, not committed); returns the new notification ids.

    Inactive recipients are skipped; a draft whose ``dedupe_key`` already exists is skipped too.
    """
    if not drafts:
        return []
    users = {row.id: row for row in session.execute(
        select(User.id, User.email, User.phone, User.active).where(
            User.id.in_({d.recipient_id for d in drafts})))}
    now = utcnow()
    rows = [
        {"recipient_id": d.recipient_id, "channel": Channel.IN_APP.value, "kind": d.kind, "case_id": d.case_id,
         "payload": d.payload, "link": d.link, "dedupe_key": d.dedupe_key, "created_at": now,
         "status": DeliveryStatus.PENDING.value, "attempts": 0}
        for d in drafts if d.recipient_id in users and users[d.recipient_id].active
    ]
    if not rows:
        return []
    stmt = (_insert(session)(Notification).on_conflict_do_nothing()
            .returning(Notification.id, Notification.recipient_id, Notification.kind))
    created = []
    # Explicit batches keep each statement's parameters far below PostgreSQL's limit.
    for batch in chunks(rows, 500):
        created.extend(session.execute(stmt, batch).all())
    if not created:
        return []
    publish_after_commit(session, Channel.IN_APP, [row.id for row in created])

    channels = [c for c in CHOOSABLE if channel_configured(c)]
    if channels:
        choices = load_choices(session, {row.recipient_id for row in created})
        deliveries = [
            {"notification_id": row.id, "channel": channel.value, "status": DeliveryStatus.PENDING.value,
             "attempts": 0, "created_at": now}
            for row in created for channel in channels
            if wants(choices, row.recipient_id, row.kind, channel) and can_receive(users[row.recipient_id], channel)
        ]
        by_channel: dict[str, list[int]] = {}
        for batch in chunks(deliveries, 500):
            for delivery_id, channel in session.execute(
                insert(NotificationDelivery).returning(NotificationDelivery.id, NotificationDelivery.channel),
                batch,
            ):
                by_channel.setdefault(str(channel), []).append(delivery_id)
        for channel, ids in by_channel.items():
            publish_after_commit(session, Channel(channel), ids)
    return [row.id for row in created]


# --- workflow events ---------------------------------------------------------------------------

def supervisors_for(session: Session, kecamatan_code: str | None, *, city_wide_only: bool = False) -> list[int]:
    """Active supervisors whose scope holds a case of *kecamatan_code* (city-wide ones included)."""
    scope = User.kecamatan_code.is_(None)
    if not city_wide_only:
        scope = or_(scope, User.kecamatan_code == kecamatan_code)
    return list(session.scalars(select(User.id).where(User.role == Role.SUPERVISOR, User.active.is_(True), scope)
                                .order_by(User.id)))


def agency_officers(session: Session, agency_ids: Iterable[int]) -> list[int]:
    agency_ids = list(agency_ids)
    if not agency_ids:
        return []
    return list(session.scalars(select(User.id).where(
        User.role == Role.AGENCY_OFFICER, User.active.is_(True), User.agency_id.in_(agency_ids)).order_by(User.id)))


def _last_submitter(session: Session, case: Case) -> list[int]:
    step = session.scalars(select(Step).where(Step.case_id == case.id, Step.kind == StepKind.APPROVAL.value)
                           .order_by(Step.id.desc())).first()
    return [step.submitted_by_id] if step and step.submitted_by_id else []


def recipients(session: Session, case: Case, who: str, context: dict[str, Any]) -> list[int]:
    """User ids for one ``Notify`` target of a case."""
    match Notify(who):
        case Notify.OWNER:
            return [case.owner_id] if case.owner_id else []
        case Notify.SUPERVISORS:
            return supervisors_for(session, case.kecamatan_code)
        case Notify.SUBMITTER:
            return _last_submitter(session, case)
        case Notify.AGENCIES:
            agency_ids = context.get("agency_ids") or list(session.scalars(
                select(Intervention.agency_id).where(Intervention.case_id == case.id,
                                                     Intervention.round == case.round).distinct()))
            return agency_officers(session, agency_ids)
        case Notify.REFERRER:
            return [case.referred_by_id] if case.referred_by_id else []
    return []


def case_link(case_id: int) -> str:
    return f"/cases/{case_id}"


def record_case_notifications(case: Case, *, session: Session, action: str, actor: User | None,
                              notify: tuple[tuple[str, str], ...], context: dict[str, Any]) -> list[int]:
    """One notification per recipient and kind; the actor is never told about their own action.

    The payload holds the case number, the action, the stage and the actor's name: no comment text
    (it may carry health details or a NIK), the recipient opens the case to read it.
    """
    drafts = []
    seen: set[tuple[int, str]] = set()
    payload = {"case_number": case.number, "action": action, "stage": str(case.stage),
               "actor": actor.full_name if actor is not None else None}
    for who, kind in notify:
        for user_id in recipients(session, case, who, context):
            if (actor is not None and user_id == actor.id) or (user_id, kind) in seen:
                continue
            seen.add((user_id, kind))
            drafts.append(Draft(recipient_id=user_id, kind=kind, case_id=case.id, payload=payload,
                                link=case_link(case.id)))
    return write_notifications(session, drafts)
