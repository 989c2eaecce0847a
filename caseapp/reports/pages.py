"""What the report pages read besides the indicators themselves: the dashboard's stored (scheduled)
figures and the register totals computed with them, the filter choices, quarters and snapshots."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, or_, select

from caseapp.agencies.models import Agency, Programme, Region, RegionLevel
from caseapp.auth.models import User
from caseapp.cases.models import Case
from caseapp.extensions import db
from caseapp.households.models import Household, Person
from caseapp.reports.models import DashboardFigures, ReportSnapshot
from caseapp.reports.periods import Quarter
from caseapp.reports.queries import CASE_AGENCY, FIGURES_SCHEMA, ReportFilters, Scope, compute_figures

# The register's totals (households, members, desil 1), computed with the scheduled dashboard refresh.
REGISTER_KEY = "register"


def dashboard_key(scope: Scope, f: ReportFilters) -> str:
    return f"{scope.kecamatan or 'city'}|{f.date_from.isoformat()}|{f.date_to.isoformat()}"


def dashboard_figures(scope: Scope, f: ReportFilters) -> tuple[dict, datetime | None]:
    """The dashboard's raw figures and, when they come from the scheduled pre-computation, when that
    ran. Pre-computed figures answer only the default view (no narrowing filter) of the same period;
    every other view is computed live (same statements, so the same numbers)."""
    if not (f.kecamatan or f.kelurahan or f.programme or f.agency or f.focus_from):
        stored = db.session.get(DashboardFigures, dashboard_key(scope, f))
        if stored is not None and stored.figures.get("schema") == FIGURES_SCHEMA:
            return stored.figures, stored.computed_at
    return compute_figures(scope, f), None


def register_totals() -> tuple[dict, datetime | None]:
    """Households, members and desil-1 households of the city, and when they were counted: from the
    scheduled refresh when it has run (counting 4 M members takes a while), else counted now."""
    stored = db.session.get(DashboardFigures, REGISTER_KEY)
    if stored is not None:
        return stored.figures, stored.computed_at
    return count_register(), None


def count_register() -> dict:
    return {
        "households": db.session.scalar(select(func.count(Household.id))) or 0,
        "persons": db.session.scalar(select(func.count(Person.id))) or 0,
        "desil_1": db.session.scalar(select(func.count(Household.id)).where(Household.desil == 1)) or 0,
    }


def filter_choices(scope: Scope) -> dict:
    """Kecamatan, kelurahan, programmes and agencies for the filter form (three statements)."""
    regions = select(Region.code, Region.name, Region.level, Region.parent_code).where(
        Region.level.in_((RegionLevel.KECAMATAN, RegionLevel.KELURAHAN))).order_by(Region.name)
    if scope.kecamatan:
        regions = regions.where(or_(Region.code == scope.kecamatan, Region.parent_code == scope.kecamatan))
    kecamatan, kelurahan = [], []
    for r in db.session.execute(regions):
        (kecamatan if r.level == RegionLevel.KECAMATAN else kelurahan).append((r.code, r.name, r.parent_code))
    programmes = db.session.execute(select(Programme.code, Programme.name).order_by(Programme.name)).all()
    agencies = db.session.execute(
        select(Agency.code, Agency.name)
        .where(or_(Agency.id.in_(select(Programme.agency_id)), Agency.code == CASE_AGENCY))
        .order_by(Agency.name)).all()
    return {"kecamatan": kecamatan, "kelurahan": kelurahan, "programmes": [tuple(r) for r in programmes],
            "agencies": [tuple(r) for r in agencies]}


def first_case_date() -> date | None:
    first = db.session.scalar(select(func.min(Case.opened_at)))
    return first.date() if first else None


# --- quarters and snapshots ----------------------------------------------------------------------

def quarter_filters(quarter: Quarter) -> ReportFilters:
    """A quarterly report counts from 1 January up to the quarter's end ("s.d. triwulan"), with the
    quarter itself as the budget's focus."""
    return ReportFilters(date_from=quarter.year_start, date_to=quarter.end, focus_from=quarter.start)


def snapshot_for(quarter: Quarter) -> ReportSnapshot | None:
    return db.session.scalar(select(ReportSnapshot).where(ReportSnapshot.year == quarter.year,
                                                          ReportSnapshot.quarter == quarter.number))


def snapshot_list() -> dict[tuple[int, int], dict]:
    """When each quarter was frozen and by whom (not the figures themselves)."""
    rows = db.session.execute(
        select(ReportSnapshot.year, ReportSnapshot.quarter, ReportSnapshot.taken_at, User.full_name)
        .outerjoin(User, User.id == ReportSnapshot.taken_by_id))
    return {(r.year, r.quarter): {"taken_at": r.taken_at, "taken_by": r.full_name} for r in rows}


def quarter_figures(scope: Scope, quarter: Quarter) -> tuple[dict, ReportSnapshot | None]:
    """The quarter's raw figures for *scope*: from its snapshot once one exists, else live."""
    snapshot = snapshot_for(quarter)
    if snapshot is None:
        return compute_figures(scope, quarter_filters(quarter)), None
    frozen = snapshot.figures["city"] if scope.kecamatan is None else snapshot.figures["kecamatan"].get(scope.kecamatan)
    if frozen is None:  # a kecamatan that did not exist when the snapshot was taken
        return compute_figures(scope, quarter_filters(quarter)), None
    return frozen, snapshot
