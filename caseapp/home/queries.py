"""Counts for each role's landing page, always through the scoped queries."""

from __future__ import annotations

from sqlalchemy import func, select

from caseapp.agencies.models import Agency, Programme
from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, CaseStatus, CaseTally, Intervention, InterventionStatus, Stage
from caseapp.cases.queries import case_scope, cases_per_stage, tallied_stage_counts
from caseapp.core.counting import capped, count_up_to
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.queries import count_visible_households
from caseapp.reports.pages import register_totals

AWAITING_APPROVAL = (CaseStatus.SUBMITTED, CaseStatus.PLAN_SUBMITTED)


def _count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def _capped(stmt) -> int | str:
    """A count that cannot be tallied (it depends on the clock or the status), stopped after
    ``COUNT_CAP``: "1000+" says there are more."""
    return capped(count_up_to(db.session, stmt))


def _open(counts: dict[str, int]) -> int:
    return sum(n for stage, n in counts.items() if stage != Stage.CLOSED.value)


def social_worker_summary(user: User) -> dict[str, int | str]:
    scoped = select(Case.id).where(case_scope(user))
    mine = tallied_stage_counts(user, owner_id=user.id)
    return {
        "my_open": _open(mine) if mine is not None else _count(
            scoped.where(Case.owner_id == user.id, Case.stage != Stage.CLOSED)),
        "new_referrals": cases_per_stage(user)[Stage.REFERRAL.value],
        "overdue": _capped(scoped.where(Case.owner_id == user.id, Case.stage != Stage.CLOSED, Case.due_at < utcnow())),
        "households": count_visible_households(user),
    }


def supervisor_summary(user: User, by_stage: dict[str, int] | None = None) -> dict[str, int | str]:
    """The supervisor's figures; *by_stage*: ``cases_per_stage(user)`` when the caller has it already."""
    by_stage = cases_per_stage(user) if by_stage is None else by_stage
    scoped = select(Case.id).where(case_scope(user))
    return {
        "awaiting_approval": _capped(scoped.where(Case.status.in_(AWAITING_APPROVAL))),
        "new_referrals": by_stage[Stage.REFERRAL.value],
        "overdue": _capped(scoped.where(Case.stage != Stage.CLOSED, Case.due_at < utcnow())),
        "open": _open(by_stage),
    }


def agency_summary(user: User) -> dict[str, int]:
    mine = select(Intervention.id).where(Intervention.agency_id == user.agency_id)
    return {
        "pending": _count(mine.where(Intervention.status == InterventionStatus.PENDING)),
        "in_progress": _count(
            mine.where(Intervention.status.in_((InterventionStatus.CLAIMED, InterventionStatus.IN_PROGRESS)))
        ),
        "overdue": _count(
            mine.where(
                Intervention.status.not_in((InterventionStatus.DELIVERED, InterventionStatus.CANCELLED)),
                Intervention.due_at < utcnow(),
            )
        ),
        "delivered": _count(mine.where(Intervention.status == InterventionStatus.DELIVERED)),
    }


def city_aggregates() -> dict:
    """Aggregates only (viewers see no personal data): the register's totals as the scheduled refresh
    counted them (``as_of``; counted now where it has not run yet), open cases from the case tallies."""
    register, as_of = register_totals()
    open_cases = db.session.scalar(select(func.coalesce(func.sum(CaseTally.n), 0))
                                   .where(CaseTally.stage != Stage.CLOSED)) or 0
    return {**register, "open_cases": open_cases, "as_of": as_of}


def admin_summary() -> dict[str, int]:
    return {
        "users": db.session.scalar(select(func.count(User.id))) or 0,
        "active_users": db.session.scalar(select(func.count(User.id)).where(User.active.is_(True))) or 0,
        "agencies": db.session.scalar(select(func.count(Agency.id))) or 0,
        "programmes": db.session.scalar(select(func.count(Programme.id))) or 0,
        "admins": db.session.scalar(select(func.count(User.id)).where(User.role == Role.ADMIN)) or 0,
    }
