"""Intervention actions: claim, start, milestone, deliver, cancel (an agency's work on a case)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from caseapp.agencies.models import Programme
from caseapp.auth.models import User
from caseapp.cases.models import Case, CaseStatus, Intervention, InterventionStatus, Stage
from caseapp.cases.operations.transitions import fail, transition_case
from caseapp.cases.policy import can_cancel_intervention, can_work_intervention
from caseapp.cases.workflow import Action
from caseapp.core.audit import record_audit_event
from caseapp.core.errors import NotAllowed, StaleVersion
from caseapp.core.models import utcnow
from caseapp.core.signals import intervention_changed

INTERVENTION_ACTIONS: dict[str, tuple[tuple[InterventionStatus, ...], InterventionStatus]] = {
    "claim": ((InterventionStatus.PENDING,), InterventionStatus.CLAIMED),
    "start": ((InterventionStatus.CLAIMED,), InterventionStatus.IN_PROGRESS),
    "milestone": ((InterventionStatus.IN_PROGRESS,), InterventionStatus.IN_PROGRESS),
    "deliver": ((InterventionStatus.IN_PROGRESS,), InterventionStatus.DELIVERED),
    "cancel": ((InterventionStatus.PENDING, InterventionStatus.CLAIMED, InterventionStatus.IN_PROGRESS),
               InterventionStatus.CANCELLED),
}


def allowed_intervention_actions(user: User, intervention: Intervention) -> list[str]:
    allowed = []
    for name, (sources, _target) in INTERVENTION_ACTIONS.items():
        if intervention.status not in sources:
            continue
        if (name == "cancel" and can_cancel_intervention(user, intervention)) or (
            name != "cancel" and can_work_intervention(user, intervention)
        ):
            allowed.append(name)
    return allowed


def _intervention_snapshot(iv: Intervention) -> dict[str, Any]:
    return {"status": str(iv.status), "assignee_id": iv.assignee_id, "version": iv.version,
            "milestones": dict(iv.milestones or {})}


def _parse_date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise fail(field, _("Tanggal harus berformat TTTT-BB-HH, misalnya 2026-03-31.")) from None


def act_on_intervention(
    session: Session, intervention: Intervention, action: str, actor: User, *, version: int, **data: Any
) -> Intervention:
    """claim / start / milestone / deliver / cancel, with the same lock, audit and events as cases.

    When the last intervention of the round is delivered or cancelled the case moves to evaluation.
    """
    if action not in INTERVENTION_ACTIONS:
        raise fail("action", _("Tindakan tidak dikenal: %(action)s.", action=str(action)[:40]))
    if action not in allowed_intervention_actions(actor, intervention):
        raise NotAllowed(_("Anda tidak dapat melakukan tindakan ini pada intervensi ini sekarang."))
    if int(version) != intervention.version:
        raise StaleVersion(_("Intervensi ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi."))
    programme = session.get(Programme, intervention.programme_id)
    updates: dict[str, Any] = {}
    now = utcnow()
    if action == "claim":
        updates["assignee_id"] = actor.id
    elif action == "milestone":
        code = str(data.get("milestone") or "")
        ticked = dict(intervention.milestones or {})
        if code not in programme.milestones:
            raise fail("milestone", _("Tonggak harus salah satu dari: %(choices)s.",
                                       choices=", ".join(programme.milestones) or "-"))
        missing_before = [m for m in programme.milestones[: programme.milestones.index(code)] if m not in ticked]
        if missing_before:
            raise fail("milestone", _("Centang dulu tonggak sebelumnya: %(names)s.", names=", ".join(missing_before)))
        ticked[code] = now.isoformat()
        updates["milestones"] = ticked
    elif action == "deliver":
        missing = [m for m in programme.milestones if m not in (intervention.milestones or {})]
        if missing:
            raise fail("milestone", _("Tonggak belum lengkap: %(names)s.", names=", ".join(missing)))
        updates["delivered_on"] = _parse_date(data.get("delivered_on") or now.date(), "delivered_on")
        if updates["delivered_on"] > now.date():
            raise fail("delivered_on", _("Tanggal penyerahan tidak boleh di masa depan."))
        if data.get("amount") not in (None, ""):
            try:
                updates["amount"] = Decimal(str(data["amount"]))
            except InvalidOperation:
                raise fail("amount", _("Jumlah harus angka rupiah, misalnya 20000000.")) from None
            if updates["amount"] < 0:
                raise fail("amount", _("Jumlah tidak boleh negatif."))
        if data.get("note"):
            updates["outcome"] = str(data["note"])[:4000]
    elif action == "cancel":
        reason = str(data.get("reason") or "").strip()
        if not reason:
            raise fail("reason", _("Tulis alasan pembatalan."))
        updates["cancel_reason"] = reason[:200]
    before = _intervention_snapshot(intervention)
    result = session.execute(
        update(Intervention).where(Intervention.id == intervention.id, Intervention.version == int(version))
        .values(version=Intervention.version + 1, status=INTERVENTION_ACTIONS[action][1], updated_at=now, **updates)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise StaleVersion(_("Intervensi ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi."))
    session.refresh(intervention)
    record_audit_event(session, actor_id=actor.id, action=f"intervention_{action}", object_type="intervention",
                       object_id=intervention.id, case_id=intervention.case_id, before=before,
                       after=_intervention_snapshot(intervention), comment=data.get("note") or data.get("reason"))
    intervention_changed.send(intervention, session=session, action=action, actor=actor)
    if intervention.status in (InterventionStatus.DELIVERED, InterventionStatus.CANCELLED):
        _finish_round_if_done(session, intervention.case_id)
    return intervention


def _finish_round_if_done(session: Session, case_id: int) -> None:
    case = session.get(Case, case_id)
    session.refresh(case)
    if case.stage != Stage.INTERVENTION or case.status != CaseStatus.ACTIVE:
        return
    remaining = session.scalar(
        select(func.count(Intervention.id)).where(
            Intervention.case_id == case.id, Intervention.round == case.round,
            Intervention.status.not_in((InterventionStatus.DELIVERED, InterventionStatus.CANCELLED)))
    )
    if remaining == 0:
        transition_case(session, case, Action.COMPLETE_INTERVENTIONS, None, version=case.version)
