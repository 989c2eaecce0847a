"""The agency queue and intervention actions (claim, start, milestone, deliver, cancel)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from caseapp.auth.permissions import Permission, requires
from caseapp.cases import forms as f
from caseapp.cases import labels
from caseapp.cases import operations as ops
from caseapp.cases.models import InterventionStatus
from caseapp.cases.queries import agency_queue, get_visible_case_or_404, get_visible_intervention_or_404
from caseapp.cases.views import Posted, render_case_page
from caseapp.core.errors import StaleVersion, ValidationFailed
from caseapp.extensions import db

bp = Blueprint("interventions", __name__, url_prefix="/interventions", template_folder="templates")


@bp.route("/queue")
@requires(Permission.INTERVENTION_WORK)
def queue():
    """My agency's open interventions, pending first by due date, with claim buttons."""
    show_done = request.args.get("done") == "1"
    items = agency_queue(current_user, include_done=show_done) if current_user.agency_id else []
    forms = {}
    for item in items:
        iv = item.intervention
        for action in ops.allowed_intervention_actions(current_user, iv):
            if action in ("claim", "start"):
                form = f.InterventionActionForm(formdata=None, data={"action": action, "version": iv.version,
                                                                     "back": "queue"})
                forms[f"{iv.id}-{action}"] = f.unique_ids(form, f"q{iv.id}-{action}")
    waiting = [i for i in items if i.intervention.status == InterventionStatus.PENDING]
    working = [i for i in items if i.intervention.status in (InterventionStatus.CLAIMED,
                                                             InterventionStatus.IN_PROGRESS)]
    finished = [i for i in items if i not in waiting and i not in working]
    return render_template("cases/queue.html", waiting=waiting, working=working, finished=finished,
                           forms=forms, show_done=show_done)


@bp.route("/<int:intervention_id>/actions", methods=["POST"])
@requires(Permission.CASE_VIEW)
def act(intervention_id: int):
    """One intervention action; who may do what is ``act_on_intervention``'s to decide."""
    intervention = get_visible_intervention_or_404(current_user, intervention_id)
    case_id = intervention.case_id
    form = f.InterventionActionForm()
    action = form.action.data or ""
    back_to_queue = form.back.data == "queue"

    def show_again(status: int, stale: str | None = None):
        case = get_visible_case_or_404(current_user, case_id)
        posted = None if stale else Posted(action, f.unique_ids(form, f"iv{intervention_id}-{action}"),
                                           intervention_id)
        return render_case_page(case, status=status, posted=posted, stale=stale)

    if not form.validate():
        if form.version.errors:
            return show_again(400)
        return show_again(422)
    if form.version.data != intervention.version:
        # A form sent twice (double tap, resent after a dropped connection) or after someone else acted.
        return show_again(409, stale="intervention")
    try:
        ops.act_on_intervention(db.session, intervention, action, current_user, version=form.version.data,
                                **form.payload())
    except ValidationFailed as exc:
        db.session.rollback()
        form.form_errors = f.add_errors(form, exc.fields)
        return show_again(422)
    except StaleVersion:
        db.session.rollback()
        return show_again(409, stale="intervention")
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    flash(str(labels.INTERVENTION_DONE.get(action, "")), "success")
    if back_to_queue:
        return redirect(url_for("interventions.queue"), 303)
    return redirect(url_for("cases.detail", case_id=case_id, _anchor=f"iv-{intervention_id}"), 303)
