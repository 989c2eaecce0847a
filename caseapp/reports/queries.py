"""Every indicator of the dashboard and the quarterly report, each one SQL statement.

The figures are computed in the database (GROUP BY, FILTER, window functions); Python only turns
the few result rows into a JSON-ready dict. :func:`compute_figures` runs a fixed number of statements
(nine) whatever the size of the data. Definitions are in ``docs/reports.md``; the short form sits
beside each function.

Scope is data here (:class:`Scope`), not a user, so a snapshot can be taken per kecamatan from the
command line; ``policy.report_scope(user)`` maps a user to it (a supervisor's kecamatan is exactly
what ``cases.queries.case_scope`` gives them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from caseapp.agencies.models import Agency, Programme, Region, RegionLevel
from caseapp.cases.models import Case, Intervention, InterventionStatus, Stage, Step, StepStatus
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.models import Household, HouseholdStatus, Person
from caseapp.reports.models import PovertyLine
from caseapp.reports.periods import JAKARTA, day_start_utc
from caseapp.reports.sql import days_between, days_to_date, percentiles

FIGURES_SCHEMA = 1
CASE_AGENCY = "DINSOS"   # case steps (triage, verification, plan, approvals, evaluation) are Dinsos work
STAGE_RANK = {Stage.REFERRAL: 1, Stage.VERIFICATION: 2, Stage.INTERVENTION: 3, Stage.EVALUATION: 4}
CLOSED_AFTER_EVALUATION = ("graduated", "refer_out")
DELIVERED = InterventionStatus.DELIVERED
CANCELLED = InterventionStatus.CANCELLED


@dataclass(frozen=True)
class Scope:
    """Whose figures: one kecamatan, or the whole city (None)."""

    kecamatan: str | None = None


@dataclass(frozen=True)
class ReportFilters:
    """Period (dates in WIB, both ends included) and the optional narrowing filters."""

    date_from: date
    date_to: date
    kecamatan: str | None = None
    kelurahan: str | None = None
    programme: str | None = None   # programme code
    agency: str | None = None      # agency code
    # Quarterly report: the budget also shows the part delivered from this date ("this quarter").
    focus_from: date | None = None
    now: datetime = field(default_factory=utcnow, compare=False)

    @property
    def start(self) -> datetime:
        return day_start_utc(self.date_from)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight WIB after the last day."""
        return day_start_utc(self.date_to + timedelta(days=1))

    @property
    def as_of(self) -> datetime:
        """The moment stocks (open work, stage reached) are measured: the period's end, or now."""
        return min(self.now, self.end)

    @property
    def as_of_date(self) -> date:
        """The last day (WIB) inside the as-of moment: the period's last day, or today."""
        return (self.as_of - timedelta(microseconds=1)).astimezone(JAKARTA).date()

    def public(self) -> dict:
        """The filters as plain JSON values (for the API, the snapshot and the page)."""
        data = asdict(self)
        data.pop("now")
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items()}


# --- shared conditions -------------------------------------------------------------------------

def _programme_id(code: str):
    return select(Programme.id).where(Programme.code == code).scalar_subquery()


def _agency_id(code: str):
    return select(Agency.id).where(Agency.code == code).scalar_subquery()


def _case_where(scope: Scope, f: ReportFilters, *, through_interventions: bool = True) -> list[ColumnElement]:
    """Conditions on ``Case``: scope and area; programme/agency mean "holds such an intervention"."""
    conditions: list[ColumnElement] = []
    if scope.kecamatan:
        conditions.append(Case.kecamatan_code == scope.kecamatan)
    if f.kecamatan:
        conditions.append(Case.kecamatan_code == f.kecamatan)
    if f.kelurahan:
        conditions.append(Case.kelurahan_code == f.kelurahan)
    if through_interventions and f.programme:
        conditions.append(exists().where(Intervention.case_id == Case.id,
                                         Intervention.programme_id == _programme_id(f.programme)))
    if through_interventions and f.agency:
        conditions.append(exists().where(Intervention.case_id == Case.id,
                                         Intervention.agency_id == _agency_id(f.agency)))
    return conditions


def intervention_where(f: ReportFilters) -> list[ColumnElement]:
    conditions: list[ColumnElement] = []
    if f.programme:
        conditions.append(Intervention.programme_id == _programme_id(f.programme))
    if f.agency:
        conditions.append(Intervention.agency_id == _agency_id(f.agency))
    return conditions


def delivered_in(f: ReportFilters) -> ColumnElement[bool]:
    return and_(Intervention.status == DELIVERED, Intervention.delivered_on >= f.date_from,
                Intervention.delivered_on <= f.date_to)


def _step_agency():
    return func.coalesce(Step.agency_id, _agency_id(CASE_AGENCY))


def _step_end():
    """When a finished step was finished: decided (approvals, triage) or submitted (the work itself)."""
    return func.coalesce(Step.decided_at, Step.submitted_at)


def rupiah(value) -> int:
    return int(Decimal(value or 0).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- the indicators ----------------------------------------------------------------------------

def poverty_line(as_of: date) -> dict | None:
    """The extreme-poverty line in force on *as_of* (the latest ``valid_from`` not after it)."""
    line = db.session.scalar(select(PovertyLine).where(PovertyLine.valid_from <= as_of)
                             .order_by(PovertyLine.valid_from.desc()).limit(1))
    if line is None:
        return None
    return {"rupiah_per_capita_month": rupiah(line.rupiah_per_capita_month),
            "valid_from": line.valid_from.isoformat(), "source": line.source}


def funnel(scope: Scope, f: ReportFilters) -> dict:
    """Cases opened in the period: how far each got by the as-of moment, and where each is then.

    "Reached" a stage = has a step of that stage (or a later one) opened before the as-of moment;
    "now" = closed if closed by then, else the stage of its latest step. A case without steps (only
    possible for rows written outside the workflow) counts as a referral.
    """
    rank = case(*[(Step.stage == stage, r) for stage, r in STAGE_RANK.items()], else_=0)
    reach = (select(Step.case_id, func.max(rank).label("reached"), func.max(Step.id).label("last_id"))
             .where(Step.opened_at < f.as_of).group_by(Step.case_id).subquery("reach"))
    last = aliased(Step, name="last_step")
    closed = and_(Case.closed_at.is_not(None), Case.closed_at < f.as_of)
    stage_now = func.coalesce(cast(last.stage, String), Stage.REFERRAL.value)
    reached = func.coalesce(reach.c.reached, 1)
    open_in = lambda stage: and_(~closed, stage_now == stage.value)  # noqa: E731
    stmt = (
        select(
            func.count().label("total"),
            func.count().filter(reached >= 2).label("verification"),
            func.count().filter(reached >= 3).label("intervention"),
            func.count().filter(reached >= 4).label("evaluation"),
            func.count().filter(and_(closed, Case.outcome == "graduated")).label("graduated"),
            *[func.count().filter(open_in(stage)).label(f"now_{stage.value}") for stage in STAGE_RANK],
            func.count().filter(closed).label("now_closed"),
        )
        .select_from(Case)
        .outerjoin(reach, reach.c.case_id == Case.id)
        .outerjoin(last, last.id == reach.c.last_id)
        .where(Case.opened_at >= f.start, Case.opened_at < f.end, *_case_where(scope, f))
    )
    row = db.session.execute(stmt).one()
    return {
        "total": row.total,
        "reached": {"referral": row.total, "verification": row.verification, "intervention": row.intervention,
                    "evaluation": row.evaluation, "graduated": row.graduated},
        "now": {stage.value: getattr(row, f"now_{stage.value}") for stage in STAGE_RANK} | {"closed": row.now_closed},
    }


def overdue_by_agency(scope: Scope, f: ReportFilters) -> dict:
    """Open work at the as-of moment per agency, and how much of it was past due then.

    Work = case steps (Dinsos unless the step names an agency) and interventions (their agency).
    """
    step_agency = _step_agency()
    end = _step_end()
    steps = (
        select(step_agency.label("agency_id"), Step.due_at.label("due_at"))
        .join(Case, Case.id == Step.case_id)
        .where(Step.opened_at < f.as_of,
               or_(Step.status == StepStatus.OPEN, end.is_(None), end >= f.as_of),
               *_case_where(scope, f, through_interventions=False))
    )
    if f.programme:
        steps = steps.where(exists().where(Intervention.case_id == Case.id,
                                           Intervention.programme_id == _programme_id(f.programme)))
    if f.agency:
        steps = steps.where(step_agency == _agency_id(f.agency))
    finished = or_(and_(Intervention.status == DELIVERED, Intervention.delivered_on <= f.as_of_date),
                   and_(Intervention.status == CANCELLED, Intervention.updated_at < f.as_of))
    interventions = (
        select(Intervention.agency_id.label("agency_id"), Intervention.due_at.label("due_at"))
        .join(Case, Case.id == Intervention.case_id)
        .where(Intervention.created_at < f.as_of, ~finished,
               *_case_where(scope, f, through_interventions=False), *intervention_where(f))
    )
    work = union_all(steps, interventions).subquery("work")
    measures = (func.count().label("open"), func.count().filter(work.c.due_at < f.as_of).label("overdue"))
    stmt = union_all(
        select(Agency.code, Agency.name, *measures).select_from(work).join(Agency, Agency.id == work.c.agency_id)
        .group_by(Agency.code, Agency.name),
        select(cast(null(), String), cast(null(), String), *measures).select_from(work),
    )
    result: dict = {"agencies": [], "total": None}
    for r in db.session.execute(stmt):
        if r.code is None:
            result["total"] = {"open": r.open, "overdue": r.overdue}
        else:
            result["agencies"].append({"agency": r.code, "name": r.name, "open": r.open, "overdue": r.overdue})
    result["agencies"].sort(key=lambda row: row["agency"])
    return result


def step_durations(scope: Scope, f: ReportFilters) -> list[dict]:
    """Days spent in each kind of step, per agency: median and 90th percentile (see ``sql.py``).

    Case steps finished in the period, from ``opened_at`` to their decision or submission; and the
    delivery of interventions delivered in the period, from queueing to the delivery date (whole days).
    """
    end = _step_end()
    step_agency = _step_agency()
    steps = (
        select(step_agency.label("agency_id"), Step.kind.label("kind"), cast(Step.stage, String).label("stage"),
               days_between(Step.opened_at, end).label("days"))
        .join(Case, Case.id == Step.case_id)
        .where(Step.status == StepStatus.DONE, end >= f.start, end < f.end,
               *_case_where(scope, f, through_interventions=False))
    )
    if f.programme:
        steps = steps.where(exists().where(Intervention.case_id == Case.id,
                                           Intervention.programme_id == _programme_id(f.programme)))
    if f.agency:
        steps = steps.where(step_agency == _agency_id(f.agency))
    delivery_days = days_to_date(Intervention.created_at, Intervention.delivered_on)
    deliveries = (
        select(Intervention.agency_id.label("agency_id"), literal_column("'delivery'").label("kind"),
               literal_column("'intervention'").label("stage"),
               case((delivery_days < 0, 0.0), else_=delivery_days).label("days"))
        .join(Case, Case.id == Intervention.case_id)
        .where(delivered_in(f), *_case_where(scope, f, through_interventions=False), *intervention_where(f))
    )
    work = union_all(steps, deliveries).subquery("work")
    stats = percentiles(db.session, work, ["agency_id", "kind", "stage"], "days", (0.5, 0.9)).subquery("stats")
    stmt = (
        select(Agency.code, Agency.name, stats.c.kind, stats.c.stage, stats.c.n, stats.c.p0, stats.c.p1)
        .select_from(stats).join(Agency, Agency.id == stats.c.agency_id)
        .order_by(Agency.code, stats.c.stage, stats.c.kind)
    )
    rows = [{"agency": r.code, "name": r.name, "step": step_key(r.kind, r.stage), "n": r.n,
             "median": _days(r.p0), "p90": _days(r.p1)} for r in db.session.execute(stmt)]
    return sorted(rows, key=lambda row: (row["agency"], STEP_ORDER.get(row["step"], 99)))


# The order a case meets its steps in (tables and charts follow it).
STEP_ORDER = {key: n for n, key in enumerate((
    "triage", "verification", "approval_verification", "plan", "approval_intervention", "delivery",
    "evaluation", "approval_evaluation"))}


def step_key(kind: str, stage: str) -> str:
    """Approvals are told apart by the stage they approve (verification, plan, evaluation)."""
    return f"approval_{stage}" if kind == "approval" else kind


def _days(value) -> float | None:
    return None if value is None else round(float(value), 2)


def interventions(scope: Scope, f: ReportFilters) -> dict:
    """Interventions planned (queued) and delivered in the period, and Rupiah delivered, by programme,
    agency and strategy (three groupings of one statement)."""
    created_in = and_(Intervention.created_at >= f.start, Intervention.created_at < f.end)
    delivered = delivered_in(f)
    measures = (
        func.count().filter(created_in).label("planned"),
        func.count().filter(delivered).label("delivered"),
        func.coalesce(func.sum(Intervention.amount).filter(delivered), 0).label("amount"),
    )

    def grouped(level: str, key, name, agency, strategy, group_by):
        stmt = (
            select(literal_column(f"'{level}'").label("level"), key.label("key"), name.label("name"),
                   agency.label("agency"), strategy.label("strategy"), *measures)
            .select_from(Intervention)
            .join(Case, Case.id == Intervention.case_id)
            .join(Programme, Programme.id == Intervention.programme_id)
            .join(Agency, Agency.id == Intervention.agency_id)
            .where(or_(created_in, delivered), *_case_where(scope, f, through_interventions=False),
                   *intervention_where(f))
        )
        return stmt.group_by(*group_by) if group_by else stmt

    strategy = cast(Programme.strategy, String)
    none = cast(null(), String)
    stmt = union_all(
        grouped("programme", Programme.code, Programme.name, Agency.code, strategy,
                (Programme.code, Programme.name, Agency.code, Programme.strategy)),
        grouped("agency", Agency.code, Agency.name, Agency.code, none, (Agency.code, Agency.name)),
        grouped("strategy", strategy, strategy, none, strategy, (Programme.strategy,)),
        grouped("total", none, none, none, none, ()),
    )
    result: dict = {"programmes": [], "agencies": [], "strategies": [], "total": None}
    plural = {"programme": "programmes", "agency": "agencies", "strategy": "strategies"}
    for r in db.session.execute(stmt):
        row = {"planned": r.planned, "delivered": r.delivered, "amount": rupiah(r.amount)}
        if r.level == "total":
            result["total"] = row
            continue
        row = {"code": r.key, "name": r.name} | row
        if r.level == "programme":
            row |= {"agency": r.agency, "strategy": r.strategy}
        result[plural[r.level]].append(row)
    for level in plural.values():
        result[level].sort(key=lambda row: row["code"])
    return result


def budget(scope: Scope, f: ReportFilters) -> dict:
    """Delivered interventions and Rupiah by agency × strategy × PMK 97/2023 tag (direct / indirect /
    supporting), with the tag totals and the grand total; ``*_focus`` = delivered from ``focus_from``."""
    delivered = delivered_in(f)
    focus = Intervention.delivered_on >= (f.focus_from or f.date_from)
    measures = (
        func.count().label("delivered"),
        func.coalesce(func.sum(Intervention.amount), 0).label("amount"),
        func.count().filter(focus).label("delivered_focus"),
        func.coalesce(func.sum(Intervention.amount).filter(focus), 0).label("amount_focus"),
    )
    strategy, tag, none = cast(Programme.strategy, String), cast(Programme.budget_tag, String), cast(null(), String)

    def grouped(level: str, agency, name, strategy_col, tag_col, group_by):
        stmt = (
            select(literal_column(f"'{level}'").label("level"), agency.label("agency"), name.label("name"),
                   strategy_col.label("strategy"), tag_col.label("tag"), *measures)
            .select_from(Intervention)
            .join(Case, Case.id == Intervention.case_id)
            .join(Programme, Programme.id == Intervention.programme_id)
            .join(Agency, Agency.id == Intervention.agency_id)
            .where(delivered, *_case_where(scope, f, through_interventions=False), *intervention_where(f))
        )
        return stmt.group_by(*group_by) if group_by else stmt

    stmt = union_all(
        grouped("cell", Agency.code, Agency.name, strategy, tag,
                (Agency.code, Agency.name, Programme.strategy, Programme.budget_tag)),
        grouped("tag", none, none, none, tag, (Programme.budget_tag,)),
        grouped("total", none, none, none, none, ()),
    )
    result: dict = {"rows": [], "tags": [], "total": None}
    for r in db.session.execute(stmt):
        row = {"delivered": r.delivered, "amount": rupiah(r.amount),
               "delivered_focus": r.delivered_focus, "amount_focus": rupiah(r.amount_focus)}
        if r.level == "cell":
            result["rows"].append({"agency": r.agency, "name": r.name, "strategy": r.strategy, "tag": r.tag} | row)
        elif r.level == "tag":
            result["tags"].append({"tag": r.tag} | row)
        else:
            result["total"] = row
    result["rows"].sort(key=lambda row: (row["agency"], row["strategy"], row["tag"]))
    result["tags"].sort(key=lambda row: TAG_ORDER.get(row["tag"], 9))
    result["focus_from"] = f.focus_from.isoformat() if f.focus_from else None
    if not f.focus_from:  # no "this quarter" split: the focus columns would repeat the totals
        for row in [*result["rows"], *result["tags"], result["total"]]:
            row.pop("delivered_focus")
            row.pop("amount_focus")
    return result


TAG_ORDER = {"direct": 0, "indirect": 1, "supporting": 2}


def _extreme(line: dict | None) -> ColumnElement[bool]:
    """Recorded income per active member below the line in force (the caller requires desil 1).

    Income is the proxy we hold for spending; a household with no income recorded for anyone is not
    counted as extreme (unknown), one whose recorded incomes are all zero is. Aggregates over the
    household's members (the caller groups by household).
    """
    if line is None:
        return literal_column("1") == literal_column("0")
    return and_(func.count(Person.monthly_income) > 0,
                func.coalesce(func.sum(Person.monthly_income), 0)
                < line["rupiah_per_capita_month"] * func.count(Person.id))


def target_households(scope: Scope, f: ReportFilters, line: dict | None):
    """Desil-1 households of the register (active), one row each with kelurahan, kecamatan, RW/RT and
    the flags. Members are joined and grouped by household (one pass over the target households'
    members, whatever the planner knows about the tables)."""
    kelurahan = aliased(Region, name="hh_kelurahan")
    covered = exists().where(Case.household_id == Household.id, Intervention.case_id == Case.id,
                             delivered_in(f), *intervention_where(f))
    verified = exists().where(Case.household_id == Household.id, Step.case_id == Case.id,
                              Step.decision == "approve_verification", Step.status == StepStatus.DONE,
                              Step.decided_at < f.as_of)
    documents = and_(Household.kk_hash.is_not(None), func.count(Person.id) > 0,
                     func.count(Person.nik_hash) == func.count(Person.id))
    flag = lambda condition: case((condition, 1), else_=0)  # noqa: E731
    extreme = _extreme(line)
    stmt = (
        select(Household.id.label("household_id"), Household.kelurahan_code.label("kelurahan"),
               kelurahan.parent_code.label("kecamatan"), Household.rw.label("rw"), Household.rt.label("rt"),
               flag(extreme).label("extreme"), flag(covered).label("covered"),
               flag(and_(extreme, covered)).label("extreme_covered"),
               flag(documents).label("documents"), flag(verified).label("verified"))
        .join(kelurahan, kelurahan.code == Household.kelurahan_code)
        .outerjoin(Person, and_(Person.household_id == Household.id, Person.active.is_(True)))
        .where(Household.desil == 1, Household.status == HouseholdStatus.ACTIVE)
        .group_by(Household.id, Household.kelurahan_code, kelurahan.parent_code, Household.rw, Household.rt,
                  Household.kk_hash)
    )
    if scope.kecamatan:
        stmt = stmt.where(kelurahan.parent_code == scope.kecamatan)
    if f.kecamatan:
        stmt = stmt.where(kelurahan.parent_code == f.kecamatan)
    if f.kelurahan:
        stmt = stmt.where(Household.kelurahan_code == f.kelurahan)
    return stmt


COVERAGE_MEASURES = ("desil1", "desil1_covered", "extreme", "extreme_covered", "documents", "verified")


def coverage(scope: Scope, f: ReportFilters, line: dict | None) -> dict:
    """Desil-1 and extreme-poor households, and how many got ≥ 1 intervention delivered in the period,
    by kelurahan, kecamatan and city (one statement, three groupings); plus documents and verification."""
    target = target_households(scope, f, line).cte("target")

    def measures(t):
        total = lambda column: func.coalesce(func.sum(column), 0)  # noqa: E731
        return (func.count(t.c.household_id).label("desil1"), total(t.c.covered).label("desil1_covered"),
                total(t.c.extreme).label("extreme"), total(t.c.extreme_covered).label("extreme_covered"),
                total(t.c.documents).label("documents"), total(t.c.verified).label("verified"))

    kel = select(literal_column("'kelurahan'").label("level"), Region.code.label("code"), Region.name.label("name"),
                 Region.parent_code.label("parent"), *measures(target)) \
        .select_from(Region).outerjoin(target, target.c.kelurahan == Region.code) \
        .where(Region.level == RegionLevel.KELURAHAN).group_by(Region.code, Region.name, Region.parent_code)
    kec = select(literal_column("'kecamatan'"), Region.code, Region.name, Region.parent_code, *measures(target)) \
        .select_from(Region).outerjoin(target, target.c.kecamatan == Region.code) \
        .where(Region.level == RegionLevel.KECAMATAN).group_by(Region.code, Region.name, Region.parent_code)
    for area in (scope.kecamatan, f.kecamatan):
        if area:
            kel, kec = kel.where(Region.parent_code == area), kec.where(Region.code == area)
    if f.kelurahan:
        kel = kel.where(Region.code == f.kelurahan)
        kec = kec.where(Region.code == f.kelurahan.rsplit(".", 1)[0])
    city = select(literal_column("'city'"), cast(null(), String), cast(null(), String), cast(null(), String),
                  *measures(target)).select_from(target)
    result: dict = {"kelurahan": [], "kecamatan": [], "city": None, "extreme_available": line is not None}
    for r in db.session.execute(union_all(kel, kec, city)):
        row = {m: int(getattr(r, m)) for m in COVERAGE_MEASURES}
        if line is None:
            row["extreme"] = row["extreme_covered"] = None
        if r.level == "city":
            result["city"] = row
        else:
            result[r.level].append({"code": r.code, "name": r.name, "kecamatan": r.parent} | row)
    result["kelurahan"].sort(key=lambda row: (row["kecamatan"], row["name"]))
    result["kecamatan"].sort(key=lambda row: row["code"])
    return result


def graduation(scope: Scope, f: ReportFilters) -> dict:
    """Cases closed in the period: graduated / closed after an approved evaluation (graduated or
    referred out), and days from opening to closing of the graduated ones (median, 90th percentile)."""
    closed_in = and_(Case.stage == Stage.CLOSED, Case.closed_at >= f.start, Case.closed_at < f.end)
    where = (closed_in, *_case_where(scope, f))
    counts = db.session.execute(select(
        func.count().label("closed"),
        func.count().filter(Case.outcome.in_(CLOSED_AFTER_EVALUATION)).label("after_evaluation"),
        func.count().filter(Case.outcome == "graduated").label("graduated"),
    ).where(*where)).one()
    durations = (select(days_between(Case.opened_at, Case.closed_at).label("days"))
                 .where(*where, Case.outcome == "graduated").subquery("graduated"))
    times = db.session.execute(percentiles(db.session, durations, [], "days", (0.5, 0.9))).one()
    return {"closed": counts.closed, "closed_after_evaluation": counts.after_evaluation,
            "graduated": counts.graduated, "median_days": _days(times.p0), "p90_days": _days(times.p1)}


def compute_figures(scope: Scope, f: ReportFilters) -> dict:
    """Every dashboard figure for *scope* and *f*, raw (no suppression), JSON-ready. Nine statements."""
    line = poverty_line(f.as_of_date)
    return {
        "schema": FIGURES_SCHEMA,
        "scope": {"kecamatan": scope.kecamatan},
        "filters": f.public(),
        "as_of": f.as_of.isoformat(),
        "poverty_line": line,
        "funnel": funnel(scope, f),
        "overdue": overdue_by_agency(scope, f),
        "durations": step_durations(scope, f),
        "interventions": interventions(scope, f),
        "budget": budget(scope, f),
        "coverage": coverage(scope, f, line),
        "graduation": graduation(scope, f),
    }
