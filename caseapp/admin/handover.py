"""Caseload handover (supervisors and admins): move a social worker's open cases to another in one
action; a background job does the work and this page shows its progress and summary."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from caseapp.admin.common import CsrfForm, regions, social_workers, template_helpers
from caseapp.agencies.models import RegionLevel
from caseapp.auth.models import Role
from caseapp.auth.permissions import Permission, requires
from caseapp.cases.models import HandoverJob, HandoverStatus
from caseapp.cases.operations.handover import FILTER_STAGES, TASK_NAME, request_handover
from caseapp.core.errors import ValidationFailed
from caseapp.core.jobs import enqueue_after_commit
from caseapp.extensions import db

bp = Blueprint("admin_handover", __name__, url_prefix="/admin/handover", template_folder="templates")
bp.context_processor(template_helpers)

FIELDS = ("from_user_id", "to_user_id", "stage", "kelurahan_code", "overdue", "comment")


def _own_kecamatan() -> str | None:
    return current_user.kecamatan_code if Role(current_user.role) == Role.SUPERVISOR else None


def _visible_jobs():
    stmt = select(HandoverJob).order_by(HandoverJob.id.desc())
    if Role(current_user.role) != Role.ADMIN:
        stmt = stmt.where(HandoverJob.requested_by_id == current_user.id)
    return stmt


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.CASE_ASSIGN)
def index():
    errors, values = {}, {name: request.values.get(name, "").strip() for name in FIELDS}
    if request.method == "POST" and CsrfForm().validate_on_submit():
        try:
            job = request_handover(
                db.session, current_user, from_user_id=values["from_user_id"], to_user_id=values["to_user_id"],
                filters={k: values[k] for k in ("stage", "kelurahan_code", "overdue")}, comment=values["comment"],
                within_kecamatan=_own_kecamatan())
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.fields
        else:
            enqueue_after_commit(db.session, TASK_NAME, job.id)
            db.session.commit()
            flash(_("Serah terima %(n)d kasus dimulai.", n=job.total), "success")
            return redirect(url_for(".job", job_id=job.id))
    kecamatan = _own_kecamatan()
    kelurahan = [r for r in regions(db.session, RegionLevel.KELURAHAN) if not kecamatan or r.parent_code == kecamatan]
    jobs = db.session.scalars(_visible_jobs().limit(20))
    return render_template("admin/handover.html", form=CsrfForm(), values=values, errors=errors,
                           workers=social_workers(db.session, kecamatan), stages=FILTER_STAGES,
                           kelurahan=kelurahan, jobs=list(jobs)), 422 if errors else 200


@bp.route("/<int:job_id>")
@requires(Permission.CASE_ASSIGN)
def job(job_id: int):
    handover = db.session.scalar(_visible_jobs().where(HandoverJob.id == job_id))
    if handover is None:
        abort(404)
    running = handover.status in (HandoverStatus.QUEUED, HandoverStatus.RUNNING)
    percent = int(100 * handover.moved / handover.total) if handover.total else 100
    return render_template("admin/handover_job.html", job=handover, running=running, percent=percent)
