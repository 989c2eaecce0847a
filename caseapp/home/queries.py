"""Counts for each role's landing page, always through the scoped queries."""

from __future__ import annotations

from sqlalchemy import func, select

from caseapp.agencies.models import Agency, Programme
from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, CaseStatus, Intervention, InterventionStatus, Stage
from caseapp.cases.queries import case_scope
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.models import Household, Person
from caseapp.households.queries import household_scope

AWAITING_APPROVAL = (CaseStatus.SUBMITTED, CaseStatus.PLAN_SUBMITTED)


def cases_by_stage(user: User) -> dict[str, int]:
    rows = db.session.execute(
        select(Case.stage, func.count()).where(case_scope(user)).group_by(Case.stage)
    ).all()
    counts = {str(stage): 0 for stage in Stage}
    counts.update({str(stage): n for stage, n in rows})
    return counts


def _count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def social_worker_summary(user: User) -> dict[str, int]:
    scoped = select(Case.id).where(case_scope(user))
    return {
        "my_open": _count(scoped.where(Case.owner_id == user.id, Case.stage != Stage.CLOSED)),
        "new_referrals": _count(scoped.where(Case.stage == Stage.REFERRAL)),
        "overdue": _count(scoped.where(Case.owner_id == user.id, Case.stage != Stage.CLOSED, Case.due_at < utcnow())),
        "households": _count(select(Household.id).where(household_scope(user))),
    }


def supervisor_summary(user: User) -> dict[str, int]:
    scoped = select(Case.id).where(case_scope(user))
    return {
        "awaiting_approval": _count(scoped.where(Case.status.in_(AWAITING_APPROVAL))),
        "new_referrals": _count(scoped.where(Case.stage == Stage.REFERRAL)),
        "overdue": _count(scoped.where(Case.stage != Stage.CLOSED, Case.due_at < utcnow())),
        "open": _count(scoped.where(Case.stage != Stage.CLOSED)),
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


def city_aggregates() -> dict[str, int]:
    """Aggregates only (viewers see no personal data)."""
    return {
        "households": db.session.scalar(select(func.count(Household.id))) or 0,
        "persons": db.session.scalar(select(func.count(Person.id))) or 0,
        "desil_1": db.session.scalar(select(func.count(Household.id)).where(Household.desil == 1)) or 0,
        "open_cases": db.session.scalar(select(func.count(Case.id)).where(Case.stage != Stage.CLOSED)) or 0,
    }


def admin_summary() -> dict[str, int]:
    return {
        "users": db.session.scalar(select(func.count(User.id))) or 0,
        "active_users": db.session.scalar(select(func.count(User.id)).where(User.active.is_(True))) or 0,
        "agencies": db.session.scalar(select(func.count(Agency.id))) or 0,
        "programmes": db.session.scalar(select(func.count(Programme.id))) or 0,
        "admins": db.session.scalar(select(func.count(User.id)).where(User.role == Role.ADMIN)) or 0,
    }
