"""Periodic notifications: SLA reminders and escalations, and the 07:00 daily digest.

Days are calendar days in Asia/Jakarta. For every open step and unfinished intervention with a due
date: *due soon* when it is due within ``remind_days_before`` days (SLA setting, default 2), *due
today* on the day, *overdue* once it is past, to the person who must act (the assignee; for steps
nobody holds — triage and approvals — the supervisors of the case's kecamatan; for interventions
nobody has claimed, the agency's officers); and an *escalation* to the supervisors once it is
``escalate_days_after`` days (default 3) overdue.

Every row carries a dedupe key per (step or intervention, kind, due date, recipient): the scan and
the digest can run twice, or from two beats at once, and nothing is written twice (the unique key
and ``INSERT … ON CONFLICT DO NOTHING``). A new due date (a returned step is a new step) is a new
cycle of reminders.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseapp.agencies.models import Programme
from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, Intervention, InterventionStatus, SlaSetting, Stage, Step, StepStatus
from caseapp.core.models import utcnow
from caseapp.notifications.models import Kind, Notification
from caseapp.notifications.outbox import Draft, case_link, chunks, write_notifications

WIB = ZoneInfo("Asia/Jakarta")
DEFAULT_REMIND_DAYS = 2
DEFAULT_ESCALATE_DAYS = 3
OPEN_INTERVENTIONS = (InterventionStatus.PENDING, InterventionStatus.CLAIMED, InterventionStatus.IN_PROGRESS)
DIGEST_ITEMS = 10


def local_date(moment: datetime) -> date:
    return moment.astimezone(WIB).date()


def start_of_local_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=WIB)


def dedupe_key(kind: str, obj: str, obj_id: int, due: date, user_id: int) -> str:
    """``overdue:step:42:2026-11-28:u7`` — one per (object, kind, due date, recipient)."""
    return f"{kind}:{obj}:{obj_id}:{due.isoformat()}:u{user_id}"


@dataclass(frozen=True)
class OpenWork:
    """A step or an intervention that someone must finish by a date."""

    obj: str               # "step" | "intervention"
    obj_id: int
    task: str              # step kind, or "intervention"
    program: str | None
    due_at: datetime
    assignee_id: int | None
    agency_id: int | None
    case_id: int
    case_number: str
    kecamatan_code: str
    sla_key: str

    def payload(self, due: date, **extra) -> dict:
        data = {"case_number": self.case_number, "task": self.task, "due_date": due.isoformat(), **extra}
        if self.program:
            data["program"] = self.program
        return data


def open_work(session: Session, before: datetime | None = None) -> list[OpenWork]:
    """Open steps and unfinished interventions of open cases, due before *before* (all when None)."""
    steps = (select(Step.id, Step.kind, Step.due_at, Step.assignee_id, Step.agency_id, Case.id, Case.number,
                    Case.kecamatan_code)
             .join(Case, Case.id == Step.case_id)
             .where(Step.status == StepStatus.OPEN, Step.due_at.is_not(None), Case.stage != Stage.CLOSED))
    interventions = (select(Intervention.id, Programme.code, Intervention.due_at, Intervention.assignee_id,
                            Intervention.agency_id, Case.id, Case.number, Case.kecamatan_code)
                     .join(Case, Case.id == Intervention.case_id)
                     .join(Programme, Programme.id == Intervention.programme_id)
                     .where(Intervention.status.in_(OPEN_INTERVENTIONS), Intervention.due_at.is_not(None),
                            Case.stage != Stage.CLOSED))
    if before is not None:
        steps = steps.where(Step.due_at < before)
        interventions = interventions.where(Intervention.due_at < before)
    work = [OpenWork("step", sid, kind, None, due_at, assignee, agency, cid, number, kec, kind)
            for sid, kind, due_at, assignee, agency, cid, number, kec in session.execute(steps.order_by(Step.id))]
    work += [OpenWork("intervention", iid, "intervention", code, due_at, assignee, agency, cid, number, kec, code)
             for iid, code, due_at, assignee, agency, cid, number, kec
             in session.execute(interventions.order_by(Intervention.id))]
    return work


class People:
    """Who answers for a piece of work, looked up once per scan."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(select(User.id, User.role, User.kecamatan_code, User.agency_id)
                               .where(User.active.is_(True)).order_by(User.id)).all()
        self.active = {r.id for r in rows}
        self.supervisors = [(r.id, r.kecamatan_code) for r in rows if r.role == Role.SUPERVISOR]
        self.officers: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            if r.role == Role.AGENCY_OFFICER and r.agency_id is not None:
                self.officers[r.agency_id].append(r.id)

    def supervisors_of(self, kecamatan_code: str, *, city_wide_only: bool = False) -> list[int]:
        return [uid for uid, scope in self.supervisors
                if scope is None or (not city_wide_only and scope == kecamatan_code)]

    def responsible(self, work: OpenWork) -> list[int]:
        if work.assignee_id is not None and work.assignee_id in self.active:
            return [work.assignee_id]
        if work.obj == "intervention":
            return list(self.officers.get(work.agency_id or 0, []))
        return self.supervisors_of(work.kecamatan_code)

    def escalation(self, work: OpenWork) -> list[int]:
        # Work already waiting on the supervisors goes up to the city-wide ones, when there are any.
        if work.obj == "step" and work.assignee_id is None:
            return self.supervisors_of(work.kecamatan_code, city_wide_only=True) or \
                self.supervisors_of(work.kecamatan_code)
        return self.supervisors_of(work.kecamatan_code)


def _sla_offsets(session: Session) -> dict[str, tuple[int, int]]:
    return {key: (remind, escalate) for key, remind, escalate in session.execute(
        select(SlaSetting.key, SlaSetting.remind_days_before, SlaSetting.escalate_days_after))}


def _without_existing(session: Session, drafts: list[Draft]) -> list[Draft]:
    """Skip drafts whose key exists (cheaper than letting the insert discard them every 15 minutes)."""
    existing: set[str] = set()
    keys = [d.dedupe_key for d in drafts if d.dedupe_key]
    for batch in chunks(keys, 500):
        existing.update(session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(batch))))
    return [d for d in drafts if d.dedupe_key not in existing]


def scan_sla(session: Session, now: datetime | None = None) -> int:
    """Write due-soon, due-today, overdue and escalation notifications; returns how many are new."""
    now = now or utcnow()
    today = local_date(now)
    offsets = _sla_offsets(session)
    remind_max = max([DEFAULT_REMIND_DAYS, *(remind for remind, _ in offsets.values())])
    horizon = start_of_local_day(today + timedelta(days=remind_max + 1))
    people = People(session)
    drafts: list[Draft] = []
    for work in open_work(session, before=horizon):
        remind, escalate = offsets.get(work.sla_key, (DEFAULT_REMIND_DAYS, DEFAULT_ESCALATE_DAYS))
        due = local_date(work.due_at)
        days_left = (due - today).days
        if days_left < 0:
            kind = Kind.OVERDUE
        elif days_left == 0:
            kind = Kind.DUE_TODAY
        elif days_left <= remind:
            kind = Kind.DUE_SOON
        else:
            continue
        for user_id in people.responsible(work):
            drafts.append(Draft(recipient_id=user_id, kind=kind.value, case_id=work.case_id,
                                payload=work.payload(due, days=max(days_left, 0)), link=case_link(work.case_id),
                                dedupe_key=dedupe_key(kind.value, work.obj, work.obj_id, due, user_id)))
        if days_left < 0 and -days_left >= escalate:
            for user_id in people.escalation(work):
                drafts.append(Draft(recipient_id=user_id, kind=Kind.ESCALATION.value, case_id=work.case_id,
                                    payload=work.payload(due, days=-days_left), link=case_link(work.case_id),
                                    dedupe_key=dedupe_key(Kind.ESCALATION.value, work.obj, work.obj_id, due,
                                                          user_id)))
    return len(write_notifications(session, _without_existing(session, drafts)))


def send_digest(session: Session, now: datetime | None = None) -> int:
    """One digest per user with open work, per day (Asia/Jakarta): counts and the ten most urgent."""
    now = now or utcnow()
    today = local_date(now)
    people = People(session)
    per_user: dict[int, list[OpenWork]] = defaultdict(list)
    for work in open_work(session):
        for user_id in people.responsible(work):
            per_user[user_id].append(work)
    drafts = []
    for user_id, items in sorted(per_user.items()):
        items.sort(key=lambda w: (w.due_at, w.obj, w.obj_id))
        dues = [local_date(w.due_at) for w in items]
        counts = {"open": len(items), "overdue": sum(d < today for d in dues),
                  "due_today": sum(d == today for d in dues)}
        top = [{"case_number": w.case_number, "task": w.task, "program": w.program, "due_date": d.isoformat(),
                "overdue": d < today} for w, d in list(zip(items, dues, strict=True))[:DIGEST_ITEMS]]
        drafts.append(Draft(recipient_id=user_id, kind=Kind.DIGEST.value, case_id=None,
                            payload={"date": today.isoformat(), "counts": counts, "items": top}, link="/",
                            dedupe_key=f"digest:u{user_id}:{today.isoformat()}"))
    return len(write_notifications(session, _without_existing(session, drafts)))
