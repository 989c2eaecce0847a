"""The permission registry: one table of role → permissions, and the route declarations.

Every route declares what it needs with :func:`requires` (or :func:`public`); a route that declares
nothing is refused by :func:`enforce_route_permission` (deny by default, SECURITY.md 8.2.1) and a
test enumerates ``app.url_map`` to keep it that way.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from caseapp.auth.models import Role


class Permission(StrEnum):
    PROFILE = "profile"                       # own account, own notifications, language
    CASE_VIEW = "case.view"                   # list and open cases in scope
    CASE_REFER = "case.refer"                 # create a referral
    CASE_TRIAGE = "case.triage"               # accept / reject referrals
    CASE_WORK = "case.work"                   # verify, plan, evaluate own cases
    CASE_APPROVE = "case.approve"             # approve / return steps
    CASE_ASSIGN = "case.assign"               # assign, reassign
    CASE_CLOSE = "case.close"                 # close / reopen
    IDENTITY_REVEAL = "identity.reveal"       # show a full NIK/KK (logged)
    HOUSEHOLD_VIEW = "household.view"
    HOUSEHOLD_EDIT = "household.edit"         # register and update households
    HOUSEHOLD_IMPORT = "household.import"
    DATA_EXPORT = "data.export"               # export lists with personal data in scope
    PDP_EXPORT = "pdp.export"                 # UU PDP access request: one person's data and trail
    INTERVENTION_WORK = "intervention.work"   # agency queue: claim, start, deliver
    DASHBOARD_VIEW = "dashboard.view"
    REPORT_EXPORT = "report.export"           # aggregate indicator reports
    ADMIN_USERS = "admin.users"
    ADMIN_CONFIG = "admin.config"             # agencies, programmes, SLA settings
    ADMIN_AUDIT = "admin.audit"
    ADMIN_DELIVERIES = "admin.deliveries"     # failed notifications


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SOCIAL_WORKER: frozenset({
        P.PROFILE, P.CASE_VIEW, P.CASE_REFER, P.CASE_WORK, P.IDENTITY_REVEAL,
        P.HOUSEHOLD_VIEW, P.HOUSEHOLD_EDIT, P.DATA_EXPORT,
    }),
    Role.SUPERVISOR: frozenset({
        P.PROFILE, P.CASE_VIEW, P.CASE_REFER, P.CASE_TRIAGE, P.CASE_APPROVE, P.CASE_ASSIGN,
        P.CASE_CLOSE, P.IDENTITY_REVEAL, P.HOUSEHOLD_VIEW, P.HOUSEHOLD_EDIT, P.HOUSEHOLD_IMPORT,
        P.DATA_EXPORT, P.PDP_EXPORT, P.DASHBOARD_VIEW, P.REPORT_EXPORT,
    }),
    Role.AGENCY_OFFICER: frozenset({
        P.PROFILE, P.CASE_VIEW, P.CASE_REFER, P.HOUSEHOLD_VIEW, P.INTERVENTION_WORK,
    }),
    Role.VIEWER: frozenset({P.PROFILE, P.DASHBOARD_VIEW, P.REPORT_EXPORT}),
    Role.ADMIN: frozenset(Permission),
}

PUBLIC = "public"
ATTRIBUTE = "_sinergi_permission"

F = TypeVar("F", bound=Callable)


def requires(permission: Permission) -> Callable[[F], F]:
    """Declare the permission a view needs; checked centrally before the view runs."""

    def decorate(view: F) -> F:
        setattr(view, ATTRIBUTE, permission)
        return view

    return decorate


def public(view: F) -> F:
    """Declare a view open to anonymous users (login, health checks)."""
    setattr(view, ATTRIBUTE, PUBLIC)
    return view


def declared_permission(view: Callable | None) -> Permission | str | None:
    """The permission *view* declared, or None when it declared nothing."""
    if view is None:
        return None
    value = getattr(view, ATTRIBUTE, None)
    if value is None and hasattr(view, "view_class"):
        value = getattr(view.view_class, ATTRIBUTE, None)
    return value


def has_permission(role: Role | str | None, permission: Permission) -> bool:
    if role is None:
        return False
    return permission in ROLE_PERMISSIONS.get(Role(role), frozenset())
