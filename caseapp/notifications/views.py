"""The notification centre: the caller's notifications, mark as read (POST), channel preferences."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from caseapp.auth.permissions import Permission, requires
from caseapp.extensions import db
from caseapp.notifications import forms
from caseapp.notifications.channels.email import absolute_link
from caseapp.notifications.inbox import mark_all_read, mark_read
from caseapp.notifications.messages import KIND_LABELS, render
from caseapp.notifications.models import Kind
from caseapp.notifications.preferences import CHOOSABLE, channel_configured, preferences_for, set_preferences
from caseapp.notifications.queries import get_own_notification, visible_notifications

bp = Blueprint("notifications", __name__, url_prefix="/notifications", template_folder="templates")

PER_PAGE = 30


def _page() -> int:
    return max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))


@bp.route("/")
@requires(Permission.PROFILE)
def index():
    page = _page()
    rows = list(db.session.scalars(visible_notifications(current_user).limit(PER_PAGE + 1)
                                   .offset((page - 1) * PER_PAGE)))
    items = [(n, render(n.kind, n.payload)) for n in rows[:PER_PAGE]]
    return render_template("notifications/index.html", items=items, page=page, has_more=len(rows) > PER_PAGE,
                           form=forms.ActionForm())


@bp.route("/<int:notification_id>/read", methods=["POST"])
@requires(Permission.PROFILE)
def read(notification_id: int):
    if not mark_read(db.session, current_user, notification_id):
        abort(404)
    db.session.commit()
    return redirect(url_for(".index", page=_page()))


@bp.route("/<int:notification_id>/open", methods=["POST"], endpoint="open")
@requires(Permission.PROFILE)
def open_notification(notification_id: int):
    """Mark read and go to what it is about (a local path only: never an open redirect)."""
    notification = get_own_notification(db.session, current_user, notification_id)
    if notification is None:
        abort(404)
    mark_read(db.session, current_user, notification_id)
    db.session.commit()
    return redirect(absolute_link("", notification.link))


@bp.route("/read-all", methods=["POST"])
@requires(Permission.PROFILE)
def read_all():
    count = mark_all_read(db.session, current_user)
    db.session.commit()
    if count:
        flash(_("%(count)d notifikasi ditandai sudah dibaca.", count=count), "success")
    return redirect(url_for(".index"))


@bp.route("/preferences", methods=["GET", "POST"])
@requires(Permission.PROFILE)
def preferences():
    form = forms.preferences_form(preferences_for(db.session, current_user))
    if form.validate_on_submit():
        set_preferences(db.session, current_user, forms.chosen_channels(form))
        db.session.commit()
        flash(_("Pengaturan notifikasi disimpan."), "success")
        return redirect(url_for(".preferences"))
    rows = [(kind, KIND_LABELS[kind], [form[forms.field_name(c, kind.value)] for c in CHOOSABLE]) for kind in Kind]
    return render_template("notifications/preferences.html", form=form, rows=rows,
                           channels=[(c, channel_configured(c)) for c in CHOOSABLE])
