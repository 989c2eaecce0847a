"""The case page, assembled in a fixed number of queries and filtered by what the user may read.

The case is already loaded through the scoped layer (``get_visible_case_or_404``); this module adds
its household, members, housing survey, interventions, documents, steps and timeline, keeping to the
sections of ``visible_sections(user)`` (DESIGN.md §1): an agency officer reads only the sections of
their agency kind, sees their own agency's interventions in full and the others as counts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from caseapp.agencies.models import Agency, Programme, Region
from caseapp.auth.models import Role, User
from caseapp.cases import labels
from caseapp.cases.models import Attachment, Case, CaseStatus, Intervention, Stage, Step, StepStatus
from caseapp.cases.operations import allowed_intervention_actions
from caseapp.cases.policy import ALL_SECTIONS, can_work_intervention, visible_sections
from caseapp.cases.queries import timeline
from caseapp.cases.screens import DONE_INTERVENTION, Due, age_on, due_info, user_names
from caseapp.extensions import db
from caseapp.households.models import Household, HousingSurvey, Person, Relation, Section


@dataclass(frozen=True)
class MemberField:
    column: str
    label: Any
    kind: str = "text"   # text | bool | money | list | code


# Member data shown on the case page, each filtered by its column's section (DESIGN.md §1).
MEMBER_FIELDS = (
    MemberField("education_level", labels.MEMBER_LABELS["education_level"], "code"),
    MemberField("marital_status", labels.MEMBER_LABELS["marital_status"], "code"),
    MemberField("school_participation", labels.MEMBER_LABELS["school_participation"], "code"),
    MemberField("work_status", labels.MEMBER_LABELS["work_status"], "code"),
    MemberField("work_sector", labels.MEMBER_LABELS["work_sector"], "code"),
    MemberField("monthly_income", labels.MEMBER_LABELS["monthly_income"], "money"),
    MemberField("disability_types", labels.MEMBER_LABELS["disability_types"], "list"),
    MemberField("chronic_illness", labels.MEMBER_LABELS["chronic_illness"], "bool"),
    MemberField("pregnant", labels.MEMBER_LABELS["pregnant"], "bool"),
)

SURVEY_FIELDS = (
    "tenure", "floor_area_m2", "occupants", "roof_material", "roof_condition", "wall_material",
    "wall_condition", "floor_material", "floor_condition", "toilet", "sewage", "water_source", "lighting",
    "power_va", "cooking_fuel", "land_proof", "assets",
)


def column_section(table, name: str, default: str = Section.GENERAL) -> str:
    return str(table.c[name].info.get("section", default))


def member_fields_for(sections: frozenset) -> list[MemberField]:
    return [f for f in MEMBER_FIELDS if column_section(Person.__table__, f.column) in sections]


def survey_fields_for(sections: frozenset) -> list[str]:
    if Section.HOUSING not in sections:
        return []
    return [name for name in SURVEY_FIELDS
            if column_section(HousingSurvey.__table__, name, Section.HOUSING) in sections]


@dataclass
class MemberRow:
    person: Person
    age: int | None
    values: list[tuple[Any, Any, str]]   # (label, value, kind) for the fields the user may read


@dataclass
class MilestoneRow:
    code: str
    label: str
    ticked_at: datetime | None


@dataclass
class InterventionView:
    iv: Intervention
    programme: Programme
    agency: Agency
    target_name: str | None
    milestones: list[MilestoneRow]
    next_milestone: str | None
    actions: list[str]
    due: Due
    can_upload: bool = False
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.iv.status in DONE_INTERVENTION


@dataclass
class AgencyGroup:
    agency: Agency
    items: list[InterventionView]


@dataclass
class OtherAgency:
    """Another agency's work on the case, told to an officer as counts only (no programme, no notes)."""

    agency: Agency
    total: int
    finished: int


@dataclass
class TimelineRow:
    at: datetime
    actor: str | None
    words: str
    detail: str | None
    change: str | None
    comment: str | None


@dataclass
class Submission:
    """What is waiting for the supervisor's decision: the submitted step's content."""

    kind: str
    submitted_by: str | None
    submitted_at: datetime | None
    findings: str | None = None
    outcome: str | None = None
    plan: list[dict] = field(default_factory=list)


@dataclass
class ReturnNote:
    by: str | None
    at: datetime | None
    comment: str | None


@dataclass
class StepperItem:
    stage: Stage
    label: str
    state: str   # done | current | todo | skipped


@dataclass
class CasePage:
    case: Case
    household: Household
    head: Person | None
    kelurahan_name: str
    kecamatan_name: str
    owner_name: str | None
    referrer_name: str | None
    sees_everything: bool
    can_see_reason: bool
    stepper: list[StepperItem]
    due: Due
    members: list[MemberRow]
    survey: HousingSurvey | None
    survey_fields: list[str]
    current: list[AgencyGroup]
    others: list[OtherAgency]
    earlier_rounds: list[tuple[int, list[InterventionView]]]
    timeline: list[TimelineRow]
    submission: Submission | None
    returned: ReturnNote | None
    latest_findings: list[tuple[str, datetime | None, str]]
    my_interventions: list[InterventionView] = field(default_factory=list)   # with work for this user
    case_attachments: list[Attachment] = field(default_factory=list)
    uploaders: dict[int, str] = field(default_factory=dict)


def _stepper(case: Case, reached: set[str]) -> list[StepperItem]:
    """Rujukan → Verifikasi → Intervensi → Evaluasi → Selesai; a closed case shows the stages it passed."""
    closed = case.stage == Stage.CLOSED
    current = labels.STAGE_ORDER.index(Stage(case.stage))
    items = []
    for i, stage in enumerate(labels.STAGE_ORDER):
        text = labels.STAGES[stage]
        if stage == Stage.CLOSED and closed and case.outcome != "graduated":
            text = labels.STATUSES[CaseStatus.CLOSED]
        if closed:
            state = "done" if stage == Stage.CLOSED or stage.value in reached else "skipped"
        else:
            state = "done" if i < current else ("current" if i == current else "todo")
        items.append(StepperItem(stage, str(text), state))
    return items


def _intervention_view(iv: Intervention, allowed: list[str]) -> InterventionView:
    from_programme = list(iv.programme.milestones or [])
    ticked = iv.milestones or {}
    rows = []
    for code in from_programme:
        at = ticked.get(code)
        rows.append(MilestoneRow(code, labels.label(labels.MILESTONES, code),
                                 datetime.fromisoformat(at) if isinstance(at, str) else None))
    next_milestone = next((r.code for r in rows if r.ticked_at is None), None)
    target = iv.target_person.name if iv.target_person is not None else None
    return InterventionView(iv, iv.programme, iv.agency, target, rows, next_milestone, allowed,
                            due_info(iv.due_at) if iv.status not in DONE_INTERVENTION else Due("none"))


def build_case_page(user: User, case: Case) -> CasePage:
    """Everything the case page shows to *user*, filtered by the sections they may read."""
    sections = visible_sections(user)
    sees_everything = sections == ALL_SECTIONS
    is_officer = Role(user.role) == Role.AGENCY_OFFICER

    household = db.session.scalar(
        select(Household).options(selectinload(Household.members)).where(Household.id == case.household_id))
    members = [m for m in household.members if m.active]
    head = next((m for m in members if m.relation == Relation.HEAD), None)
    regions = dict(db.session.execute(
        select(Region.code, Region.name).where(Region.code.in_((case.kelurahan_code, case.kecamatan_code)))).all())

    interventions = list(db.session.scalars(
        select(Intervention).where(Intervention.case_id == case.id)
        .options(selectinload(Intervention.programme), selectinload(Intervention.agency),
                 selectinload(Intervention.target_person))
        .order_by(Intervention.round, Intervention.agency_id, Intervention.id)))
    steps = list(db.session.scalars(select(Step).where(Step.case_id == case.id).order_by(Step.id)))
    events = timeline(case)

    uploader_ids = set(db.session.scalars(select(Attachment.uploaded_by_id).where(Attachment.case_id == case.id)))
    names = user_names({case.owner_id, case.referred_by_id} | uploader_ids
                       | {s.submitted_by_id for s in steps} | {s.decided_by_id for s in steps}
                       | {(e.event.after or {}).get("owner_id") for e in events})

    fields = member_fields_for(sections)
    member_rows = [
        MemberRow(m, age_on(m.birth_date), [(f.label, getattr(m, f.column), f.kind) for f in fields])
        for m in members
    ]
    survey_fields = survey_fields_for(sections)
    survey = None
    if survey_fields:
        survey = db.session.scalars(
            select(HousingSurvey).where(HousingSurvey.household_id == household.id)
            .order_by(HousingSurvey.surveyed_on.desc(), HousingSurvey.id.desc()).limit(1)).first()

    # Interventions: an officer sees their own agency's in full and the others as counts only.
    visible_ivs = [iv for iv in interventions if not is_officer or iv.agency_id == user.agency_id]
    views = {iv.id: _intervention_view(iv, allowed_intervention_actions(user, iv)) for iv in visible_ivs}
    for iv in visible_ivs:
        views[iv.id].can_upload = can_work_intervention(user, iv)
    # Documents: the sections the user may read; an officer only their own agency's evidence.
    case_attachments = []
    for attachment in db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                         .order_by(Attachment.created_at, Attachment.id)):
        if str(attachment.section) not in sections:
            continue
        if attachment.intervention_id is not None:
            if attachment.intervention_id in views:
                views[attachment.intervention_id].attachments.append(attachment)
        elif not is_officer or attachment.uploaded_by_id == user.id:
            case_attachments.append(attachment)
    current: dict[int, AgencyGroup] = {}
    earlier: dict[int, list[InterventionView]] = defaultdict(list)
    for iv in visible_ivs:
        if iv.round == case.round:
            current.setdefault(iv.agency_id, AgencyGroup(iv.agency, [])).items.append(views[iv.id])
        else:
            earlier[iv.round].append(views[iv.id])
    others: dict[int, OtherAgency] = {}
    if is_officer:
        for iv in interventions:
            if iv.agency_id != user.agency_id and iv.round == case.round:
                other = others.setdefault(iv.agency_id, OtherAgency(iv.agency, 0, 0))
                other.total += 1
                other.finished += iv.status in DONE_INTERVENTION

    rows = _timeline_rows(user, events, interventions, names, sees_everything)
    submission, returned, findings = _steps_summary(steps, names, interventions, members, sees_everything)
    referrer_name = names.get(case.referred_by_id)
    return CasePage(
        case=case, household=household, head=head,
        kelurahan_name=regions.get(case.kelurahan_code, case.kelurahan_code),
        kecamatan_name=regions.get(case.kecamatan_code, case.kecamatan_code),
        owner_name=names.get(case.owner_id), referrer_name=referrer_name,
        sees_everything=sees_everything,
        can_see_reason=sees_everything or case.referred_by_id == user.id,
        stepper=_stepper(case, {str(s.stage) for s in steps}),
        due=due_info(case.due_at) if case.stage != Stage.CLOSED else Due("none"),
        members=member_rows, survey=survey, survey_fields=survey_fields,
        current=list(current.values()), others=list(others.values()),
        earlier_rounds=sorted(earlier.items()), timeline=rows,
        submission=submission, returned=returned, latest_findings=findings,
        my_interventions=[v for group in current.values() for v in group.items if set(v.actions) - {"cancel"}],
        case_attachments=case_attachments, uploaders=names,
    )


def _timeline_rows(user: User, events, interventions, names: dict[int, str], sees_everything: bool):
    """Timeline entries in words. An officer reads comments only on their own agency's work (free text
    may hold data of sections they may not read) and nothing about other agencies' interventions."""
    is_officer = Role(user.role) == Role.AGENCY_OFFICER
    by_id = {iv.id: iv for iv in interventions}
    rows = []
    for entry in events:
        event = entry.event
        before, after = event.before or {}, event.after or {}
        detail, own = None, event.actor_id == user.id
        if event.object_type == "intervention":
            iv = by_id.get(event.object_id)
            if is_officer and (iv is None or iv.agency_id != user.agency_id):
                continue   # another agency's work: not this officer's business
            if iv is not None:
                own, detail = True, iv.programme.name
                new = set(after.get("milestones", {})) - set(before.get("milestones", {}))
                if event.action == "intervention_milestone" and new:
                    detail += ": " + ", ".join(labels.label(labels.MILESTONES, code) for code in sorted(new))
        elif event.object_type == "attachment":
            iv = by_id.get(after.get("intervention_id"))
            mine = iv is not None and (not is_officer or iv.agency_id == user.agency_id)
            if is_officer and not (mine or own):
                continue
            detail = after.get("name")
        elif event.action in ("accept_referral", "reassign", "reopen_case"):
            detail = names.get(after.get("owner_id"))
        change = None
        if event.object_type == "case" and before.get("status") and before.get("status") != after.get("status"):
            change = (f"{labels.label(labels.STATUSES, before['status'])} → "
                      f"{labels.label(labels.STATUSES, after['status'])}")
        comment = event.comment if (sees_everything or own) else None
        if comment and event.action in ("reject_referral", "close_case"):
            comment = labels.label(labels.CLOSURES, comment)
        rows.append(TimelineRow(event.occurred_at, entry.actor_name, labels.label(labels.EVENTS, event.action),
                                detail, change, comment))
    return rows


def _steps_summary(steps, names, interventions, members, sees_everything):
    """The submission awaiting approval, the last return note, and the latest findings per kind."""
    if not sees_everything:
        return None, None, []
    programmes = {iv.programme_id: iv.programme for iv in interventions}
    wanted = {item.get("programme_id") for s in steps if s.kind == "plan" and s.data
              for item in s.data.get("plan", [])} - set(programmes)
    if wanted:
        programmes.update({p.id: p for p in db.session.scalars(select(Programme).where(Programme.id.in_(wanted)))})
    people = {m.id: m.name for m in members}

    submission = None
    open_approval = next((s for s in reversed(steps) if s.kind == "approval" and s.status == StepStatus.OPEN), None)
    if open_approval is not None:
        submitted = next((s for s in reversed(steps)
                          if s.kind in ("verification", "plan", "evaluation") and s.status == StepStatus.DONE), None)
        if submitted is not None:
            data = submitted.data or {}
            plan = [{
                "programme": programmes[item["programme_id"]].name if item.get("programme_id") in programmes
                else item.get("program"),
                "agency": programmes[item["programme_id"]].agency.code if item.get("programme_id") in programmes
                else "",
                "person": people.get(item.get("person_id")),
                "note": item.get("note"), "amount": item.get("amount"),
            } for item in data.get("plan", [])]
            submission = Submission(submitted.kind, names.get(submitted.submitted_by_id), submitted.submitted_at,
                                    findings=data.get("findings"), outcome=data.get("outcome"), plan=plan)

    returned = None
    last_decision = next((s for s in reversed(steps) if s.kind == "approval" and s.status == StepStatus.DONE), None)
    work_open = any(s.status == StepStatus.OPEN and s.kind in ("verification", "plan", "evaluation") for s in steps)
    if last_decision is not None and (last_decision.decision or "").startswith("return_") and work_open \
            and open_approval is None:
        returned = ReturnNote(names.get(last_decision.decided_by_id), last_decision.decided_at, last_decision.comment)

    findings = []
    for kind in ("verification", "evaluation"):
        step = next((s for s in reversed(steps) if s.kind == kind and s.status == StepStatus.DONE
                     and (s.data or {}).get("findings")), None)
        if step is not None:
            findings.append((kind, step.submitted_at, step.data["findings"]))
    return submission, returned, findings


def previous_plan(case: Case) -> list[dict]:
    """The plan last submitted in the case's current round (to pre-fill the editor after a return)."""
    step = db.session.scalars(
        select(Step).where(Step.case_id == case.id, Step.kind == "plan", Step.round == case.round,
                           Step.status == StepStatus.DONE).order_by(Step.id.desc()).limit(1)).first()
    if step is None or not step.data:
        return []
    codes = dict(db.session.execute(select(Programme.id, Programme.code)).all())
    return [{"program": codes.get(item.get("programme_id"), item.get("program")),
             "person_id": str(item["person_id"]) if item.get("person_id") else "",
             "note": item.get("note") or "", "amount": item.get("amount") or ""}
            for item in step.data.get("plan", [])]
