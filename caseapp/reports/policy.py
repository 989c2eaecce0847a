"""Who sees which report figures (DESIGN.md §1).

Viewers (TKPK, Bappeda) read city-wide aggregates with small counts suppressed and never a name.
Supervisors read their kecamatan (the city if none is set: the same rule as ``case_scope``) and
admins the city, both unsuppressed, and both may open the by-name list of target households.
"""

from __future__ import annotations

from caseapp.auth.models import Role, User
from caseapp.core.errors import NotAllowed
from caseapp.reports.queries import Scope

FULL_DETAIL_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def report_scope(user: User) -> Scope:
    """The area whose figures *user* reads; refuses roles that read no reports (fail closed)."""
    role = Role(user.role)
    if role == Role.SUPERVISOR:
        return Scope(user.kecamatan_code or None)
    if role in (Role.ADMIN, Role.VIEWER):
        return Scope(None)
    raise NotAllowed()


def aggregates_only(user: User) -> bool:
    """True for readers who get suppressed figures (everyone but supervisors and admins)."""
    return Role(user.role) not in FULL_DETAIL_ROLES


def can_see_target_list(user: User) -> bool:
    """The by-name-by-address list of target households: supervisors (their kecamatan) and admins."""
    return Role(user.role) in FULL_DETAIL_ROLES


def can_take_snapshot(user: User) -> bool:
    return Role(user.role) == Role.ADMIN
