"""The scoped-query layer: every list, search, count, export and load of cases starts here.

Scope is decided once, in SQL (DESIGN.md §1). Views never filter by scope themselves; they take
``visible_cases(user)`` and add their own filters. An object outside scope is a 404.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import Select, and_, exists, false, or_, select, true

from caseapp.agencies.models import AgencyKind
from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, Intervention, Stage
from caseapp.extensions import db
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


def visible_cases(user: User) -> Select:
    """``SELECT cases`` limited to *user*'s scope."""
    return select(Case).where(case_scope(user))


def get_visible_case_or_404(user: User, case_id: int) -> Case:
    case = db.session.scalar(visible_cases(user).where(Case.id == case_id))
    if case is None:
        abort(404)
    return case


def households_of_visible_cases(user: User) -> Select:
    """Household ids of the cases *user* may see (registered as a case link for household scope)."""
    return select(Case.household_id).where(case_scope(user))


def init_case_queries() -> None:
    register_case_link(households_of_visible_cases)
