"""The scoped-query layer: every list, search, count, export and load of cases starts here.

Scope is decided once, in SQL (DESIGN.md §1). Views never filter by scope themselves; they take
``visible_cases(user)`` and add their own filters. An object outside scope is a 404.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import Select, and_, exists, false, or_, select, true

from caseapp.agencies.models import AgencyKind, Region
from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, Intervention, Stage
from caseapp.extensions import db
from caseapp.households.models import Household


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


def household_scope(user: User):
    """The WHERE clause limiting households to *user*'s scope.

    Social workers see their area's register (to search before registering) and the households of
    their cases; supervisors their kecamatan; agency officers only households of cases they serve.
    """
    role = Role(user.role)
    if role == Role.ADMIN:
        return true()
    if role == Role.SUPERVISOR:
        if not user.kecamatan_code:
            return true()
        in_kecamatan = select(Region.code).where(Region.parent_code == user.kecamatan_code)
        return Household.kelurahan_code.in_(in_kecamatan)
    if role in (Role.SOCIAL_WORKER, Role.AGENCY_OFFICER):
        of_cases = Household.id.in_(select(Case.household_id).where(case_scope(user)))
        if role == Role.SOCIAL_WORKER and user.kelurahan_code:
            return or_(Household.kelurahan_code == user.kelurahan_code, of_cases)
        if role == Role.SOCIAL_WORKER and user.kecamatan_code:
            in_kecamatan = select(Region.code).where(Region.parent_code == user.kecamatan_code)
            return or_(Household.kelurahan_code.in_(in_kecamatan), of_cases)
        return of_cases
    return false()


def visible_households(user: User) -> Select:
    return select(Household).where(household_scope(user))


def get_visible_household_or_404(user: User, household_id: int) -> Household:
    household = db.session.scalar(visible_households(user).where(Household.id == household_id))
    if household is None:
        abort(404)
    return household
