"""The scoped-query layer: every list, search, count, export and load of cases starts here.

Scope is decided once, in SQL (DESIGN.md §1). Views never filter by scope themselves; they take
``visible_cases(user)`` and add their own filters. An object outside scope is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import Select, and_, exists, false, func, or_, select, true, union_all
from sqlalchemy.orm import aliased

from caseapp.agencies.models import Agency, AgencyKind, Programme, Region
from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, CaseTally, Intervention, InterventionStatus, Stage, Step, StepStatus
from caseapp.core.audit import AuditEvent, deny_out_of_scope
from caseapp.core.counting import capped, count_up_to
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.models import Household, Person, Relation
from caseapp.households.queries import register_case_link


def case_scope(user: User):
    """The WHERE clause limiting cases to what *user* may see (a SQL expression)."""
    role = Role(user.role)
    if role == Role.ADMIN:
        return true()
    if role == Role.SUPERVISOR:
        return Case.kecamatan_code == user.kecamatan_code if user.kecamatan_code else true()
    if role == Role.SOCIAL_WORKER:
        # Own cases, plus new referrals waiting in the worker's area (to pick up and verify).
        if user.kelurahan_code:
            area = Case.kelurahan_code == user.kelurahan_code
        elif user.kecamatan_code:
            area = Case.kecamatan_code == user.kecamatan_code
        else:
            area = false()
        return or_(Case.owner_id == user.id, and_(Case.stage == Stage.REFERRAL, area))
    if role == Role.AGENCY_OFFICER and user.agency_id is not None:
        referred = Case.referred_by_agency_id == user.agency_id
        if user.agency is not None and user.agency.kind == AgencyKind.KELURAHAN:
            return referred
        serves = exists().where(Intervention.case_id == Case.id, Intervention.agency_id == user.agency_id)
        return or_(serves, referred)
    return false()  # viewers and anything unknown: no case at all (fail closed)


def _scope_arms(user: User, owner, stage, kelurahan, kecamatan) -> list | None:
    """``case_scope`` written on copies of a case's owner, stage, kelurahan and kecamatan (the steps'
    ``case_*`` columns, the case tallies' keys) as a list of *disjoint* arms to OR — no row matches two,
    so they can be read one by one and added up — or ``None`` where the scope needs the case itself
    (agency officers: interventions and referrals). Same rules as ``case_scope``; the tests compare
    both for every demo user."""
    role = Role(user.role)
    if role == Role.ADMIN:
        return [true()]
    if role == Role.SUPERVISOR:
        return [kecamatan == user.kecamatan_code if user.kecamatan_code else true()]
    if role == Role.SOCIAL_WORKER:
        arms = [owner == user.id]
        area = (kelurahan == user.kelurahan_code if user.kelurahan_code
                else kecamatan == user.kecamatan_code if user.kecamatan_code else None)
        if area is not None:
            arms.append(and_(stage == Stage.REFERRAL, area, owner.is_distinct_from(user.id)))
        return arms
    if role == Role.AGENCY_OFFICER and user.agency_id is not None:
        return None
    return [false()]


def step_scope_arms(user: User) -> list | None:
    """The scope on the steps' copies of their case's columns: each arm served by its own partial
    index on open steps."""
    return _scope_arms(user, Step.case_owner_id, Step.case_stage, Step.case_kelurahan_code,
                       Step.case_kecamatan_code)


def _tally_scope(user: User):
    """The scope on the case tallies (owner 0: no owner, never NULL)."""
    arms = _scope_arms(user, CaseTally.owner_id, CaseTally.stage, CaseTally.kelurahan_code,
                       CaseTally.kecamatan_code)
    return None if arms is None else or_(*arms)


def tallied_stage_counts(user: User, *, stage: str | None = None, kelurahan: str | None = None,
                         kecamatan: str | None = None, owner_id: int | None = None) -> dict[str, int] | None:
    """Cases in *user*'s scope per stage from the case tallies (a few rows, whatever the number of
    cases), narrowed by the filters the tallies know; ``None`` where only the cases can tell."""
    scope = _tally_scope(user)
    if scope is None:
        return None
    stmt = select(CaseTally.stage, func.sum(CaseTally.n)).where(scope).group_by(CaseTally.stage)
    if stage:
        stmt = stmt.where(CaseTally.stage == stage)
    if kelurahan:
        stmt = stmt.where(CaseTally.kelurahan_code == kelurahan)
    if kecamatan:
        stmt = stmt.where(CaseTally.kecamatan_code == kecamatan)
    if owner_id is not None:
        stmt = stmt.where(CaseTally.owner_id == owner_id)
    return {str(row_stage): int(n or 0) for row_stage, n in db.session.execute(stmt)}


def cases_per_stage(user: User) -> dict[str, int]:
    """Cases in *user*'s scope per stage, every stage present: from the case tallies where the scope
    allows, else one ``GROUP BY`` over the cases in scope (agency officers)."""
    counts = {stage.value: 0 for stage in Stage}
    tallied = tallied_stage_counts(user)
    if tallied is None:
        tallied = {str(stage): n for stage, n in db.session.execute(
            select(Case.stage, func.count(Case.id)).where(case_scope(user)).group_by(Case.stage))}
    counts.update(tallied)
    return counts


def visible_cases(user: User) -> Select:
    """``SELECT cases`` limited to *user*'s scope."""
    return select(Case).where(case_scope(user))


def get_visible_case_or_404(user: User, case_id: int) -> Case:
    case = db.session.scalar(visible_cases(user).where(Case.id == case_id))
    if case is None:
        deny_out_of_scope("case", case_id)
    return case


def households_of_visible_cases(user: User) -> Select:
    """Household ids of the cases *user* may see (registered as a case link for household scope)."""
    return select(Case.household_id).where(case_scope(user))


def init_case_queries() -> None:
    register_case_link(households_of_visible_cases)


# --- lists ---------------------------------------------------------------------------------------
# Every list below starts from case_scope(user) and runs a fixed number of queries whatever the page
# size: one for the rows (joins, no lazy loads) and one for the count.

SORTS = {
    "due": Case.due_at,
    "opened": Case.opened_at,
    "number": Case.number,
    "stage": Case.stage,
    "desil": Household.desil,
    "name": Person.name,
}
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class CaseFilters:
    stage: str | None = None
    status: str | None = None
    kelurahan: str | None = None
    kecamatan: str | None = None
    programme: str | None = None
    agency: str | None = None
    overdue: bool = False
    desil: int | None = None
    q: str | None = None
    household_ids: tuple[int, ...] | None = None   # from an exact NIK/KK search (never in a URL)
    assigned_to: int | None = None
    sort: str = "due"
    descending: bool = False
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class CaseRow:
    case: Case
    head_name: str | None
    desil: int | None
    owner_name: str | None
    kelurahan_name: str


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _head():
    return aliased(Person, name="head")


def _filtered(user: User, filters: CaseFilters, head, *, sort: str | None = None) -> Select:
    """``SELECT cases.id`` in scope matching *filters*; joins the household or its head only when a
    filter (or the *sort* key) needs them, so counts and deep pages stay on the cases indexes."""
    stmt = select(Case.id).where(case_scope(user))
    if filters.desil is not None or sort == "desil":
        stmt = stmt.join(Household, Household.id == Case.household_id)
    if filters.q or sort == "name":
        stmt = stmt.outerjoin(head, and_(head.household_id == Case.household_id, head.relation == Relation.HEAD))
    if filters.stage:
        stmt = stmt.where(Case.stage == filters.stage)
    if filters.status:
        stmt = stmt.where(Case.status == filters.status)
    if filters.kelurahan:
        stmt = stmt.where(Case.kelurahan_code == filters.kelurahan)
    if filters.kecamatan:
        stmt = stmt.where(Case.kecamatan_code == filters.kecamatan)
    if filters.desil is not None:
        stmt = stmt.where(Household.desil == filters.desil)
    if filters.overdue:
        stmt = stmt.where(Case.stage != Stage.CLOSED, Case.due_at < utcnow())
    if filters.assigned_to is not None:
        stmt = stmt.where(Case.owner_id == filters.assigned_to)
    if filters.programme:
        stmt = stmt.where(exists().where(
            Intervention.case_id == Case.id, Intervention.programme_id == Programme.id,
            Programme.code == filters.programme))
    if filters.agency:
        stmt = stmt.where(exists().where(
            Intervention.case_id == Case.id, Intervention.agency_id == Agency.id, Agency.code == filters.agency))
    if filters.household_ids is not None:
        stmt = stmt.where(Case.household_id.in_(filters.household_ids or (-1,)))
    if filters.q:
        term = filters.q.strip()
        stmt = stmt.where(or_(Case.number == term.upper(), func.lower(head.name).contains(term.lower(),
                                                                                         autoescape=True)))
    return stmt


# Filters the case tallies can answer; any other filter (one added later too) counts the cases.
TALLIED_FILTERS = {"stage", "kelurahan", "kecamatan", "assigned_to"}
NOT_FILTERS = {"sort", "descending", "page", "per_page"}


def _total(user: User, filters: CaseFilters, head) -> int:
    others = [f.name for f in fields(filters) if f.name not in TALLIED_FILTERS | NOT_FILTERS
              and getattr(filters, f.name) not in (None, False, "")]
    if not others:
        counts = tallied_stage_counts(user, stage=filters.stage, kelurahan=filters.kelurahan,
                                      kecamatan=filters.kecamatan, owner_id=filters.assigned_to)
        if counts is not None:
            return sum(counts.values())
    return db.session.scalar(select(func.count()).select_from(_filtered(user, filters, head).subquery())) or 0


def caseload(user: User, filters: CaseFilters) -> Page:
    """A page of the cases *user* may see, filtered and sorted; two queries.

    The page is chosen on ids alone (a "deferred join"): the inner query walks the cases index in
    sort order (joining the household or head only for filters or sorts on them) and skips to the
    page, and only the page's rows are joined with household, head, owner and region. Deep pages
    thus cost index entries, not joined rows; page numbers stay the contract (DESIGN.md §6).
    """
    head = _head()
    per_page = max(1, min(filters.per_page, MAX_PER_PAGE))
    page = max(1, filters.page)
    sort = filters.sort if filters.sort in SORTS else "due"
    total = _total(user, filters, head)
    sort_column = SORTS[sort]
    if sort_column is Person.name:
        sort_column = head.name
    order = sort_column.desc() if filters.descending else sort_column.asc()
    ids = (
        _filtered(user, filters, head, sort=sort)
        .order_by(order.nulls_last(), Case.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).subquery("page_ids")
    owner = aliased(User, name="owner")
    row_head = _head()
    row_sort = SORTS[sort]
    if row_sort is Person.name:
        row_sort = row_head.name
    row_order = row_sort.desc() if filters.descending else row_sort.asc()
    rows_stmt = (
        select(Case, row_head.name, Household.desil, owner.full_name, Region.name)
        .join(ids, ids.c.id == Case.id)
        .join(Household, Household.id == Case.household_id)
        .outerjoin(row_head, and_(row_head.household_id == Household.id, row_head.relation == Relation.HEAD))
        .outerjoin(owner, owner.id == Case.owner_id)
        .join(Region, Region.code == Case.kelurahan_code)
        .order_by(row_order.nulls_last(), Case.id)
    )
    rows = [CaseRow(case, head_name, desil, owner_name, kel) for case, head_name, desil, owner_name, kel
            in db.session.execute(rows_stmt)]
    return Page(rows, total, page, per_page)


@dataclass(frozen=True)
class WorkItem:
    step: Step
    case: Case
    head_name: str | None
    kelurahan_name: str


# Work lists show this many steps per page; their totals are counted up to COUNT_CAP (then "1000+").
# A list beside the main one (My work's referrals and waiting cases) shows the first SIDE_LIST only.
WORK_PAGE = 25
SIDE_LIST = 10
MAX_WORK_PAGE = 200


@dataclass(frozen=True)
class WorkList:
    """One page of a work list and how many steps the whole list holds (counted up to ``COUNT_CAP`` + 1)."""

    items: list[WorkItem]
    total: int
    page: int
    per_page: int

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def total_label(self) -> str:
        return str(capped(self.total))

    @property
    def has_next(self) -> bool:
        return self.page < MAX_WORK_PAGE and self.page * self.per_page < self.total

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _open_steps_in_scope(user: User, conditions: tuple, *, by_arm: bool, limit: int | None) -> list[Select]:
    """``SELECT steps.id, steps.due_at`` of open steps in *user*'s scope matching *conditions*, one per
    arm of the scope, each in due order and cut at *limit* (``None``: no order, no cut, for counts).

    Chosen on ``steps`` alone through the steps' copy of their case's scope. A user's own steps
    (*by_arm* false) are read from ``ix_steps_open_assignee`` in due order, the scope tested on the
    index's own columns; a kind of step (triage, approval) is read per arm of the scope (own cases;
    referrals in the area; the kecamatan), each arm from its partial index in due order, stopping
    at *limit*. Agency officers' scope needs the case itself (one arm, joined)."""
    order = (Step.due_at.asc().nulls_last(), Step.id)
    arms = step_scope_arms(user)
    if arms is None:
        selects = [select(Step.id, Step.due_at).join(Case, Case.id == Step.case_id)
                   .where(case_scope(user), Step.status == StepStatus.OPEN, *conditions)]
    else:
        selects = [select(Step.id, Step.due_at).where(arm, Step.status == StepStatus.OPEN, *conditions)
                   for arm in ([or_(*arms)] if not by_arm else arms)]
    if limit is None:
        return selects
    return [stmt.order_by(*order).limit(limit) for stmt in selects]


def _page_of_open_steps(user: User, conditions: tuple, limit: int, offset: int, *, by_arm: bool):
    """The ids (and due dates) of open steps *offset* … *offset* + *limit* in *user*'s scope, soonest
    due first: each arm cut at *offset* + *limit*, then merged (the arms are disjoint)."""
    per_arm = [stmt.subquery(f"arm{n}") for n, stmt
               in enumerate(_open_steps_in_scope(user, conditions, by_arm=by_arm, limit=offset + limit))]
    if len(per_arm) == 1 and not offset:
        return per_arm[0]
    merged = (union_all(*(select(arm.c.id, arm.c.due_at) for arm in per_arm)).subquery("arms")
              if len(per_arm) > 1 else per_arm[0])
    return (select(merged.c.id, merged.c.due_at).order_by(merged.c.due_at.asc().nulls_last(), merged.c.id)
            .limit(limit).offset(offset)).subquery("page_ids")


def count_open_steps(user: User, *conditions, by_arm: bool = True) -> int:
    """How many open steps in *user*'s scope match *conditions*, counted up to ``COUNT_CAP`` + 1 (the
    disjoint arms are appended, so the count stops as soon as the cap is reached)."""
    selects = [stmt.with_only_columns(Step.id)
               for stmt in _open_steps_in_scope(user, conditions, by_arm=by_arm, limit=None)]
    return count_up_to(db.session, union_all(*selects) if len(selects) > 1 else selects[0])


def _work_items(user: User, *conditions, limit: int = WORK_PAGE, offset: int = 0,
                by_arm: bool = True) -> list[WorkItem]:
    """Open steps in *user*'s scope matching *conditions*, soonest due first; two steps in one query.

    The page's step ids are chosen on steps alone (``_page_of_open_steps``); only those ids are then
    joined with case, household, head and kelurahan (a "deferred join", as in ``caseload``), so a
    worker with thousands of open steps no longer looks up a head of household for each.
    """
    ids = _page_of_open_steps(user, conditions, limit, offset, by_arm=by_arm)
    head = _head()
    stmt = (
        select(Step, Case, head.name, Region.name)
        .join(ids, ids.c.id == Step.id)
        .join(Case, Case.id == Step.case_id)
        .join(Household, Household.id == Case.household_id)
        .outerjoin(head, and_(head.household_id == Household.id, head.relation == Relation.HEAD))
        .join(Region, Region.code == Case.kelurahan_code)
        .order_by(Step.due_at.asc().nulls_last(), Step.id)
    )
    return [WorkItem(step, case, name, kel) for step, case, name, kel in db.session.execute(stmt)]


def _work_list(user: User, conditions: tuple, page: int, *, by_arm: bool = True,
               per_page: int = WORK_PAGE) -> WorkList:
    page = max(1, min(page, MAX_WORK_PAGE))
    items = _work_items(user, *conditions, limit=per_page, offset=(page - 1) * per_page, by_arm=by_arm)
    return WorkList(items, count_open_steps(user, *conditions, by_arm=by_arm), page, per_page)


def _mine(user: User) -> tuple:
    return (Step.assignee_id == user.id,)


def my_steps(user: User, page: int = 1) -> WorkList:
    """Open steps assigned to *user* (verification, plan, evaluation), soonest due first."""
    return _work_list(user, _mine(user), page, by_arm=False)


def my_overdue_steps(user: User) -> int:
    """How many of *user*'s open steps are past due (up to ``COUNT_CAP`` + 1)."""
    return count_open_steps(user, *_mine(user), Step.due_at < utcnow(), by_arm=False)


def new_referrals(user: User, page: int = 1, *, per_page: int = WORK_PAGE) -> WorkList:
    """Referrals waiting for triage in *user*'s scope."""
    return _work_list(user, (Step.kind == "triage",), page, per_page=per_page)


def approval_queue(user: User, page: int = 1) -> WorkList:
    """Steps waiting for a supervisor's decision, excluding the user's own submissions."""
    return _work_list(user, (Step.kind == "approval",
                             or_(Step.submitted_by_id.is_(None), Step.submitted_by_id != user.id)), page)


@dataclass(frozen=True)
class QueueItem:
    intervention: Intervention
    case: Case
    programme: Programme
    head_name: str | None
    kelurahan_name: str
    assignee_name: str | None


def visible_interventions(user: User) -> Select:
    """Interventions *user* may see: officers their agency's; others those of cases in scope."""
    if Role(user.role) == Role.AGENCY_OFFICER:
        return select(Intervention).where(Intervention.agency_id == user.agency_id)
    return select(Intervention).join(Case, Case.id == Intervention.case_id).where(case_scope(user))


def get_visible_intervention_or_404(user: User, intervention_id: int) -> Intervention:
    intervention = db.session.scalar(visible_interventions(user).where(Intervention.id == intervention_id))
    if intervention is None:
        deny_out_of_scope("intervention", intervention_id)
    return intervention


def agency_queue(user: User, *, include_done: bool = False, limit: int = 200) -> list[QueueItem]:
    """The open interventions of the user's agency (pending first by due date), with their cases."""
    head = _head()
    assignee = aliased(User, name="assignee")
    stmt = (
        select(Intervention, Case, Programme, head.name, Region.name, assignee.full_name)
        .join(Case, Case.id == Intervention.case_id)
        .join(Programme, Programme.id == Intervention.programme_id)
        .join(Household, Household.id == Case.household_id)
        .outerjoin(head, and_(head.household_id == Household.id, head.relation == Relation.HEAD))
        .join(Region, Region.code == Case.kelurahan_code)
        .outerjoin(assignee, assignee.id == Intervention.assignee_id)
        .where(Intervention.agency_id == user.agency_id)
        .order_by(Intervention.due_at.asc().nulls_last(), Intervention.id)
        .limit(limit)
    )
    if not include_done:
        stmt = stmt.where(Intervention.status.not_in((InterventionStatus.DELIVERED, InterventionStatus.CANCELLED)))
    return [QueueItem(*row) for row in db.session.execute(stmt)]


@dataclass(frozen=True)
class TimelineEntry:
    event: AuditEvent
    actor_name: str | None


def timeline(case: Case, limit: int = 500) -> list[TimelineEntry]:
    """Every audited event of a case, oldest first (the case must already be loaded through scope)."""
    stmt = (
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.case_id == case.id)
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
        .limit(limit)
    )
    return [TimelineEntry(event, name) for event, name in db.session.execute(stmt)]
