"""Who may do what to a case they can see, and which data sections they may read.

Scope (which cases at all) is decided in ``queries.py``; this module answers the questions asked
about one case already in scope. Policies return booleans; an exception inside one denies.
"""

from __future__ import annotations

from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, Intervention, InterventionStatus, Stage
from caseapp.cases.workflow import Transition, candidate_actions

# The section rules live one layer down, with the household data they classify (one source); the
# names stay importable from here.
from caseapp.households.policy import ALL_SECTIONS as ALL_SECTIONS
from caseapp.households.policy import SECTIONS_BY_AGENCY_KIND as SECTIONS_BY_AGENCY_KIND
from caseapp.households.policy import can_read_section as can_read_section
from caseapp.households.policy import can_reveal_identity as can_reveal_identity
from caseapp.households.policy import visible_sections as visible_sections


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
