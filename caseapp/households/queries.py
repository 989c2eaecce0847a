"""Which households a user may see, in SQL.

Social workers and kelurahan desks see their area's register (to search before they register a
family); supervisors their kecamatan; everyone also sees the households of the cases in their scope.
That last part belongs to the cases domain, which sits above this one: it registers a *case link*
(user → subquery of household ids) at start-up instead of this module importing it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, Select, false, func, literal, or_, select, true

from caseapp.agencies.models import AgencyKind, Region
from caseapp.auth.models import Role, User
from caseapp.core.audit import deny_out_of_scope
from caseapp.extensions import db
from caseapp.households.models import Household, Person

CaseLink = Callable[[User], Select]
_case_links: list[CaseLink] = []


def register_case_link(link: CaseLink) -> None:
    """Add a source of households linked to a user through their cases (idempotent)."""
    if link not in _case_links:
        _case_links.append(link)


def _in_kecamatan(kecamatan_code: str) -> ColumnElement[bool]:
    return Household.kelurahan_code.in_(select(Region.code).where(Region.parent_code == kecamatan_code))


def household_scope(user: User) -> ColumnElement[bool]:
    """The WHERE clause limiting households to *user*'s scope (fail closed for unknown roles)."""
    role = Role(user.role)
    if role == Role.ADMIN:
        return true()
    if role == Role.SUPERVISOR:
        return _in_kecamatan(user.kecamatan_code) if user.kecamatan_code else true()
    if role not in (Role.SOCIAL_WORKER, Role.AGENCY_OFFICER):
        return false()
    clauses = [Household.id.in_(link(user)) for link in _case_links]
    if role == Role.SOCIAL_WORKER and user.kelurahan_code:
        clauses.append(Household.kelurahan_code == user.kelurahan_code)
    elif role == Role.SOCIAL_WORKER and user.kecamatan_code:
        clauses.append(_in_kecamatan(user.kecamatan_code))
    elif role == Role.AGENCY_OFFICER and user.agency is not None and user.agency.kind == AgencyKind.KELURAHAN:
        clauses.append(Household.kelurahan_code == user.agency.kelurahan_code)
    return or_(*clauses) if clauses else false()


def visible_households(user: User) -> Select:
    return select(Household).where(household_scope(user))


def get_visible_household_or_404(user: User, household_id: int) -> Household:
    household = db.session.scalar(visible_households(user).where(Household.id == household_id))
    if household is None:
        deny_out_of_scope("household", household_id)
    return household


def filtered_households(user: User, *, kelurahan: str | None = None, desil: int | None = None,
                        q: str | None = None) -> Select:
    """``visible_households(user)`` narrowed by kelurahan, desil and a member's name (case-insensitive)."""
    stmt = visible_households(user)
    if kelurahan:
        stmt = stmt.where(Household.kelurahan_code == kelurahan)
    if desil is not None:
        stmt = stmt.where(Household.desil == desil)
    if q:
        stmt = stmt.where(Household.id.in_(select(Person.household_id).where(Person.active.is_(True), name_matches(q))))
    return stmt


def name_matches(q: str) -> ColumnElement[bool]:
    """A member name containing *q*; on PostgreSQL also a misspelt one (pg_trgm, GIN index of 0004c).

    ``q <% name``: *q* is close (word similarity ≥ ``pg_trgm.word_similarity_threshold``, 0.6) to a run
    of words of the name, which covers a misspelt whole name as well as a misspelt part of it. Served
    by ``ix_persons_name_trgm``, as is the ILIKE (the whole-name ``%`` operator was dropped: at 1 M
    names its index scan alone took twice as long and found nothing more).
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return Person.name.icontains(q, autoescape=True)
    # ILIKE on the column itself (not lower(name)) and without an ESCAPE clause (backslash is
    # PostgreSQL's default), so the trigram index answers all three arms of the OR.
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(Person.name.ilike(f"%{escaped}%"), literal(q).bool_op("<%")(Person.name))


def count_households(stmt: Select) -> int:
    return db.session.scalar(
        select(func.count()).select_from(stmt.with_only_columns(Household.id).order_by(None).subquery())
    ) or 0
