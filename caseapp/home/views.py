"""Each role's landing page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from caseapp.auth.models import Role
from caseapp.auth.permissions import Permission, requires
from caseapp.cases.queries import cases_per_stage
from caseapp.home import queries

bp = Blueprint("home", __name__, template_folder="templates")


@bp.route("/")
@requires(Permission.PROFILE)
def index():
    role = Role(current_user.role)
    if role == Role.SOCIAL_WORKER:
        context = {"summary": queries.social_worker_summary(current_user)}
    elif role == Role.SUPERVISOR:
        stages = cases_per_stage(current_user)
        context = {"summary": queries.supervisor_summary(current_user, stages), "stages": stages}
    elif role == Role.AGENCY_OFFICER:
        context = {"summary": queries.agency_summary(current_user)}
    elif role == Role.VIEWER:
        context = {"summary": queries.city_aggregates()}
    else:
        context = {"summary": queries.admin_summary(), "city": queries.city_aggregates()}
    return render_template(f"home/{role.value}.html", **context)
