"""Demo cases spread over every stage, made by the real workflow operations.

Each case is walked through ``transition_case`` and ``act_on_intervention`` as the demo users would,
so steps, audit history and notifications are what the application itself writes. Which stage a
household's case reaches is decided by its id, so the result is deterministic; households that
already have a case are skipped (idempotent). A share of open cases is then made overdue so lists
and dashboards show due-date colours.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from caseapp.auth.models import Role, User
from caseapp.cases import operations as ops
from caseapp.cases.models import Case, Intervention, Stage, Step, StepStatus
from caseapp.cases.suggestions import suggest_for_household
from caseapp.core.models import utcnow
from caseapp.households.models import Household

# Where demo cases stop, with weights (sum 100). Referral-only cases are the rest of the mix.
TARGETS = (
    ("referral", 14), ("rejected", 3), ("verification", 14), ("verification_submitted", 9),
    ("planning", 9), ("plan_submitted", 9), ("active", 16), ("active_in_progress", 8),
    ("evaluation", 7), ("evaluation_submitted", 4), ("graduated", 7),
)
CASE_SHARE = 0.4          # two households in five have a case
OVERDUE_SHARE = 0.2       # of open cases
SOURCES = ("DTSEN", "OUTREACH", "HALO_WARGA", "KELURAHAN", "MOBIL_PELAYANAN", "DOKTER_KELUARGA")
FINDINGS = (
    "Kunjungan rumah: atap bocor di dua ruang, lantai tanah di dapur.",
    "Kunjungan rumah: kepala keluarga buruh harian, penghasilan tidak tetap; anak putus sekolah.",
    "Kunjungan rumah: lansia dengan hipertensi tinggal sendiri; butuh kontrol rutin.",
    "Kunjungan rumah: dokumen kependudukan anak belum lengkap.",
)


def _users(session: Session) -> dict[str, User]:
    emails = ("supervisor", "worker", "worker2", "dokter", "rumah")
    found = {u.email.split("@")[0]: u for u in session.scalars(
        select(User).where(User.email.in_([f"{e}@sinergi.test" for e in emails])))}
    return found if len(found) == len(emails) else {}


def _owner_for(users: dict[str, User], household: Household) -> User | None:
    kecamatan = household.kelurahan_code.rsplit(".", 1)[0]
    for name in ("worker", "worker2"):
        if users[name].kecamatan_code in (None, kecamatan):
            return users[name]
    return None


def _officer_for(session: Session, agency_id: int, users: dict[str, User]) -> User | None:
    for name in ("dokter", "rumah"):
        if users[name].agency_id == agency_id:
            return users[name]
    return session.scalars(select(User).where(User.agency_id == agency_id, User.role == Role.AGENCY_OFFICER,
                                              User.active.is_(True)).order_by(User.id)).first()


def _plan(session: Session, household: Household) -> list[dict]:
    items = [{"program": s.program, "person_id": s.person_id, "note": s.reason("id")[:200]}
             for s in suggest_for_household(session, household.id)[:3]]
    return items or [{"program": "ATM_BERAS"}]


def _walk(session: Session, household: Household, target: str, users: dict[str, User], rng: random.Random) -> Case:
    sup = users["supervisor"]
    owner = _owner_for(users, household)
    referrer = owner or sup
    case = ops.create_referral(session, actor=referrer, household=household, source=rng.choice(SOURCES),
                               reason="Rumah tangga desil rendah; perlu kunjungan rumah.")

    def act(action, actor, **data):
        ops.transition_case(session, case, action, actor, version=case.version, **data)

    if target == "referral" or owner is None:
        return case
    if target == "rejected":
        act("reject_referral", sup, reason=rng.choice(("duplicate", "not_eligible")))
        return case
    act("accept_referral", sup, assignee_id=owner.id)
    if target == "verification":
        return case
    act("submit_verification", owner, findings=rng.choice(FINDINGS))
    if target == "verification_submitted":
        return case
    act("approve_verification", sup)
    if target == "planning":
        return case
    act("submit_plan", owner, interventions=_plan(session, household))
    if target == "plan_submitted":
        return case
    act("approve_plan", sup)
    interventions = session.scalars(select(Intervention).where(Intervention.case_id == case.id)).all()
    if target == "active":
        return case
    for iv in interventions:
        officer = _officer_for(session, iv.agency_id, users)
        if officer is None:
            continue
        ops.act_on_intervention(session, iv, "claim", officer, version=iv.version)
        ops.act_on_intervention(session, iv, "start", officer, version=iv.version)
        steps = iv.programme.milestones if target != "active_in_progress" else iv.programme.milestones[:2]
        for milestone in steps:
            ops.act_on_intervention(session, iv, "milestone", officer, version=iv.version, milestone=milestone)
        if target != "active_in_progress":
            ops.act_on_intervention(session, iv, "deliver", officer, version=iv.version, note="Sudah diserahkan.")
    if target == "active_in_progress":
        return case
    for iv in interventions:
        if iv.status not in ("delivered", "cancelled"):
            ops.act_on_intervention(session, iv, "cancel", sup, version=iv.version, reason="Tidak ada petugas")
    session.refresh(case)
    if case.stage != Stage.EVALUATION or target == "evaluation":
        return case
    act("submit_evaluation", owner, outcome="graduated", findings="Penghasilan stabil; rumah sudah layak.")
    if target == "evaluation_submitted":
        return case
    act("approve_evaluation", sup)
    return case


def _target_for(household_id: int) -> str | None:
    rng = random.Random(f"sinergi-demo-case-{household_id}")
    if rng.random() >= CASE_SHARE:
        return None
    names, weights = zip(*TARGETS, strict=True)
    return rng.choices(names, weights)[0]


def _make_some_overdue(session: Session, case_ids: list[int]) -> None:
    now = utcnow()
    for case_id in case_ids:
        rng = random.Random(f"sinergi-demo-overdue-{case_id}")
        if rng.random() >= OVERDUE_SHARE:
            continue
        due = now - timedelta(days=rng.randint(1, 12), hours=rng.randint(0, 23))
        session.execute(update(Step).where(Step.case_id == case_id, Step.status == StepStatus.OPEN).values(due_at=due))
        session.execute(update(Case).where(Case.id == case_id, Case.stage != Stage.CLOSED).values(due_at=due))


def load_demo_cases(session: Session, *, limit: int | None = None,
                    progress: Callable[[str], object] = print) -> int:
    """Open demo cases for households without one; returns how many were made."""
    users = _users(session)
    if not users:
        return 0
    stmt = (select(Household).where(~exists().where(Case.household_id == Household.id))
            .order_by(Household.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    made: list[int] = []
    for household in session.scalars(stmt).all():
        target = _target_for(household.id)
        if target is None:
            continue
        case = _walk(session, household, target, users, random.Random(f"sinergi-demo-walk-{household.id}"))
        made.append(case.id)
        if len(made) % 100 == 0:
            session.commit()
            progress(f"cases {len(made)}")
    _make_some_overdue(session, made)
    session.commit()
    return len(made)
