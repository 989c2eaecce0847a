"""The one-time link a new user (invitation) or a user whose password was reset opens to set a password.

Public: the link is the credential. The token leaves the URL at once (kept in the session, then a
redirect), so it is not left in the browser history or sent on in a Referer header.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from caseapp.admin.common import CsrfForm, template_helpers
from caseapp.auth import operations as ops
from caseapp.auth.permissions import public
from caseapp.core.errors import ValidationFailed
from caseapp.extensions import db

bp = Blueprint("account_setup", __name__, url_prefix="/welcome", template_folder="templates")
bp.context_processor(template_helpers)

SESSION_KEY = "account_setup_token"


@bp.route("/<token>")
@public
def start(token: str):
    session[SESSION_KEY] = token[:128]
    return redirect(url_for(".set_password"))


@bp.route("/", methods=["GET", "POST"])
@public
def set_password():
    token = session.get(SESSION_KEY, "")
    row = ops.user_token(db.session, token)
    if row is None:
        return render_template("admin/account_setup.html", row=None, form=CsrfForm(), errors={}), 404
    form, errors = CsrfForm(), {}
    if request.method == "POST" and form.validate_on_submit():
        password, again = request.form.get("password", ""), request.form.get("password_again", "")
        if password != again:
            errors = {"password_again": [_("Kedua kata sandi tidak sama; ketik ulang.")]}
        else:
            try:
                ops.set_password_with_token(db.session, token, password)
            except ValidationFailed as exc:
                db.session.rollback()
                errors = exc.fields
            else:
                db.session.commit()
                session.pop(SESSION_KEY, None)
                flash(_("Kata sandi disimpan. Silakan masuk."), "success")
                return redirect(url_for("auth.login"))
    response = render_template("admin/account_setup.html", row=row, form=form, errors=errors)
    return response, 422 if errors else 200
