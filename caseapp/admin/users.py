"""Users: list and search, create (by invitation), edit, deactivate/reactivate, reset password or
second factor, delete (only an account nothing names). Thin: writes through ``caseapp.auth.operations``."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from caseapp.admin.common import CsrfForm, agencies, regions, template_helpers, user_open_work
from caseapp.agencies.models import RegionLevel
from caseapp.auth import operations as ops
from caseapp.auth.models import Role, TokenPurpose, User
from caseapp.auth.permissions import Permission, requires
from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.extensions import db

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users", template_folder="templates")
bp.context_processor(template_helpers)

PER_PAGE = 50
FIELDS = ("email", "full_name", "role", "agency", "kecamatan_code", "kelurahan_code", "phone", "locale")


def _form_values(user: User | None = None) -> dict[str, str]:
    if request.method == "POST":
        return {name: request.form.get(name, "").strip() for name in FIELDS}
    if user is None:
        return {"role": Role.SOCIAL_WORKER.value, "locale": "id"}
    return {"email": user.email, "full_name": user.full_name, "role": str(user.role),
            "agency": user.agency.code if user.agency else "", "kecamatan_code": user.kecamatan_code or "",
            "kelurahan_code": user.kelurahan_code or "", "phone": user.phone or "", "locale": user.locale}


def _choices() -> dict:
    return {"roles": list(Role), "agencies": agencies(db.session),
            "kecamatan": regions(db.session, RegionLevel.KECAMATAN),
            "kelurahan": regions(db.session, RegionLevel.KELURAHAN)}


def _get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _link(token: str) -> str:
    return url_for("account_setup.start", token=token, _external=True)


@bp.route("/")
@requires(Permission.ADMIN_USERS)
def index():
    q = request.args.get("q", "").strip()[:100]
    role = request.args.get("role", "")
    status = request.args.get("status", "")
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    stmt = select(User)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like), func.lower(User.full_name).like(like)))
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role == role)
    if status in ("active", "inactive"):
        stmt = stmt.where(User.active.is_(status == "active"))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    users = db.session.scalars(stmt.order_by(User.full_name, User.id).limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    return render_template("admin/users.html", users=list(users), q=q, role=role, status=status, page=page,
                           total=total, per_page=PER_PAGE, roles=list(Role))


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.ADMIN_USERS)
def new():
    form, errors = CsrfForm(), {}
    if request.method == "POST" and form.validate_on_submit():
        try:
            user, token = ops.invite_user(db.session, current_user, **_form_values())
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.fields
        else:
            db.session.commit()
            flash(_("Pengguna %(email)s dibuat. Kirim tautan undangan di bawah kepadanya; tautan hanya ditampilkan "
                    "sekali.", email=user.email), "success")
            return render_template("admin/user_link.html", user=user, link=_link(token), purpose="invite")
    status = 422 if errors else 200
    return render_template("admin/user_form.html", form=form, values=_form_values(), errors=errors, user=None,
                           **_choices()), status


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@requires(Permission.ADMIN_USERS)
def edit(user_id: int):
    user = _get_user(user_id)
    form, errors = CsrfForm(), {}
    if request.method == "POST" and form.validate_on_submit():
        try:
            ops.update_user(db.session, current_user, user, open_work=user_open_work(db.session, user),
                            **_form_values())
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.fields
        else:
            db.session.commit()
            flash(_("Perubahan pada %(email)s disimpan.", email=user.email), "success")
            return redirect(url_for(".edit", user_id=user.id))
    user = _get_user(user_id)
    return render_template("admin/user_form.html", form=form, values=_form_values(user), errors=errors, user=user,
                           open_work=user_open_work(db.session, user), **_choices()), 422 if errors else 200


def _act(user_id: int, action):
    user = _get_user(user_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    try:
        result = action(user)
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        messages = [m for ms in exc.fields.values() for m in ms] if exc.fields else [exc.message]
        for message in messages:
            flash(message, "danger")
        return redirect(url_for(".edit", user_id=user_id)), None
    db.session.commit()
    return None, result


@bp.route("/<int:user_id>/deactivate", methods=["POST"])
@requires(Permission.ADMIN_USERS)
def deactivate(user_id: int):
    refused, _result = _act(user_id, lambda u: ops.set_user_active(
        db.session, current_user, u, False, open_work=user_open_work(db.session, u)))
    if not refused:
        flash(_("Akun dinonaktifkan; semua sesinya berakhir."), "success")
    return refused or redirect(url_for(".edit", user_id=user_id))


@bp.route("/<int:user_id>/reactivate", methods=["POST"])
@requires(Permission.ADMIN_USERS)
def reactivate(user_id: int):
    refused, _result = _act(user_id, lambda u: ops.set_user_active(db.session, current_user, u, True))
    if not refused:
        flash(_("Akun diaktifkan kembali."), "success")
    return refused or redirect(url_for(".edit", user_id=user_id))


@bp.route("/<int:user_id>/reset-password", methods=["POST"])
@requires(Permission.ADMIN_USERS)
def reset_password(user_id: int):
    refused, token = _act(user_id, lambda u: ops.reset_password(db.session, current_user, u))
    if refused:
        return refused
    return render_template("admin/user_link.html", user=_get_user(user_id), link=_link(token), purpose="reset")


@bp.route("/<int:user_id>/reset-totp", methods=["POST"])
@requires(Permission.ADMIN_USERS)
def reset_totp(user_id: int):
    refused, _result = _act(user_id, lambda u: ops.reset_totp(db.session, current_user, u))
    if not refused:
        flash(_("Faktor kedua dihapus; pengguna mendaftarkan aplikasi autentikator lagi saat masuk."), "success")
    return refused or redirect(url_for(".edit", user_id=user_id))


@bp.route("/<int:user_id>/invite", methods=["POST"])
@requires(Permission.ADMIN_USERS)
def resend_invite(user_id: int):
    if _get_user(user_id).password_hash is not None:
        flash(_("Pengguna ini sudah punya kata sandi; pakai Atur ulang kata sandi."), "warning")
        return redirect(url_for(".edit", user_id=user_id))
    refused, token = _act(user_id, lambda u: ops.issue_user_token(db.session, u, TokenPurpose.INVITE,
                                                                  actor=current_user))
    if refused:
        return refused
    return render_template("admin/user_link.html", user=_get_user(user_id), link=_link(token), purpose="invite")


@bp.route("/<int:user_id>/delete", methods=["POST"])
@requires(Permission.ADMIN_USERS)
def delete(user_id: int):
    refused, _result = _act(user_id, lambda u: ops.delete_user(db.session, current_user, u))
    if refused:
        return refused
    flash(_("Pengguna dihapus."), "success")
    return redirect(url_for(".index"))
