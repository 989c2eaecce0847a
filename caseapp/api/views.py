"""API endpoints. Same operations and policies as the HTML views; bearer tokens only (no cookies)."""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Api, Blueprint

from caseapp.api.admin_users import bp as admin_users_api_bp
from caseapp.api.cases import bp as cases_bp
from caseapp.api.households import bp as households_api_bp
from caseapp.api.reports import bp as reports_api_bp
from caseapp.api.schemas import ApiError, Me, TokenRequest, TokenResponse
from caseapp.auth import operations as ops
from caseapp.auth.permissions import ROLE_PERMISSIONS, Permission, public, requires
from caseapp.core.errors import DomainError
from caseapp.core.models import utcnow
from caseapp.extensions import csrf, db, limiter

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1", description="Authentication and the current user")


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_requests"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


@bp.route("/auth/token", methods=["POST"])
@bp.arguments(TokenRequest)
@bp.response(200, TokenResponse)
@bp.alt_response(401, schema=ApiError, description="Bad credentials, or `totp_required`")
@bp.alt_response(429, schema=ApiError, description="Too many failed attempts")
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def issue_token(body):
    """Exchange e-mail, password (and TOTP code where the role needs one) for a bearer token."""
    result = ops.check_password_login(db.session, body["email"], body["password"])
    if result.outcome == ops.LoginOutcome.LOCKED:
        db.session.commit()
        raise TooManyAttempts(_("Terlalu banyak percobaan gagal; akun dikunci sementara."))
    if result.outcome == ops.LoginOutcome.BAD_CREDENTIALS:
        db.session.commit()
        raise Unauthorized(_("E-mail atau kata sandi salah."))
    user = result.user
    if result.outcome == ops.LoginOutcome.TOTP_ENROLMENT_REQUIRED:
        db.session.commit()
        error = Unauthorized(_("Peran ini wajib verifikasi dua langkah; aktifkan dulu lewat halaman masuk web."))
        error.code = "totp_required"
        raise error
    if result.outcome == ops.LoginOutcome.TOTP_REQUIRED and not (
        body.get("totp") and ops.verify_totp(db.session, user, body["totp"])
    ):
        db.session.commit()
        error = Unauthorized(_("Kode verifikasi dua langkah (totp) diperlukan atau salah."))
        error.code = "totp_required"
        raise error
    token = ops.issue_api_token(db.session, user)
    ops.complete_login(db.session, user)
    db.session.commit()
    return {"token": token, "expires_at": utcnow() + current_app.config["API_TOKEN_LIFETIME"]}


@bp.route("/me")
@bp.response(200, Me)
@bp.alt_response(401, schema=ApiError)
@bp.doc(security=[{"bearerAuth": []}])
@requires(Permission.PROFILE)
def me():
    """The user holding the token."""
    user = current_user
    return {
        "id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "role": str(user.role),
        "agency": user.agency,
        "locale": user.locale,
        "kecamatan_code": user.kecamatan_code,
        "kelurahan_code": user.kelurahan_code,
        "permissions": sorted(str(p) for p in ROLE_PERMISSIONS[user.role]),
    }


class SinergiApi(Api):
    """flask-smorest's Api, but errors keep the one shape of DESIGN.md §6 (handled in core.http).

    The default error responses of the OpenAPI document describe that shape too (``ApiError``), not
    flask-smorest's ``{code, status, message, errors}``, which the API never sends.
    """

    ERROR_SCHEMA = ApiError

    def _register_error_handlers(self):
        return None


def init_api(app: Flask) -> None:
    api = SinergiApi(
        app,
        spec_kwargs={
            "info": {"description": "Sinergi case-management API. Errors: {error, message, fields}."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    for blueprint in (bp, cases_bp, households_api_bp, reports_api_bp, admin_users_api_bp):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    # The spec itself is public: clients and test tools read it before they hold a token.
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith("api-docs."):
            app.view_functions[endpoint] = public(_wrap(view))
    app.extensions["sinergi_api"] = api


def _wrap(view):
    def spec_view(*args, **kwargs):
        return view(*args, **kwargs)

    spec_view.__name__ = getattr(view, "__name__", "spec_view")
    return spec_view
