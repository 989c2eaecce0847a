"""The by-name-by-address list of target households (Inpres 4/2022): authorised roles only.

Entries hold no names: :func:`target_entries` gives ids and facts (also what a snapshot freezes) and
:func:`attach_identities` reads name, masked NIK and address from the live register for the rows
shown, so anonymisation reaches old reports too. Callers check ``policy.can_see_target_list`` first.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from caseapp.agencies.models import Agency, Programme, Region
from caseapp.cases.models import Case, Intervention, InterventionStatus
from caseapp.extensions import db
from caseapp.households.models import Household, HouseholdStatus, Person, Relation
from caseapp.reports.models import ReportSnapshot
from caseapp.reports.pages import quarter_filters
from caseapp.reports.periods import Quarter
from caseapp.reports.queries import (
    ReportFilters,
    Scope,
    delivered_in,
    intervention_where,
    poverty_line,
    rupiah,
    target_households,
)

LISTED_STATUSES_OPEN = (InterventionStatus.PENDING, InterventionStatus.CLAIMED, InterventionStatus.IN_PROGRESS)


def target_entries(scope: Scope, f: ReportFilters, *, limit: int | None = None, offset: int = 0) -> list[dict]:
    """Target (desil-1) households with their latest case and the interventions they received in the
    period (delivered) or still wait for; no names here (see :func:`attach_identities`). Two statements."""
    line = poverty_line(f.as_of_date)
    base = target_households(scope, f, line).subquery("targets")
    latest = (select(Case.household_id, func.max(Case.id).label("case_id"))
              .where(Case.opened_at < f.end).group_by(Case.household_id).subquery("latest"))
    order = (base.c.kelurahan, base.c.rw, base.c.rt, base.c.household_id)
    stmt = (
        select(base, Case.number, Case.stage)
        .outerjoin(latest, latest.c.household_id == base.c.household_id)
        .outerjoin(Case, Case.id == latest.c.case_id)
        .order_by(*order)
    )
    page = select(base.c.household_id).order_by(*order)
    if limit is not None:
        stmt, page = stmt.limit(limit).offset(offset), page.limit(limit).offset(offset)
    entries = [{
        "household_id": r.household_id, "kelurahan": r.kelurahan, "rw": r.rw, "rt": r.rt, "desil": 1,
        "extreme": bool(r.extreme), "documents": bool(r.documents), "verified": bool(r.verified),
        "case_number": r.number, "stage": str(r.stage) if r.stage else None, "interventions": [],
    } for r in db.session.execute(stmt)]
    if not entries:
        return entries
    by_id = {e["household_id"]: e for e in entries}
    listed = or_(delivered_in(f), and_(Intervention.status.in_(LISTED_STATUSES_OPEN), Intervention.created_at < f.end))
    ivs = (
        select(Case.household_id, Programme.code, Programme.name, Agency.code.label("agency"), Intervention.status,
               Intervention.delivered_on, Intervention.amount)
        .join(Case, Case.id == Intervention.case_id)
        .join(Programme, Programme.id == Intervention.programme_id)
        .join(Agency, Agency.id == Intervention.agency_id)
        .where(Case.household_id.in_(page), listed, *intervention_where(f))
        .order_by(Case.household_id, Intervention.id)
    )
    for r in db.session.execute(ivs):
        by_id[r.household_id]["interventions"].append({
            "programme": r.code, "programme_name": r.name, "agency": r.agency, "status": str(r.status),
            "delivered_on": r.delivered_on.isoformat() if r.delivered_on else None,
            "amount": rupiah(r.amount) if r.amount is not None else None,
        })
    return entries


def count_targets(scope: Scope, f: ReportFilters) -> int:
    base = target_households(scope, f, None).subquery()
    return db.session.scalar(select(func.count()).select_from(base)) or 0


def attach_identities(entries: list[dict]) -> list[dict]:
    """Add head of household (name, masked NIK), address and kelurahan name from the live register:
    one statement per call (callers page or chunk). Anonymised households come back without a name."""
    if not entries:
        return entries
    head = aliased(Person, name="head")
    rows = db.session.execute(
        select(Household.id, Household.address, Household.status, Region.name, head.name, head.nik_masked)
        .join(Region, Region.code == Household.kelurahan_code)
        .outerjoin(head, and_(head.household_id == Household.id, head.relation == Relation.HEAD,
                              head.active.is_(True)))
        .where(Household.id.in_([e["household_id"] for e in entries]))
    ).all()
    found = {r[0]: r for r in rows}
    for entry in entries:
        row = found.get(entry["household_id"])
        anonymised = row is None or row.status == HouseholdStatus.ANONYMISED
        entry["kelurahan_name"] = row[3] if row else entry["kelurahan"]
        entry["head_name"] = None if anonymised else row[4]
        entry["nik_masked"] = None if anonymised else row[5]
        entry["address"] = None if anonymised else row[1]
    return entries


IDENTITY_CHUNK = 500


def _in_scope(entry: dict, scope: Scope, kelurahan: str | None) -> bool:
    if scope.kecamatan and not entry["kelurahan"].startswith(scope.kecamatan + "."):
        return False
    return not kelurahan or entry["kelurahan"] == kelurahan


def target_page(scope: Scope, quarter: Quarter, snapshot: ReportSnapshot | None, *, kelurahan: str | None,
                page: int, per_page: int) -> tuple[list[dict], int]:
    """One page of the quarter's list with names: from the snapshot's frozen entries, else live."""
    offset = (page - 1) * per_page
    if snapshot is not None:
        frozen = [e for e in snapshot.targets if _in_scope(e, scope, kelurahan)]
        entries, total = [dict(e) for e in frozen[offset:offset + per_page]], len(frozen)
    else:
        filters = replace(quarter_filters(quarter), kelurahan=kelurahan)
        entries = target_entries(scope, filters, limit=per_page, offset=offset)
        total = count_targets(scope, filters)
    return attach_identities(entries), total


def all_targets(scope: Scope, quarter: Quarter, snapshot: ReportSnapshot | None) -> list[dict]:
    """The whole list with names (for the XLSX), identities read in chunks of 500."""
    if snapshot is not None:
        entries = [dict(e) for e in snapshot.targets if _in_scope(e, scope, None)]
    else:
        entries = target_entries(scope, quarter_filters(quarter))
    for start in range(0, len(entries), IDENTITY_CHUNK):
        attach_identities(entries[start:start + IDENTITY_CHUNK])
    return entries
