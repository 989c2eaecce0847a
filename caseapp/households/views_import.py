"""Import pages: upload a DTSEN-style list, follow the job's progress (htmx polling), download the errors.

Thin: the file checks and the job live in :mod:`caseapp.households.imports.jobs`. A job is shown to
the user who started it and to administrators; anyone else gets a 404.
"""

from __future__ import annotations

from flask import Response, abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from caseapp.auth.models import Role
from caseapp.auth.permissions import Permission, requires
from caseapp.core.errors import ValidationFailed
from caseapp.extensions import db
from caseapp.households.forms import ImportForm
from caseapp.households.imports.jobs import import_limit, start_import
from caseapp.households.models import ImportJob
from caseapp.households.views import bp


def _job_or_404(job_id: int) -> ImportJob:
    job = db.session.get(ImportJob, job_id)
    if job is None or (job.created_by_id != current_user.id and Role(current_user.role) != Role.ADMIN):
        abort(404)
    return job


def _recent_jobs() -> list[ImportJob]:
    stmt = select(ImportJob).order_by(ImportJob.id.desc()).limit(20)
    if Role(current_user.role) != Role.ADMIN:
        stmt = stmt.where(ImportJob.created_by_id == current_user.id)
    return list(db.session.scalars(stmt))


@bp.route("/imports", methods=["GET", "POST"])
@requires(Permission.HOUSEHOLD_IMPORT)
def imports():
    """Impor DTSEN: the upload form and the user's recent imports."""
    form = ImportForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            upload = form.file.data
            try:
                job = start_import(db.session, actor=current_user, filename=getattr(upload, "filename", "") or "",
                                   data=upload.read() if upload else b"", dry_run=bool(form.dry_run.data),
                                   skip_invalid=bool(form.skip_invalid.data))
            except ValidationFailed as exc:
                db.session.rollback()
                form.file.errors = list(exc.fields.get("file", []))
                status = 422
            else:
                db.session.commit()
                return redirect(url_for(".import_job", job_id=job.id), 303)
        else:
            status = 422
    return render_template("households/imports.html", form=form, jobs=_recent_jobs(),
                           limit_mb=import_limit() // (1024 * 1024)), status


@bp.route("/imports/<int:job_id>")
@requires(Permission.HOUSEHOLD_IMPORT)
def import_job(job_id: int):
    return render_template("households/import_job.html", job=_job_or_404(job_id))


@bp.route("/imports/<int:job_id>/progress")
@requires(Permission.HOUSEHOLD_IMPORT)
def import_progress(job_id: int):
    """The progress card alone (htmx swaps it every second while the job is queued or running)."""
    return render_template("households/_import_progress.html", job=_job_or_404(job_id))


@bp.route("/imports/<int:job_id>/errors.csv")
@requires(Permission.HOUSEHOLD_IMPORT)
def import_errors(job_id: int):
    job = _job_or_404(job_id)
    if not job.error_report:
        abort(404)
    response = Response("\ufeff" + job.error_report, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="galat-impor-{job.id}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response

