"""Login (with second factor), logout, language and account pages. Thin: work is in operations."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from caseapp.auth import operations as ops
from caseapp.auth import reauth
from caseapp.auth.access import start_session
from caseapp.auth.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    LanguageForm,
    LoginForm,
    LogoutForm,
    ReauthForm,
    TotpEnrolForm,
    TotpForm,
)
from caseapp.auth.models import User
from caseapp.auth.passwords import verify_password
from caseapp.auth.permissions import Permission, public, requires
from caseapp.core.errors import ValidationFailed
from caseapp.core.models import utcnow
from caseapp.extensions import db, limiter

bp = Blueprint("auth", __name__, template_folder="templates")

MFA_PENDING_SECONDS = 300


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.index")


def _finish_login(user: User, next_url: str | None):
    session.clear()  # new session at login (ASVS 7.2.4)
    login_user(user)
    start_session(user.id)
    ops.complete_login(db.session, user)
    db.session.commit()
    return redirect(safe_next(next_url))


def _pending_mfa_user() -> User | None:
    uid, started, version = session.get("mfa_user_id"), session.get("mfa_started"), session.get("mfa_version")
    if uid is None or started is None or utcnow().timestamp() - started > MFA_PENDING_SECONDS:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = ops.check_password_login(db.session, form.email.data, form.password.data)
        if result.outcome == ops.LoginOutcome.OK:
            return _finish_login(result.user, request.args.get("next"))
        if result.outcome in (ops.LoginOutcome.TOTP_REQUIRED, ops.LoginOutcome.TOTP_ENROLMENT_REQUIRED):
            db.session.commit()
            next_url = request.args.get("next")
            session.clear()
            session["mfa_user_id"] = result.user.id
            session["mfa_version"] = result.user.session_version
            session["mfa_started"] = utcnow().timestamp()
            session["mfa_next"] = next_url
            if result.outcome == ops.LoginOutcome.TOTP_REQUIRED:
                return redirect(url_for("auth.login_totp"))
            return redirect(url_for("auth.enrol_totp"))
        db.session.commit()
        if result.outcome == ops.LoginOutcome.LOCKED:
            flash(_("Akun ini dikunci sementara karena terlalu banyak percobaan gagal. Coba lagi nanti "
                    "atau hubungi admin."), "danger")
            status = 429
        else:
            flash(_("E-mail atau kata sandi salah."), "danger")
    elif request.args.get("expired"):
        flash(_("Sesi Anda berakhir. Silakan masuk lagi."), "info")
    return render_template("auth/login.html", form=form), status


@bp.route("/login/totp", methods=["GET", "POST"])
@public
@limiter.limit(login_rate_limit, methods=["POST"])
def login_totp():
    user = _pending_mfa_user()
    if user is None:
        return redirect(url_for("auth.login"))
    form = TotpForm()
    if form.validate_on_submit():
        if ops.is_locked(user):
            db.session.commit()
            flash(_("Akun ini dikunci sementara. Coba lagi nanti."), "danger")
            return render_template("auth/totp.html", form=form), 429
        if ops.verify_totp(db.session, user, form.code.data):
            return _finish_login(user, session.get("mfa_next"))
        db.session.commit()
        flash(_("Kode salah atau sudah dipakai. Tunggu kode berikutnya lalu coba lagi."), "danger")
    return render_template("auth/totp.html", form=form)


@bp.route("/login/enrol", methods=["GET", "POST"])
@public
@limiter.limit(login_rate_limit, methods=["POST"])
def enrol_totp():
    user = _pending_mfa_user()
    if user is None or user.has_totp:
        return redirect(url_for("auth.login"))
    form = TotpEnrolForm()
    if request.method == "GET" or not form.secret.data:
        form.secret.data = ops.new_totp_secret()
    if form.validate_on_submit():
        if ops.confirm_totp_enrolment(db.session, user, form.secret.data, form.code.data):
            return _finish_login(user, session.get("mfa_next"))
        flash(_("Kode tidak cocok. Pastikan jam di ponsel benar lalu coba lagi."), "danger")
    return render_template(
        "auth/enrol.html", form=form, secret=form.secret.data, uri=ops.totp_uri(user, form.secret.data)
    )


@bp.route("/logout", methods=["POST"])
@requires(Permission.PROFILE)
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    ops.end_all_sessions(db.session, current_user, reason="logout")
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("Anda sudah keluar."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
@public
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
    return redirect(safe_next(form.next.data))


@bp.route("/account", methods=["GET", "POST"])
@requires(Permission.PROFILE)
def account():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data):
            form.current_password.errors.append(_("Kata sandi sekarang salah."))
        else:
            try:
                ops.change_password(db.session, current_user, form.new_password.data)
            except ValidationFailed as exc:
                form.new_password.errors.extend(exc.fields.get("password", []))
            else:
                db.session.commit()
                logout_user()
                session.clear()
                flash(_("Kata sandi diganti. Semua sesi Anda sudah diakhiri; silakan masuk lagi."), "success")
                return redirect(url_for("auth.login"))
    return render_template("auth/account.html", form=form)


# --- Sensitive changes: fresh re-authentication first (auth/reauth.py) -------------------------


def _ask_to_confirm():
    return redirect(url_for("auth.confirm_identity", next=request.path))


@bp.route("/account/confirm", methods=["GET", "POST"])
@requires(Permission.PROFILE)
@limiter.limit(login_rate_limit, methods=["POST"])
def confirm_identity():
    form = ReauthForm()
    status = 200
    if form.validate_on_submit():
        if current_user.has_totp and not (form.code.data or "").strip():
            form.code.errors.append(_("Isi kode 6 angka dari aplikasi autentikator."))
        elif ops.confirm_identity(db.session, current_user, form.password.data, form.code.data):
            db.session.commit()
            reauth.mark_fresh()
            return redirect(safe_next(request.args.get("next")))
        else:
            db.session.commit()
            status = 429 if ops.is_locked(current_user) else 200
            flash(_("Kata sandi atau kode salah. Akun dikunci sementara setelah terlalu banyak percobaan."),
                  "danger")
    minutes = int(current_app.config["REAUTH_WINDOW"].total_seconds() // 60)
    return render_template("auth/confirm.html", form=form, minutes=minutes), status


@bp.route("/account/email", methods=["GET", "POST"])
@requires(Permission.PROFILE)
def change_email():
    if not reauth.is_fresh():
        return _ask_to_confirm()
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            ops.change_own_email(db.session, current_user, form.email.data)
        except ValidationFailed as exc:
            db.session.rollback()
            form.email.errors.extend(exc.fields.get("email", []))
        else:
            db.session.commit()
            flash(_("Alamat e-mail diganti. Pakai alamat baru saat masuk berikutnya."), "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/change_email.html", form=form)


@bp.route("/account/totp", methods=["GET", "POST"])
@requires(Permission.PROFILE)
def change_totp():
    if not reauth.is_fresh():
        return _ask_to_confirm()
    form = TotpEnrolForm()
    if request.method == "GET" or not form.secret.data:
        form.secret.data = ops.new_totp_secret()
    if form.validate_on_submit():
        if ops.replace_own_totp(db.session, current_user, form.secret.data, form.code.data):
            db.session.commit()
            flash(_("Verifikasi dua langkah aktif dengan aplikasi autentikator yang baru."), "success")
            return redirect(url_for("auth.account"))
        flash(_("Kode tidak cocok. Pastikan jam di ponsel benar lalu coba lagi."), "danger")
    return render_template("auth/change_totp.html", form=form, secret=form.secret.data,
                           uri=ops.totp_uri(current_user, form.secret.data))
