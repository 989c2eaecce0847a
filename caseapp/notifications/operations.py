"""Writing notifications into the outbox, in the same transaction as the action that causes them.

Delivery (e-mail, webhook, retries) is the notifications issue's; here every notification is an
in-app row that the recipient sees in the notification centre.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, Intervention, Step
from caseapp.cases.workflow import Notify, StepKind
from caseapp.core.signals import case_transitioned
from caseapp.notifications.models import Channel, DeliveryStatus, Notification


def _supervisors_for(session: Session, case: Case) -> list[int]:
    return list(session.scalars(select(User.id).where(
        User.role == Role.SUPERVISOR, User.active.is_(True),
        or_(User.kecamatan_code.is_(None), User.kecamatan_code == case.kecamatan_code))))


def _agency_officers(session: Session, agency_ids: list[int]) -> list[int]:
    if not agency_ids:
        return []
    return list(session.scalars(select(User.id).where(
        User.role == Role.AGENCY_OFFICER, User.active.is_(True), User.agency_id.in_(agency_ids))))


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
            return _supervisors_for(session, case)
        case Notify.SUBMITTER:
            return _last_submitter(session, case)
        case Notify.AGENCIES:
            agency_ids = context.get("agency_ids") or list(session.scalars(
                select(Intervention.agency_id).where(Intervention.case_id == case.id,
                                                     Intervention.round == case.round).distinct()))
            return _agency_officers(session, agency_ids)
        case Notify.REFERRER:
            return [case.referred_by_id] if case.referred_by_id else []
    return []


def record_case_notifications(case: Case, *, session: Session, action: str, actor: User | None,
                              notify: tuple[tuple[str, str], ...], context: dict[str, Any]) -> list[Notification]:
    """One in-app notification per recipient and kind; the actor is never told about their own action."""
    created = []
    seen: set[tuple[int, str]] = set()
    for who, kind in notify:
        for user_id in recipients(session, case, who, context):
            if (actor is not None and user_id == actor.id) or (user_id, kind) in seen:
                continue
            seen.add((user_id, kind))
            notification = Notification(
                recipient_id=user_id, channel=Channel.IN_APP, kind=kind, case_id=case.id,
                payload={"case_number": case.number, "action": action, "stage": str(case.stage)},
                link=f"/cases/{case.id}", status=DeliveryStatus.SENT,
            )
            session.add(notification)
            created.append(notification)
    return created


def _on_case_transitioned(case: Case, **kwargs: Any) -> None:
    record_case_notifications(case, **kwargs)


def init_notifications() -> None:
    """Subscribe to the domain events (idempotent)."""
    case_transitioned.connect(_on_case_transitioned, weak=False)
