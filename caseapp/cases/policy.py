"""Who may do what to a case they can see, and which data sections they may read.

Scope (which cases at all) is decided in ``queries.py``; this module answers the questions asked
about one case already in scope. Policies return booleans; an exception inside one denies.
"""

from __future__ import annotations

from caseapp.agencies.models import AgencyKind
from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, Intervention, InterventionStatus, Stage
from caseapp.cases.workflow import Transition, candidate_actions
from caseapp.households.models import Section

ALL_SECTIONS = frozenset(Section)

# DESIGN.md §1: each agency kind reads only the sections its work needs. The housing team never
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


def visible_sections(user: User) -> frozenset[Section]:
    """The data sections *user* may read on a case in scope."""
    role = Role(user.role)
    if role in (Role.ADMIN, Role.SUPERVISOR, Role.SOCIAL_WORKER):
        return ALL_SECTIONS
    if role == Role.AGENCY_OFFICER and user.agency is not None:
        return SECTIONS_BY_AGENCY_KIND.get(AgencyKind(user.agency.kind), frozenset())
    return frozenset()


def can_read_section(user: User, section: Section | str) -> bool:
    return Section(section) in visible_sections(user)


def can_reveal_identity(user: User) -> bool:
    """Full NIK/KK for the roles whose work needs it (every reveal is logged)."""
    return Role(user.role) in (Role.ADMIN, Role.SUPERVISOR, Role.SOCIAL_WORKER)


def role_may_take(transition: Transition, user: User, case: Case) -> bool:
    """Role and ownership part of a transition; guards on data are checked by the operation."""
    if transition.automatic or Role(user.role) not in transition.roles:
        return False
    return not ("actor_is_owner" in transition.guards and case.owner_id != user.id)


def allowed_transitions(case: Case, user: User, *, submitted_by_id: int | None = None) -> list[Transition]:
    """The actions *user* may take on *case* now (the buttons shown, ``allowed_actions`` in the API)."""
    allowed = []
    for transition in candidate_actions(Stage(case.stage), case.status):
        if not role_may_take(transition, user, case):
            continue
        if "not_own_submission" in transition.guards and submitted_by_id == user.id:
            continue
        allowed.append(transition)
    return allowed


def can_work_intervention(user: User, intervention: Intervention) -> bool:
    """Agency officers work their own agency's interventions."""
    return Role(user.role) == Role.AGENCY_OFFICER and user.agency_id == intervention.agency_id


def can_cancel_intervention(user: User, intervention: Intervention) -> bool:
    if intervention.status in (InterventionStatus.DELIVERED, InterventionStatus.CANCELLED):
        return False
    return can_work_intervention(user, intervention) or Role(user.role) == Role.SUPERVISOR
