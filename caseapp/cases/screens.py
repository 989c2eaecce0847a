"""What the case lists show, in a fixed number of queries whatever the page size (the views stay thin).

Everything starts from the scoped layer in ``queries.py``: counts per stage, filter options, the exact
NIK/KK search, the people a supervisor may assign, due-date urgency. The case page is ``case_page.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import aliased

from caseapp.agencies.models import Agency, Programme, Region, RegionLevel
from caseapp.auth.models import Role, User
from caseapp.cases.models import (
    Case,
    CaseStatus,
    CaseTally,
    InterventionStatus,
    Stage,
)
from caseapp.cases.queries import WORK_PAGE, case_scope, cases_per_stage
from caseapp.core.counting import capped, count_up_to
from caseapp.core.identifiers import lookup_hash
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.identity import normalize_number
from caseapp.households.models import Household, HouseholdKK, Person, Relation
from caseapp.households.queries import household_scope

LOCAL_TZ = ZoneInfo("Asia/Jakarta")
DUE_SOON_DAYS = 2
DONE_INTERVENTION = (InterventionStatus.DELIVERED, InterventionStatus.CANCELLED)


# --- due dates -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    """How urgent a due date is, in the Kediri calendar: ``overdue``, ``today``, ``soon``, ``ok`` or ``none``."""

    state: str
    days: int = 0   # days late when overdue, days left otherwise

    @property
    def urgent(self) -> bool:
        return self.state in ("overdue", "today", "soon")


def due_info(due_at: datetime | None, now: datetime | None = None) -> Due:
    if due_at is None:
        return Due("none")
    now = now or utcnow()
    today = now.astimezone(LOCAL_TZ).date()
    due_day = due_at.astimezone(LOCAL_TZ).date()
    if due_at < now:
        return Due("overdue", max((today - due_day).days, 0))
    left = (due_day - today).days
    if left <= 0:
        return Due("today", 0)
    if left <= DUE_SOON_DAYS:
        return Due("soon", left)
    return Due("ok", left)


def age_on(birth_date: date | None, today: date | None = None) -> int | None:
    if birth_date is None:
        return None
    today = today or utcnow().astimezone(LOCAL_TZ).date()
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


# --- the caseload page -----------------------------------------------------------------------

@dataclass(frozen=True)
class StageCounts:
    by_stage: dict[str, int]
    overdue: int

    @property
    def overdue_label(self) -> str:
        return str(capped(self.overdue))

    @property
    def total(self) -> int:
        return sum(self.by_stage.values())

    @property
    def open(self) -> int:
        return self.total - self.by_stage.get(Stage.CLOSED.value, 0)


def stage_counts(user: User) -> StageCounts:
    """Cases in scope per stage (from the case tallies where the scope allows, else one GROUP BY), and
    how many open ones are overdue (time-dependent, so not tallied), counted up to ``COUNT_CAP`` + 1
    on the due-date indexes."""
    counts = cases_per_stage(user)
    late = select(Case.id).where(case_scope(user), Case.stage != Stage.CLOSED, Case.due_at < utcnow())
    overdue = count_up_to(db.session, late)
    return StageCounts(counts, overdue)


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    group: str = ""


def kelurahan_options(user: User) -> list[Option]:
    """Kelurahan to filter by, grouped by kecamatan (a supervisor's own kecamatan only)."""
    parent = aliased(Region)
    stmt = (
        select(Region.code, Region.name, parent.name)
        .join(parent, parent.code == Region.parent_code)
        .where(Region.level == RegionLevel.KELURAHAN)
        .order_by(parent.name, Region.name)
    )
    if Role(user.role) == Role.SUPERVISOR and user.kecamatan_code:
        stmt = stmt.where(Region.parent_code == user.kecamatan_code)
    return [Option(code, name, kecamatan) for code, name, kecamatan in db.session.execute(stmt)]


def programme_options() -> list[Option]:
    stmt = (select(Programme.code, Programme.name, Agency.code).join(Agency, Agency.id == Programme.agency_id)
            .where(Programme.active.is_(True)).order_by(Agency.code, Programme.name))
    return [Option(code, name, agency) for code, name, agency in db.session.execute(stmt)]


def households_by_identity(user: User, raw_number: str) -> tuple[int, ...]:
    """Households in *user*'s scope whose member NIK or (current or former) KK is exactly *raw_number*."""
    number = normalize_number(raw_number)
    nik, kk = lookup_hash(number, "nik"), lookup_hash(number, "kk")
    stmt = select(Household.id).where(
        household_scope(user),
        or_(
            Household.id.in_(select(Person.household_id).where(Person.nik_hash == nik)),
            Household.kk_hash == kk,
            Household.id.in_(select(HouseholdKK.household_id).where(HouseholdKK.kk_hash == kk)),
        ),
    )
    return tuple(db.session.scalars(stmt))


@dataclass(frozen=True)
class FoundHousehold:
    id: int
    head_name: str | None
    kelurahan_name: str
    address: str | None
    open_case_id: int | None


def households_without_visible_case(user: User, household_ids: tuple[int, ...]) -> list[FoundHousehold]:
    """Of *household_ids*, those with no open case *user* can see (offered for a referral)."""
    if not household_ids:
        return []
    head = aliased(Person)
    visible_open = (select(Case.household_id)
                    .where(case_scope(user), Case.stage != Stage.CLOSED, Case.household_id.in_(household_ids)))
    stmt = (
        select(Household.id, head.name, Region.name, Household.address)
        .outerjoin(head, and_(head.household_id == Household.id, head.relation == Relation.HEAD))
        .join(Region, Region.code == Household.kelurahan_code)
        .where(Household.id.in_(household_ids), Household.id.not_in(visible_open))
        .order_by(Household.id)
    )
    return [FoundHousehold(hid, name, kel, address, None) for hid, name, kel, address in db.session.execute(stmt)]


# --- my work / approvals ---------------------------------------------------------------------

@dataclass(frozen=True)
class WaitingCase:
    case: Case
    head_name: str | None
    kelurahan_name: str


def my_cases_waiting_for_approval(user: User, limit: int = WORK_PAGE) -> list[WaitingCase]:
    """The user's own cases now waiting on a supervisor (so the worker knows they are not forgotten),
    the *limit* soonest due."""
    head = aliased(Person)
    order = (Case.due_at.asc().nulls_last(), Case.id)
    # The page's ids first, on ix_cases_owner_status_due alone; then only those are joined. A social
    # worker's own cases are in their scope by definition (case_scope's first arm): the OR of the
    # whole scope is only needed for other roles.
    scope = true() if Role(user.role) == Role.SOCIAL_WORKER else case_scope(user)
    ids = (select(Case.id).where(scope, Case.owner_id == user.id,
                                 Case.status.in_((CaseStatus.SUBMITTED, CaseStatus.PLAN_SUBMITTED)))
           .order_by(*order).limit(limit)).subquery("page_ids")
    stmt = (
        select(Case, head.name, Region.name)
        .join(ids, ids.c.id == Case.id)
        .join(Household, Household.id == Case.household_id)
        .outerjoin(head, and_(head.household_id == Household.id, head.relation == Relation.HEAD))
        .join(Region, Region.code == Case.kelurahan_code)
        .order_by(*order)
    )
    return [WaitingCase(c, name, kel) for c, name, kel in db.session.execute(stmt)]


def user_names(ids: set[int | None]) -> dict[int, str]:
    """Full names for a set of user ids, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(wanted))).all())


# --- people a supervisor may assign ----------------------------------------------------------

@dataclass(frozen=True)
class WorkerOption:
    id: int
    name: str
    kelurahan: str | None
    open_cases: int


def eligible_workers(case: Case) -> list[WorkerOption]:
    """Active social workers serving the case's kecamatan (or the whole city), with their open cases."""
    # Summed per listed worker from the case tallies (a few rows each), not counted over their cases.
    load = (select(func.coalesce(func.sum(CaseTally.n), 0))
            .where(CaseTally.owner_id == User.id, CaseTally.stage != Stage.CLOSED)
            .correlate(User).scalar_subquery())
    stmt = (
        select(User.id, User.full_name, Region.name, load)
        .outerjoin(Region, Region.code == User.kelurahan_code)
        .where(User.role == Role.SOCIAL_WORKER, User.active.is_(True),
               or_(User.kecamatan_code.is_(None), User.kecamatan_code == case.kecamatan_code))
        .order_by(User.full_name)
    )
    return [WorkerOption(uid, name, kelurahan, n) for uid, name, kelurahan, n in db.session.execute(stmt)]
