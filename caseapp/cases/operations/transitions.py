"""Every write to a case: referrals, the one ``transition_case``, and interventions.

Operations flush, never commit: the view, API call or task that calls them owns the transaction,
so an action and its audit event and notifications commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from caseapp.agencies.models import Programme, ProgrammeTarget, ReferralSource
from caseapp.auth.models import Role, User
from caseapp.cases.models import (
    Case,
    CaseNumberCounter,
    CaseStatus,
    Intervention,
    InterventionStatus,
    SlaSetting,
    Stage,
    Step,
    StepStatus,
)
from caseapp.cases.operations.scope_sync import scope_copies, sync_step_scope, tally, tally_key
from caseapp.cases.queries import case_scope
from caseapp.cases.workflow import (
    BY_ACTION,
    DEFAULT_SLA_DAYS,
    EVALUATION_RESULT,
    Action,
    StepKind,
    Transition,
    applies,
)
from caseapp.core.audit import record_audit_event
from caseapp.core.errors import Conflict, NotAllowed, NotFound, StaleVersion, ValidationFailed
from caseapp.core.identifiers import lookup_hash
from caseapp.core.models import utcnow
from caseapp.core.signals import case_transitioned
from caseapp.households.models import Household, Person

CASE_NUMBER_PREFIX = "KDR"


# --- small helpers ---------------------------------------------------------------------------

def sla_days(session: Session, key: str, default: int) -> int:
    """Days allowed for a step (SLA settings override the defaults; changes apply to new steps)."""
    days = session.scalar(select(SlaSetting.days).where(SlaSetting.key == key))
    return days if days is not None else default


def due_after(session: Session, kind: StepKind, start: datetime | None = None) -> datetime:
    return (start or utcnow()) + timedelta(days=sla_days(session, kind.value, DEFAULT_SLA_DAYS[kind]))


def next_case_number(session: Session, year: int) -> str:
    """``KDR-2026-000123``: an upsert on the year's counter, safe under concurrent referrals."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(CaseNumberCounter)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": CaseNumberCounter.last + 1})
        .returning(CaseNumberCounter.last)
    )
    number = session.execute(stmt).scalar_one()
    return f"{CASE_NUMBER_PREFIX}-{year}-{number:06d}"


def _snapshot(case: Case) -> dict[str, Any]:
    return {"stage": str(case.stage), "status": str(case.status), "owner_id": case.owner_id,
            "version": case.version, "round": case.round}


def _open_step(session: Session, case: Case, kind: StepKind | None = None) -> Step | None:
    stmt = select(Step).where(Step.case_id == case.id, Step.status == StepStatus.OPEN)
    if kind is not None:
        stmt = stmt.where(Step.kind == kind.value)
    return session.scalars(stmt.order_by(Step.id.desc())).first()


def pending_approval_submitter(session: Session, case: Case) -> int | None:
    """Who submitted the step now waiting for approval (nobody approves their own submission)."""
    step = _open_step(session, case, StepKind.APPROVAL)
    return step.submitted_by_id if step else None


def fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed({field: [message]})


# --- referrals -----------------------------------------------------------------------------

def open_case_of(session: Session, household_id: int) -> Case | None:
    return session.scalars(
        select(Case).where(Case.household_id == household_id, Case.stage != Stage.CLOSED)
    ).first()


def create_referral(
    session: Session, *, actor: User, household: Household, source: str, reason: str
) -> Case:
    """Open a case in ``referral/new`` for *household*; the supervisors' triage step is due in 3 days."""
    errors: dict[str, list[str]] = {}
    if session.get(ReferralSource, source) is None:
        codes = ", ".join(session.scalars(select(ReferralSource.code).order_by(ReferralSource.code)))
        errors["source"] = [_("Sumber rujukan tidak dikenal. Pilih salah satu: %(codes)s.", codes=codes)]
    if not (reason or "").strip():
        errors["reason"] = [_("Tulis alasan rujukan: apa yang dialami rumah tangga ini.")]
    if errors:
        raise ValidationFailed(errors)
    existing = open_case_of(session, household.id)
    if existing is not None:
        raise Conflict(_("Rumah tangga ini sudah punya kasus terbuka: %(number)s.", number=existing.number))
    now = utcnow()
    case = Case(
        number=next_case_number(session, now.year),
        household_id=household.id,
        stage=Stage.REFERRAL,
        status=CaseStatus.NEW,
        kelurahan_code=household.kelurahan_code,
        kecamatan_code=household.kelurahan_code.rsplit(".", 1)[0],
        source_code=source,
        referral_reason=reason.strip(),
        referred_by_id=actor.id,
        referred_by_agency_id=actor.agency_id if Role(actor.role) == Role.AGENCY_OFFICER else None,
        opened_at=now,
        due_at=due_after(session, StepKind.TRIAGE, now),
    )
    session.add(case)
    session.flush()
    session.add(Step(case_id=case.id, stage=Stage.REFERRAL, kind=StepKind.TRIAGE.value, round=1,
                     status=StepStatus.OPEN, due_at=case.due_at, submitted_by_id=actor.id, submitted_at=now,
                     **scope_copies(case)))
    tally(session, [(None, tally_key(case.kelurahan_code, case.kecamatan_code, None, Stage.REFERRAL), 1)])
    record_audit_event(session, actor_id=actor.id, action="create_referral", object_type="case",
                       object_id=case.id, case_id=case.id, after=_snapshot(case), comment=case.referral_reason)
    session.flush()
    case_transitioned.send(case, session=session, action="create_referral", actor=actor,
                           notify=(("supervisors", "new_referral"),), context={})
    return case


# --- guards: each returns an error (field, message) or None ---------------------------------

@dataclass
class Context:
    session: Session
    case: Case
    actor: User | None
    data: dict[str, Any]
    transition: Transition


def _guard_actor_is_owner(ctx: Context):
    if ctx.actor is None or ctx.case.owner_id != ctx.actor.id:
        return "owner", _("Hanya pekerja sosial pemilik kasus yang dapat melakukan ini.")
    return None


def _guard_not_own_submission(ctx: Context):
    if ctx.actor is not None and pending_approval_submitter(ctx.session, ctx.case) == ctx.actor.id:
        return "approval", _("Anda tidak dapat menyetujui atau mengembalikan kiriman Anda sendiri.")
    return None


def _guard_assignee_is_social_worker(ctx: Context):
    try:
        assignee = ctx.session.get(User, int(ctx.data["assignee_id"]))
    except (TypeError, ValueError):
        assignee = None
    ok = (
        assignee is not None and assignee.active and Role(assignee.role) == Role.SOCIAL_WORKER
        and assignee.kecamatan_code in (None, ctx.case.kecamatan_code)
    )
    if not ok:
        return "assignee_id", _("Pilih pekerja sosial aktif yang bertugas di kecamatan kasus ini.")
    ctx.data["assignee"] = assignee
    return None


def _guard_plan_is_valid(ctx: Context):
    items = ctx.data.get("interventions")
    if not isinstance(items, list) or not items:
        return "interventions", _("Rencana harus berisi paling sedikit satu intervensi.")
    plan, seen = [], set()
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            return "interventions", _("Intervensi ke-%(n)d tidak lengkap.", n=n)
        programme = ctx.session.scalar(
            select(Programme).where(Programme.code == str(item.get("program", "")), Programme.active.is_(True))
        )
        if programme is None:
            return "interventions", _("Intervensi ke-%(n)d: program %(code)s tidak ada atau tidak aktif.",
                                      n=n, code=str(item.get("program", ""))[:40])
        person = None
        if item.get("person_nik"):
            person = ctx.session.scalar(select(Person).where(
                Person.household_id == ctx.case.household_id,
                Person.nik_hash == lookup_hash(str(item["person_nik"]), "nik")))
        elif item.get("person_id"):
            person = ctx.session.scalar(select(Person).where(
                Person.household_id == ctx.case.household_id, Person.id == int(item["person_id"])))
        if (item.get("person_nik") or item.get("person_id")) and person is None:
            return "interventions", _("Intervensi ke-%(n)d: orang itu bukan anggota rumah tangga ini.", n=n)
        if programme.target == ProgrammeTarget.PERSON and person is None:
            return "interventions", _("Intervensi ke-%(n)d: program %(code)s untuk perorangan; pilih anggota "
                                      "keluarga penerimanya.", n=n, code=programme.code)
        key = (programme.id, person.id if person else None)
        if key in seen:
            return "interventions", _("Intervensi ke-%(n)d: program dan penerima yang sama sudah ada di rencana.",
                                      n=n)
        seen.add(key)
        amount = item.get("amount")
        if amount not in (None, ""):
            try:
                amount = Decimal(str(amount))
            except InvalidOperation:
                amount = Decimal(-1)
            if amount < 0 or amount > Decimal("1000000000"):
                return "interventions", _("Intervensi ke-%(n)d: jumlah harus angka rupiah 0 atau lebih.", n=n)
        else:
            amount = None
        plan.append({"programme_id": programme.id, "program": programme.code,
                     "person_id": person.id if person else None,
                     "note": (str(item.get("note") or "").strip()[:1000] or None),
                     "amount": str(amount) if amount is not None else None})
    ctx.data["plan"] = plan
    return None


def _guard_interventions_finished(ctx: Context):
    rows = ctx.session.execute(
        select(Intervention.status).where(Intervention.case_id == ctx.case.id, Intervention.round == ctx.case.round)
    ).scalars().all()
    done = (InterventionStatus.DELIVERED, InterventionStatus.CANCELLED)
    if not rows or any(status not in done for status in rows):
        return "interventions", _("Masih ada intervensi yang belum selesai.")
    return None


def _guard_owner_available(ctx: Context):
    if ctx.data.get("assignee_id"):
        return _guard_assignee_is_social_worker(ctx)
    owner = ctx.session.get(User, ctx.case.owner_id) if ctx.case.owner_id else None
    if owner is None or not owner.active:
        return "assignee_id", _("Pekerja sosial kasus ini sudah tidak aktif; pilih pekerja sosial lain.")
    return None


def _guard_no_other_open_case(ctx: Context):
    other = open_case_of(ctx.session, ctx.case.household_id)
    if other is not None and other.id != ctx.case.id:
        return "case", _("Rumah tangga ini sudah punya kasus terbuka lain: %(number)s.", number=other.number)
    return None


GUARDS: dict[str, Callable[[Context], tuple[str, str] | None]] = {
    "actor_is_owner": _guard_actor_is_owner,
    "not_own_submission": _guard_not_own_submission,
    "assignee_is_social_worker": _guard_assignee_is_social_worker,
    "plan_is_valid": _guard_plan_is_valid,
    "interventions_finished": _guard_interventions_finished,
    "owner_available": _guard_owner_available,
    "no_other_open_case": _guard_no_other_open_case,
}


# --- side effects of particular actions ------------------------------------------------------

def _effect_take_owner(ctx: Context):
    assignee = ctx.data.get("assignee")
    if assignee is None:
        return
    previous = ctx.case.owner_id
    ctx.case.owner_id = assignee.id
    # Work already waiting for the previous owner moves with the case.
    ctx.session.execute(
        update(Step).where(Step.case_id == ctx.case.id, Step.status == StepStatus.OPEN,
                           Step.assignee_id == previous).values(assignee_id=assignee.id)
    )


def _effect_close(ctx: Context):
    now = utcnow()
    ctx.case.closed_at = now
    ctx.case.closure_reason = ctx.data.get("reason") or ctx.data.get("outcome")
    retention_days = current_app.config.get("CASE_RETENTION_DAYS", 5 * 365)
    ctx.case.retention_until = (now + timedelta(days=retention_days)).date()
    ctx.session.execute(
        update(Step).where(Step.case_id == ctx.case.id, Step.status == StepStatus.OPEN)
        .values(status=StepStatus.CANCELLED, decided_at=now, decision=ctx.transition.action.value)
    )
    ctx.session.execute(
        update(Intervention)
        .where(Intervention.case_id == ctx.case.id,
               Intervention.status.not_in((InterventionStatus.DELIVERED, InterventionStatus.CANCELLED)))
        .values(status=InterventionStatus.CANCELLED, cancel_reason="case_closed", version=Intervention.version + 1,
                updated_at=now)
    )


def _effect_create_interventions(ctx: Context):
    plan_step = ctx.session.scalars(
        select(Step).where(Step.case_id == ctx.case.id, Step.kind == StepKind.PLAN.value,
                           Step.round == ctx.case.round, Step.status == StepStatus.DONE)
        .order_by(Step.id.desc())
    ).first()
    now = utcnow()
    agencies = set()
    for item in (plan_step.data or {}).get("plan", []):
        programme = ctx.session.get(Programme, item["programme_id"])
        ctx.session.add(Intervention(
            case_id=ctx.case.id, round=ctx.case.round, programme_id=programme.id,
            target_person_id=item["person_id"], agency_id=programme.agency_id,
            status=InterventionStatus.PENDING, due_at=now + timedelta(days=programme.sla_days),
            amount=Decimal(item["amount"]) if item.get("amount") else None, note=item.get("note"),
            milestones={}, version=1, created_at=now, updated_at=now,
        ))
        agencies.add(programme.agency_id)
    ctx.data["agency_ids"] = sorted(agencies)
    # The case waits on the agencies now: its due date is the latest intervention's.
    latest = max((now + timedelta(days=ctx.session.get(Programme, i["programme_id"]).sla_days)
                  for i in (plan_step.data or {}).get("plan", [])), default=None)
    ctx.case.due_at = latest


def _effect_evaluation_result(ctx: Context):
    evaluation = ctx.session.scalars(
        select(Step).where(Step.case_id == ctx.case.id, Step.kind == StepKind.EVALUATION.value,
                           Step.status == StepStatus.DONE).order_by(Step.id.desc())
    ).first()
    outcome = (evaluation.data or {}).get("outcome", "graduated")
    stage, status = EVALUATION_RESULT[outcome]
    ctx.case.stage, ctx.case.status, ctx.case.outcome = stage, status, outcome
    if stage == Stage.CLOSED:
        ctx.data["outcome"] = outcome
        _effect_close(ctx)
    else:
        ctx.case.round += 1
        _open(ctx, StepKind.PLAN)


def _effect_reopen(ctx: Context):
    _effect_take_owner(ctx)
    ctx.case.closed_at = ctx.case.closure_reason = ctx.case.outcome = ctx.case.retention_until = None
    ctx.case.round += 1


EFFECTS: dict[Action, Callable[[Context], None]] = {
    Action.ACCEPT_REFERRAL: _effect_take_owner,
    Action.REASSIGN: _effect_take_owner,
    Action.REJECT_REFERRAL: _effect_close,
    Action.CLOSE_CASE: _effect_close,
    Action.APPROVE_PLAN: _effect_create_interventions,
    Action.APPROVE_EVALUATION: _effect_evaluation_result,
    Action.REOPEN_CASE: _effect_reopen,
}

# What a submitting action keeps on the step it closes.
STEP_DATA_FIELDS: dict[Action, tuple[str, ...]] = {
    Action.SUBMIT_VERIFICATION: ("findings",),
    Action.SUBMIT_PLAN: ("plan",),
    Action.SUBMIT_EVALUATION: ("outcome", "findings"),
}


# --- steps -----------------------------------------------------------------------------------

def _close(ctx: Context, kind: StepKind):
    step = _open_step(ctx.session, ctx.case, kind)
    if step is None:
        return
    now = utcnow()
    actor_id = ctx.actor.id if ctx.actor else None
    step.status = StepStatus.DONE
    if kind == StepKind.APPROVAL or kind == StepKind.TRIAGE:
        step.decided_by_id, step.decided_at = actor_id, now
        step.decision = ctx.transition.action.value
        step.comment = ctx.data.get("comment")
    else:
        step.submitted_by_id, step.submitted_at = actor_id, now
        step.comment = ctx.data.get("comment")
        step.data = {k: ctx.data[k] for k in STEP_DATA_FIELDS.get(ctx.transition.action, ()) if k in ctx.data}


def _open(ctx: Context, kind: StepKind):
    now = utcnow()
    step = Step(
        case_id=ctx.case.id, stage=ctx.case.stage, kind=kind.value, round=ctx.case.round,
        status=StepStatus.OPEN, opened_at=now, due_at=due_after(ctx.session, kind, now),
        # Approvals wait in the supervisors' queue; the other steps belong to the case owner.
        assignee_id=None if kind in (StepKind.APPROVAL, StepKind.TRIAGE) else ctx.case.owner_id,
        submitted_by_id=ctx.actor.id if kind == StepKind.APPROVAL and ctx.actor else None,
        submitted_at=now if kind == StepKind.APPROVAL else None,
        **scope_copies(ctx.case),  # opened after the action's stage and owner changes
    )
    ctx.session.add(step)
    ctx.case.due_at = step.due_at


# --- the one entry point that changes a case's stage ----------------------------------------

def _lock_version(session: Session, case: Case, expected: int) -> None:
    """Bump the version only if it is still *expected*; the row lock serialises rival actions."""
    result = session.execute(
        update(Case).where(Case.id == case.id, Case.version == expected)
        .values(version=Case.version + 1).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(case)
        raise StaleVersion(_("Kasus ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi."))
    session.refresh(case)


def _validate_fields(transition: Transition, data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for name in transition.required:
        value = data.get(name)
        if value is None or (isinstance(value, str | list | dict) and not value):
            errors.setdefault(name, []).append(_("Wajib diisi."))
    for name, allowed in transition.choices.items():
        if data.get(name) not in (None, "") and data.get(name) not in allowed:
            errors.setdefault(name, []).append(_("Pilih salah satu: %(choices)s.", choices=", ".join(allowed)))
    if isinstance(data.get("comment"), str) and len(data["comment"]) > 4000:
        errors.setdefault("comment", []).append(_("Komentar paling banyak 4000 karakter."))
    if errors:
        raise ValidationFailed(errors)


def transition_case(
    session: Session, case: Case, action: Action | str, actor: User | None, *, version: int, **data: Any
) -> Case:
    """Apply *action* to *case*: scope, role, fields, guards, optimistic lock, steps, audit, notifications.

    Raises ``NotFound`` (out of scope), ``NotAllowed`` (role or state), ``ValidationFailed`` (fields or
    guards; nothing changed) and ``StaleVersion`` (someone acted first).
    """
    try:
        transition = BY_ACTION[Action(action)]
    except ValueError:
        raise fail("action", _("Tindakan tidak dikenal: %(action)s.", action=str(action)[:40])) from None
    if actor is not None:
        visible = session.scalar(select(exists().where(Case.id == case.id, case_scope(actor))))
        if not visible:
            raise NotFound()
        if Role(actor.role) not in transition.roles:
            raise NotAllowed(_("Peran Anda tidak dapat melakukan tindakan ini."))
    elif not transition.automatic:
        raise NotAllowed("system actor for a user action")
    if int(version) != case.version:
        raise StaleVersion(_("Kasus ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi."))
    if not applies(transition, Stage(case.stage), CaseStatus(case.status)):
        raise NotAllowed(_("Tindakan ini tidak berlaku untuk kasus pada tahap sekarang."))
    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    _validate_fields(transition, data)
    ctx = Context(session, case, actor, data, transition)
    for name in transition.guards:
        problem = GUARDS[name](ctx)
        if problem is not None:
            field, message = problem
            if name in ("actor_is_owner", "not_own_submission"):
                raise NotAllowed(message)
            raise fail(field, message)

    before = _snapshot(case)
    _lock_version(session, case, int(version))
    if transition.closes is not None:
        _close(ctx, transition.closes)
    if transition.to_stage is not None:
        case.stage = transition.to_stage
    if transition.to_status is not None:
        case.status = transition.to_status
    effect = EFFECTS.get(transition.action)
    if effect is not None:
        effect(ctx)
    if transition.opens is not None:
        _open(ctx, transition.opens)
    if case.stage == Stage.CLOSED:
        case.due_at = None
    session.flush()
    if (before["owner_id"], before["stage"]) != (case.owner_id, str(case.stage)):
        sync_step_scope(session, [case.id])  # the case's earlier steps take the new owner or stage
    tally(session, [(tally_key(case.kelurahan_code, case.kecamatan_code, before["owner_id"], before["stage"]),
                     tally_key(case.kelurahan_code, case.kecamatan_code, case.owner_id, case.stage), 1)])
    record_audit_event(
        session, actor_id=actor.id if actor else None, action=transition.action.value, object_type="case",
        object_id=case.id, case_id=case.id, before=before, after=_snapshot(case),
        comment=data.get("comment") or data.get("reason"),
    )
    case_transitioned.send(case, session=session, action=transition.action.value, actor=actor,
                           notify=tuple((str(who), kind) for who, kind in transition.notify),
                           context={"agency_ids": data.get("agency_ids", []), "before": before})
    return case
