"""Who may read which household data, reveal identity numbers, and register or edit households.

Scope (which households at all) is decided in ``queries.py``; this module answers questions about
data already in scope. It is the single source of the agency kind → data sections table: the cases
domain sits above this one and imports it from here. Policies return booleans; one that raises denies.
"""

from __future__ import annotations

from flask import g, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseapp.agencies.models import AgencyKind, AgencyKindSections, Region
from caseapp.auth.models import Role, User
from caseapp.auth.permissions import Permission, has_permission
from caseapp.extensions import db
from caseapp.households.models import Household, HouseholdStatus, HousingSurvey, Person, Section

ALL_SECTIONS = frozenset(Section)

# DESIGN.md §1: each agency kind reads only the sections its work needs. These are the defaults the
# migration seeds into ``agency_kind_sections``; admins edit that table, and the policy reads it. The housing team never
# sees health notes; the health team never sees income or bank data.
SECTIONS_BY_AGENCY_KIND: dict[AgencyKind, frozenset[Section]] = {
    AgencyKind.SOCIAL: ALL_SECTIONS,
    AgencyKind.HEALTH: frozenset({Section.GENERAL, Section.HEALTH, Section.DISABILITY}),
    AgencyKind.HOUSING: frozenset({Section.GENERAL, Section.HOUSING}),
    AgencyKind.EDUCATION: frozenset({Section.GENERAL, Section.CHILDREN}),
    AgencyKind.ECONOMY: frozenset({Section.GENERAL, Section.FINANCE}),
    AgencyKind.CIVIL_REGISTRY: frozenset({Section.GENERAL}),
    AgencyKind.KELURAHAN: frozenset({Section.GENERAL}),
    AgencyKind.PLANNING: frozenset(),
}

# Columns that are identity plumbing or internal, never shown as member data.
_HIDDEN_PERSON_COLUMNS = frozenset({
    "id", "household_id", "nik_ciphertext", "nik_hash", "nik_masked", "health_note", "created_at", "updated_at",
})


_SECTIONS_CACHE = "_sinergi_sections_by_kind"
_SECTION_NAMES = frozenset(s.value for s in Section)


def sections_table(session: Session) -> dict[AgencyKind, frozenset[Section]]:
    """The persisted agency kind → sections table; a kind with no row reads the default above.

    Unknown section names in a row (a section removed from the code) are ignored, never granted.
    """
    table = dict(SECTIONS_BY_AGENCY_KIND)
    for kind, sections in session.execute(select(AgencyKindSections.kind, AgencyKindSections.sections)):
        table[AgencyKind(kind)] = frozenset(Section(s) for s in sections or () if s in _SECTION_NAMES)
    return table


def _sections_for_kind(kind: AgencyKind) -> frozenset[Section]:
    # Read once per app context (a page asks many times); with no app context there is no database.
    if not has_app_context():
        return SECTIONS_BY_AGENCY_KIND.get(kind, frozenset())
    table = g.get(_SECTIONS_CACHE)
    if table is None:
        table = sections_table(db.session)
        g.setdefault(_SECTIONS_CACHE, table)
    return table.get(kind, frozenset())


def forget_sections_cache() -> None:
    """Drop the per-request copy (after an admin saved the table)."""
    if has_app_context():
        g.pop(_SECTIONS_CACHE, None)


def visible_sections(user: User) -> frozenset[Section]:
    """The data sections *user* may read on a household or case in scope (persisted table, §1)."""
    role = Role(user.role)
    if role in (Role.ADMIN, Role.SUPERVISOR, Role.SOCIAL_WORKER):
        return ALL_SECTIONS
    if role == Role.AGENCY_OFFICER and user.agency is not None:
        return _sections_for_kind(AgencyKind(user.agency.kind))
    return frozenset()


def can_read_section(user: User, section: Section | str) -> bool:
    return Section(section) in visible_sections(user)


def person_column_section(name: str) -> Section:
    """The section of a ``persons`` column (``general`` unless the model says otherwise)."""
    return Section(Person.__table__.c[name].info.get("section", Section.GENERAL))


def visible_person_fields(user: User) -> frozenset[str]:
    """Names of the member columns *user* may read (the form, the page and the API all use this)."""
    sections = visible_sections(user)
    return frozenset(
        column.name for column in Person.__table__.columns
        if column.name not in _HIDDEN_PERSON_COLUMNS and person_column_section(column.name) in sections
    )


def housing_survey_section(name: str) -> Section:
    """A housing survey is ``housing`` data, except the columns the model classifies otherwise (assets)."""
    return Section(HousingSurvey.__table__.c[name].info.get("section", Section.HOUSING))


def can_reveal_identity(user: User) -> bool:
    """Full NIK/KK for the roles whose work needs it (every reveal is logged)."""
    return Role(user.role) in (Role.ADMIN, Role.SUPERVISOR, Role.SOCIAL_WORKER)


def can_register_in(user: User, kelurahan: Region) -> bool:
    """Whether *user* may register a household in *kelurahan* (it must land inside their area)."""
    if not has_permission(user.role, Permission.HOUSEHOLD_EDIT):
        return False
    role = Role(user.role)
    if role == Role.ADMIN:
        return True
    if role == Role.SUPERVISOR:
        return user.kecamatan_code is None or kelurahan.parent_code == user.kecamatan_code
    if role == Role.SOCIAL_WORKER:
        if user.kelurahan_code:
            return kelurahan.code == user.kelurahan_code
        return bool(user.kecamatan_code) and kelurahan.parent_code == user.kecamatan_code
    return False


def can_edit_household(user: User, household: Household) -> bool:
    """Address, members and KK of a household already in *user*'s scope; anonymised ones are frozen."""
    if household.status == HouseholdStatus.ANONYMISED:
        return False
    return has_permission(user.role, Permission.HOUSEHOLD_EDIT)
