"""``/api/v1/admin/users`` (DESIGN.md §6): list, create and change users; admins only, others 403.

The same operations as the admin screens (``caseapp.auth.operations``): a user created without a
password gets a one-time invitation URL in the answer (shown once, only its hash is stored).
"""

from __future__ import annotations

import marshmallow as ma
from flask import abort, url_for
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import func, or_, select

from caseapp.api.schemas import ApiError, StrictSchema
from caseapp.auth import operations as ops
from caseapp.auth import passwords
from caseapp.auth.models import Role, User
from caseapp.auth.permissions import Permission, requires
from caseapp.cases.operations.handover import user_open_work
from caseapp.core.errors import ValidationFailed
from caseapp.core.models import utcnow
from caseapp.extensions import db

bp = Blueprint("api_admin", __name__, url_prefix="/api/v1/admin", description="User administration (admins)")
SECURITY = [{"bearerAuth": []}]
PER_PAGE = 100


class AdminUser(ma.Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    full_name = ma.fields.String()
    role = ma.fields.String()
    agency = ma.fields.String(allow_none=True, metadata={"description": "agency code"})
    kecamatan_code = ma.fields.String(allow_none=True)
    kelurahan_code = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    locale = ma.fields.String()
    active = ma.fields.Boolean()
    has_password = ma.fields.Boolean()
    has_totp = ma.fields.Boolean()
    invite_url = ma.fields.String(metadata={"description": "one-time link, only in the answer to a create "
                                                           "without password"})


class AdminUserList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminUser))
    total = ma.fields.Integer()


class UserQuery(StrictSchema):
    q = ma.fields.String(validate=ma.validate.Length(max=100))
    role = ma.fields.String(validate=ma.validate.OneOf([r.value for r in Role]))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=10_000))


class UserCreate(StrictSchema):
    email = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    agency = ma.fields.String(allow_none=True)
    kecamatan_code = ma.fields.String(allow_none=True)
    kelurahan_code = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    locale = ma.fields.String(load_default="id")
    password = ma.fields.String(load_only=True, metadata={"description": "omit to get an invitation URL"})


class UserPatch(StrictSchema):
    email = ma.fields.String()
    full_name = ma.fields.String()
    role = ma.fields.String()
    agency = ma.fields.String(allow_none=True)
    kecamatan_code = ma.fields.String(allow_none=True)
    kelurahan_code = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    locale = ma.fields.String()
    active = ma.fields.Boolean()


def _present(user: User, **extra) -> dict:
    return {"id": user.id, "email": user.email, "full_name": user.full_name, "role": str(user.role),
            "agency": user.agency.code if user.agency else None, "kecamatan_code": user.kecamatan_code,
            "kelurahan_code": user.kelurahan_code, "phone": user.phone, "locale": user.locale,
            "active": user.active, "has_password": user.password_hash is not None, "has_totp": user.has_totp,
            **extra}


def _profile(user: User) -> dict:
    return {"email": user.email, "full_name": user.full_name, "role": str(user.role),
            "agency": user.agency.code if user.agency else None, "kecamatan_code": user.kecamatan_code,
            "kelurahan_code": user.kelurahan_code, "phone": user.phone, "locale": user.locale}


@bp.route("/users")
@bp.arguments(UserQuery, location="query")
@bp.response(200, AdminUserList)
@bp.alt_response(403, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.ADMIN_USERS)
def list_users(args):
    """Users, by name; filter by `q` (name or e-mail) and `role`; 100 per page."""
    stmt = select(User)
    if args.get("q"):
        like = f"%{args['q'].lower()}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like), func.lower(User.full_name).like(like)))
    if args.get("role"):
        stmt = stmt.where(User.role == args["role"])
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    users = db.session.scalars(stmt.order_by(User.full_name, User.id).limit(PER_PAGE)
                               .offset((args["page"] - 1) * PER_PAGE))
    return {"items": [_present(u) for u in users], "total": total}


@bp.route("/users", methods=["POST"])
@bp.arguments(UserCreate)
@bp.response(201, AdminUser)
@bp.alt_response(403, schema=ApiError)
@bp.alt_response(422, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.ADMIN_USERS)
def create_user(body):
    """Create a user. Without `password` the answer carries a one-time `invite_url` (shown once)."""
    password = body.pop("password", None)
    if password is not None:
        problems = passwords.password_problems(password, email=body.get("email"), name=body.get("full_name"))
        if problems:
            raise ValidationFailed({"password": problems})
    user, token = ops.invite_user(db.session, current_user, **body)
    extra = {}
    if password is None:
        extra["invite_url"] = url_for("account_setup.start", token=token, _external=True)
    else:
        ops.user_token(db.session, token).used_at = utcnow()
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = utcnow()
    db.session.commit()
    return _present(user, **extra)


@bp.route("/users/<int:user_id>", methods=["PATCH"])
@bp.arguments(UserPatch)
@bp.response(200, AdminUser)
@bp.alt_response(403, schema=ApiError)
@bp.alt_response(404, schema=ApiError)
@bp.alt_response(422, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.ADMIN_USERS)
def update_user(body, user_id: int):
    """Change fields of a user (omitted fields keep their value); `active: false` deactivates and ends
    every session, refused while the user still holds open cases (hand them over first)."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    active = body.pop("active", None)
    open_work = user_open_work(db.session, user)
    if body:
        ops.update_user(db.session, current_user, user, open_work=open_work, **{**_profile(user), **body})
    if active is not None:
        ops.set_user_active(db.session, current_user, user, active, open_work=open_work)
    db.session.commit()
    return _present(user)
