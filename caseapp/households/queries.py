"""Which households a user may see, in SQL.

Social workers and kelurahan desks see their area's register (to search before they register a
family); supervisors their kecamatan; everyone also sees the households of the cases in their scope.
That last part belongs to the cases domain, which sits above this one: it registers a *case link*
(user → subquery of household ids) at start-up instead of this module importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    except_,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

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


def _in_kecamatan(column, kecamatan_code: str) -> ColumnElement[bool]:
    return column.in_(select(Region.code).where(Region.parent_code == kecamatan_code))


@dataclass(frozen=True)
class _Scope:
    """*user*'s household scope in parts: everything, or an area (a test on a kelurahan column) plus the
    households of their cases (the registered case links). Any one part admits a household."""

    everything: bool = False
    area: Callable[[Any], ColumnElement[bool]] | None = None
    links: tuple[Select, ...] = ()


def _scope_of(user: User) -> _Scope:
    """The scope rules, stated once (fail closed for unknown roles)."""
    role = Role(user.role)
    if role == Role.ADMIN:
        return _Scope(everything=True)
    if role == Role.SUPERVISOR:
        kecamatan = user.kecamatan_code
        return _Scope(area=lambda column: _in_kecamatan(column, kecamatan)) if kecamatan else _Scope(everything=True)
    if role not in (Role.SOCIAL_WORKER, Role.AGENCY_OFFICER):
        return _Scope()
    links = tuple(link(user) for link in _case_links)
    area = None
    if role == Role.SOCIAL_WORKER and user.kelurahan_code:
        kelurahan = user.kelurahan_code
        area = lambda column: column == kelurahan  # noqa: E731
    elif role == Role.SOCIAL_WORKER and user.kecamatan_code:
        kecamatan = user.kecamatan_code
        area = lambda column: _in_kecamatan(column, kecamatan)  # noqa: E731
    elif role == Role.AGENCY_OFFICER and user.agency is not None and user.agency.kind == AgencyKind.KELURAHAN:
        kelurahan = user.agency.kelurahan_code
        area = lambda column: column == kelurahan  # noqa: E731
    return _Scope(area=area, links=links)


def household_scope(user: User) -> ColumnElement[bool]:
    """The WHERE clause limiting households to *user*'s scope (fail closed for unknown roles).

    The area comes first in the OR and the case links are correlated EXISTS: PostgreSQL evaluates the
    arms in order, so a household in the area never reaches the case links, and the planner may still
    hash a link's subquery once when it expects to test many households.
    """
    scope = _scope_of(user)
    if scope.everything:
        return true()
    clauses = [scope.area(Household.kelurahan_code)] if scope.area is not None else []
    clauses += [link.where(link.selected_columns[0] == Household.id).exists() for link in scope.links]
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
        stmt = stmt.where(Household.id.in_(households_named(user, q)))
    return stmt


def households_named(user: User, q: str) -> Select | CompoundSelect:
    """Ids of households in *user*'s scope with an active member named like *q* (duplicates possible).

    The scope is applied to the persons themselves (``persons.kelurahan_code`` mirrors the household's)
    and one arm at a time, UNION ALL: the area arm is answered by the GIN index on (kelurahan, name
    trigrams) alone, the case arm by ``persons.household_id``. A name matching 1% of the city and a
    kelurahan holding 2% of it meet in a few rows, which an OR of the arms, or the scope applied to
    households afterwards, would find only after reading every match in the city. Callers still
    apply ``household_scope`` to the households (the arms never widen it; that keeps it so).
    """
    matches = select(Person.household_id).where(Person.active.is_(True), name_matches(q))
    scope = _scope_of(user)
    if scope.everything:
        return matches
    arms = [matches.where(scope.area(Person.kelurahan_code))] if scope.area is not None else []
    for link in scope.links:
        if scope.area is not None:
            # The area arm already has the case households inside the area: the case arm needs only
            # the others (a worker's caseload is mostly in their own kelurahan).
            in_area = aliased(Household)
            link = except_(link, select(in_area.id).where(scope.area(in_area.kelurahan_code)))
        arms.append(matches.where(Person.household_id.in_(link)))
    if not arms:
        return matches.where(false())
    return arms[0] if len(arms) == 1 else union_all(*arms)


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
