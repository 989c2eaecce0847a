"""Upload and download evidence files. Downloads only as attachments, only within scope and section."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from caseapp.auth.permissions import Permission, requires
from caseapp.cases import operations as ops
from caseapp.cases.models import Attachment, Case
from caseapp.cases.policy import can_read_section
from caseapp.cases.queries import get_visible_case_or_404, get_visible_intervention_or_404
from caseapp.core.audit import deny_out_of_scope
from caseapp.core.errors import DomainError
from caseapp.core.uploads import stored_path
from caseapp.extensions import db

bp = Blueprint("attachments", __name__, url_prefix="/attachments")


class UploadForm(FlaskForm):
    file = FileField(validators=[FileRequired()])


@bp.route("/interventions/<int:intervention_id>", methods=["POST"])
@requires(Permission.CASE_VIEW)
def upload_for_intervention(intervention_id: int):
    """Attach evidence (photo of the works, a decree, a receipt) to an intervention."""
    intervention = get_visible_intervention_or_404(current_user, intervention_id)
    case = db.session.get(Case, intervention.case_id)
    form = UploadForm()
    if not form.validate_on_submit():
        flash(_("Pilih berkas PDF, JPG atau PNG untuk diunggah."), "danger")
        return redirect(url_for("cases.detail", case_id=case.id)), 303
    upload = form.file.data
    try:
        ops.add_attachment(db.session, actor=current_user, case=case, intervention=intervention,
                           filename=upload.filename, data=upload.read())
    except DomainError as exc:
        db.session.rollback()
        message = "; ".join(m for messages in exc.fields.values() for m in messages) or exc.message
        flash(message, "danger")
        return redirect(url_for("cases.detail", case_id=case.id)), 303
    db.session.commit()
    flash(_("Berkas tersimpan."), "success")
    return redirect(url_for("cases.detail", case_id=case.id)), 303


@bp.route("/<int:attachment_id>")
@requires(Permission.CASE_VIEW)
def download(attachment_id: int):
    """Send a stored file as a download, never rendered inline by the browser."""
    attachment = db.session.scalar(select(Attachment).where(Attachment.id == attachment_id))
    if attachment is None:
        abort(404)
    get_visible_case_or_404(current_user, attachment.case_id)
    if not can_read_section(current_user, attachment.section):
        deny_out_of_scope("attachment", attachment.id)
    try:
        path = stored_path(attachment.storage_name)
    except FileNotFoundError:
        abort(404)
    response = send_file(path, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.original_name, max_age=0)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


