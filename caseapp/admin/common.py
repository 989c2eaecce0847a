"""Helpers shared by the admin screens: the CSRF-only form, error display and open-work counts."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseapp.agencies.models import Agency, Programme, Region, RegionLevel
from caseapp.auth.models import Role, User
from caseapp.cases.models import Intervention
from caseapp.cases.operations.handover import OPEN_INTERVENTIONS
from caseapp.cases.operations.handover import user_open_work as user_open_work

ROLE_NAMES = {
    "social_worker": _l("Pekerja sosial"),
    "supervisor": _l("Penyelia"),
    "agency_officer": _l("Petugas dinas"),
    "viewer": _l("Pemantau (TKPK)"),
    "admin": _l("Admin sistem"),
}


def role_name(role) -> str:
    return str(ROLE_NAMES.get(str(role), str(role)))


def template_helpers() -> dict:
    """Names the admin templates use (registered for the admin blueprints only)."""
    return {"role_name": role_name}


class CsrfForm(FlaskForm):
    """The admin forms are plain HTML inputs validated by the operations; this carries the CSRF token."""


def agency_open_work(session: Session, agency: Agency) -> dict[str, int]:
    """What deactivating an agency would orphan: its active users, active programmes, open interventions."""
    return {
        "users": session.scalar(select(func.count()).select_from(User)
                                .where(User.agency_id == agency.id, User.active.is_(True))) or 0,
        "programmes": session.scalar(select(func.count()).select_from(Programme)
                                     .where(Programme.agency_id == agency.id, Programme.active.is_(True))) or 0,
        "interventions": session.scalar(select(func.count()).select_from(Intervention)
                                        .where(Intervention.agency_id == agency.id,
                                               Intervention.status.in_(OPEN_INTERVENTIONS))) or 0,
    }


def regions(session: Session, level: RegionLevel) -> list[Region]:
    return list(session.scalars(select(Region).where(Region.level == level).order_by(Region.name)))


def agencies(session: Session, *, active_only: bool = False) -> list[Agency]:
    stmt = select(Agency).order_by(Agency.kind, Agency.code)
    if active_only:
        stmt = stmt.where(Agency.active.is_(True))
    return list(session.scalars(stmt))


def social_workers(session: Session, kecamatan: str | None = None) -> list[User]:
    stmt = select(User).where(User.role == Role.SOCIAL_WORKER).order_by(User.full_name)
    if kecamatan:
        stmt = stmt.where((User.kecamatan_code == kecamatan) | User.kecamatan_code.is_(None))
    return list(session.scalars(stmt))
