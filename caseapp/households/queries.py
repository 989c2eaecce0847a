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
    Integer,
    Select,
    Table,
    any_,
    cast,
    except_,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BooleanClauseList

from caseapp.agencies.models import AgencyKind, Region, RegionLevel
from caseapp.auth.models import Role, User
from caseapp.core import counting
from caseapp.core.audit import deny_out_of_scope
from caseapp.extensions import db
from caseapp.households.models import Household, Person

CaseLink = Callable[[User], Select]
_case_links: list[CaseLink] = []


def register_case_link(link: CaseLink) -> None:
    """Add a source of households linked to a user through their cases (idempotent)."""
    if link not in _case_links:
        _case_links.append(link)


def _link_arms(link: Select) -> list[Select]:
    """A case link's ``SELECT household_id FROM t WHERE a OR b`` as ``[… WHERE a, … WHERE b]``.

    The same set (used only in IN / EXCEPT): PostgreSQL reads an OR through a bitmap of the table
    itself, one arm at a time through an index alone (a worker's own cases: ``ix_cases_owner_household``,
    0005d). Anything but one plain table with a top-level OR is returned whole.
    """
    where, froms = link.whereclause, link.get_final_froms()
    if not (isinstance(where, BooleanClauseList) and where.operator is operators.or_ and len(froms) == 1
            and isinstance(froms[0], Table) and not link._group_by_clauses and link._limit_clause is None):
        return [link]
    return [select(*link.selected_columns).where(clause) for clause in where.clauses]


def _in_kecamatan(column, kecamatan_code: str) -> ColumnElement[bool]:
    kelurahan = aliased(Region)  # never correlated, even when *column* is a region's own code
    return column.in_(select(kelurahan.code).where(kelurahan.parent_code == kecamatan_code))


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


def household_scope(user: User, *, few: bool = False) -> ColumnElement[bool]:
    """The WHERE clause limiting households to *user*'s scope (fail closed for unknown roles).

    The area comes first in the OR: PostgreSQL evaluates the arms in order, so a household in the
    area never reaches the case links. *few*: the caller tests a few households already found (a name
    search), so each case link is a correlated EXISTS, planned per household; otherwise ``IN``, which
    the planner hashes once for a scan of many (the same set either way).
    """
    scope = _scope_of(user)
    if scope.everything:
        return true()
    clauses = [scope.area(Household.kelurahan_code)] if scope.area is not None else []
    if few:
        clauses += [link.where(link.selected_columns[0] == Household.id).exists() for link in scope.links]
    else:
        clauses += [Household.id.in_(link) for link in scope.links]
    return or_(*clauses) if clauses else false()


def visible_households(user: User, *, few: bool = False) -> Select:
    return select(Household).where(household_scope(user, few=few))


def get_visible_household_or_404(user: User, household_id: int) -> Household:
    household = db.session.scalar(visible_households(user, few=True).where(Household.id == household_id))
    if household is None:
        deny_out_of_scope("household", household_id)
    return household


def is_household_visible(user: User, household_id: int) -> bool:
    """Whether *user* may see the household *household_id* (one household: the case links are tested
    for it alone, not collected for the whole scope)."""
    return db.session.scalar(
        visible_households(user, few=True).with_only_columns(Household.id).where(Household.id == household_id)
    ) is not None


def filtered_households(user: User, *, kelurahan: str | None = None, desil: int | None = None,
                        q: str | None = None) -> Select:
    """``visible_households(user)`` narrowed by kelurahan, desil and a member's name (case-insensitive)."""
    stmt = visible_households(user, few=bool(q))
    if kelurahan:
        stmt = stmt.where(Household.kelurahan_code == kelurahan)
    if desil is not None:
        stmt = stmt.where(Household.desil == desil)
    if q:
        stmt = stmt.where(Household.id.in_(households_named(user, q)))
    return stmt


def _linked_outside_area(scope: _Scope) -> list[Select | CompoundSelect]:
    """Per case link, the ids of its households that the area does not already admit.

    A worker's caseload is mostly in their own kelurahan: what is left is usually nothing, found by
    two index-only scans (their cases' households, the area's households) and a hash, never by
    looking at their people.
    """
    if scope.area is None:
        return list(scope.links)
    in_area = aliased(Household)
    area_ids = select(in_area.id).where(scope.area(in_area.kelurahan_code))
    outside = []
    for link in scope.links:
        arms = _link_arms(link)
        if len(arms) > 1:  # (a UNION ALL b) EXCEPT c, in a form SQLite accepts too
            both = union_all(*arms).subquery()
            arms = [select(both.c[0])]
        outside.append(except_(arms[0], area_ids))
    return outside


def count_visible_households(user: User) -> int:
    """How many households *user* may see, by the scope's parts: the area's households counted on
    ``ix_households_kelurahan_id`` and the case links' households outside the area (usually none),
    instead of testing every household of the city against the OR of the scope."""
    scope = _scope_of(user)
    if scope.everything:
        return db.session.scalar(select(func.count(Household.id))) or 0
    total = 0
    if scope.area is not None:
        total += db.session.scalar(select(func.count(Household.id)).where(scope.area(Household.kelurahan_code))) or 0
    outside = _linked_outside_area(scope)
    if outside:
        linked = union(*outside).subquery() if len(outside) > 1 else outside[0].subquery()
        total += db.session.scalar(select(func.count()).select_from(linked)) or 0
    return total


def kelurahan_with_households(user: User) -> Select:
    """Codes of the kelurahan where *user* can see at least one household (for the list's filter).

    The area's kelurahan come from the regions; the case links add only the kelurahan of their
    households outside the area (usually none), so this never reads the area's households' rows.
    """
    scope = _scope_of(user)
    if scope.everything:
        return select(Region.code).where(Region.level == RegionLevel.KELURAHAN)
    parts: list[Select] = []
    if scope.area is not None:
        parts.append(select(Region.code).where(Region.level == RegionLevel.KELURAHAN, scope.area(Region.code)))
    parts += [select(Household.kelurahan_code).where(Household.id.in_(ids)) for ids in _linked_outside_area(scope)]
    if not parts:
        return select(Region.code).where(false())
    return parts[0] if len(parts) == 1 else union(*parts)


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
    as_array = scope.area is not None and db.session.get_bind().dialect.name == "postgresql"
    for ids in _linked_outside_area(scope):
        if as_array:
            # Computed once, as an array (usually empty): the planner then probes persons by household,
            # instead of guessing the set large and reading every match in the city to join it.
            # Without an area (an agency's officers: tens of thousands of case households at 1 M) the
            # planner's own choice, a join with the city's matches, stays.
            listed = ids.subquery()
            ids = cast(select(func.array_agg(listed.c[0])).scalar_subquery(), postgresql.ARRAY(Integer))
            arms.append(matches.where(Person.household_id == any_(ids)))
        else:
            arms.append(matches.where(Person.household_id.in_(ids)))
    if not arms:
        return matches.where(false())
    return arms[0] if len(arms) == 1 else union_all(*arms)


def name_matches(q: str) -> ColumnElement[bool]:
    """A member name containing *q*; on PostgreSQL also a misspelt one (pg_trgm, GIN index of 0005d).

    ``q <% name``: *q* is close (word similarity ≥ ``pg_trgm.word_similarity_threshold``, 0.6) to a run
    of words of the name, which covers a misspelt whole name as well as a misspelt part of it. Served
    by ``ix_persons_kelurahan_name_trgm`` (with or without a kelurahan), as is the ILIKE (the whole-name
    ``%`` operator was dropped: at 1 M names its index scan alone took twice as long and found nothing
    more).
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


@dataclass(frozen=True)
class IdPage:
    """One page of a list, found by one statement: the ids on the page, newest first, and the count."""

    ids: list[int]
    page: int
    pages: int
    total: int
    more: bool  # True: there are more than ``total`` (the count stopped at the cap)


def page_of_ids(stmt: Select, page: int, per_page: int, *, cap: int | None = None) -> IdPage:
    """The ids of page *page* of *stmt* (households, id descending) and their count, stopping at *cap*.

    One statement instead of a count and a page: the matches are found once, and the count stops at
    *cap* (or at the end of the requested page, if that is deeper, so every page stays reachable).
    """
    limit = max(counting.COUNT_CAP if cap is None else cap, page * per_page) + 1
    ids = list(db.session.scalars(stmt.with_only_columns(Household.id).order_by(Household.id.desc()).limit(limit)))
    more = len(ids) == limit
    pages = max(-(-len(ids) // per_page), 1)
    page = min(page, pages)
    return IdPage(ids[(page - 1) * per_page:page * per_page], page, pages, len(ids) - 1 if more else len(ids), more)

