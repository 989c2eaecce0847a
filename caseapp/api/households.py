"""Household register API (DESIGN.md §6): list, register, read, update the address, NIK/KK search, reveal.

Same operations, scope and policies as the HTML pages. NIK and KK are masked in every answer; the
full number only comes from ``POST …/reveal`` (logged). Exact NIK/KK search is a POST so the number
never sits in a URL. Member fields outside the caller's sections (health, disability, children,
finance) are left out of the JSON altogether, not sent empty.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from caseapp.agencies.models import Region
from caseapp.api.schemas import INT32, RECORD_ID, ApiError, StrictSchema
from caseapp.auth.models import User
from caseapp.auth.permissions import Permission, requires
from caseapp.core.audit import AccessKind, record_access
from caseapp.core.errors import NotFound
from caseapp.extensions import db
from caseapp.households import operations as ops
from caseapp.households.models import Household, Person, Section
from caseapp.households.policy import visible_person_fields, visible_sections
from caseapp.households.queries import (
    count_households,
    filtered_households,
    get_visible_household_or_404,
    is_household_visible,
)
from caseapp.households.views import age_on

bp = Blueprint(
    "api_households", __name__, url_prefix="/api/v1",
    description="Household register: list, register, update the address, search by NIK/KK, reveal a number",
)
SECURITY = [{"bearerAuth": []}]
# Member answers beyond the general identity fields; each is sent only to callers who may read its section.
OPTIONAL_MEMBER_FIELDS = (
    "marital_status", "education_level", "school_participation", "work_status", "work_sector", "monthly_income",
    "disability_types", "chronic_illness", "pregnant",
)


def _flatten(messages: Any, prefix: str = "") -> dict[str, Any]:
    """``{"members": {1: {"nik": [...]}}}`` → ``{"members[1].nik": [...]}`` (the names operations use)."""
    if not isinstance(messages, dict):
        return {prefix or "_schema": messages}
    flat: dict[str, Any] = {}
    for key, value in messages.items():
        # List positions become [i]; names join with dots.
        name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


class FlatErrorsSchema(StrictSchema):
    """Nested errors come back under flat field names, like ``members[0].birth_date``."""

    def handle_error(self, error: ma.ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        raise ma.ValidationError(_flatten(error.messages))


# --- request schemas -------------------------------------------------------------------------

class MemberIn(StrictSchema):
    nik = ma.fields.String(allow_none=True, metadata={"description": "16 digits; omit or null when missing"})
    name = ma.fields.String(metadata={"example": "Slamet Riyadi"})
    sex = ma.fields.String(metadata={"description": "L or P", "example": "L"})
    birth_date = ma.fields.Date(metadata={"example": "1980-05-17"})
    relation = ma.fields.String(metadata={"description": "head, spouse, child, …", "example": "head"})
    marital_status = ma.fields.String(allow_none=True)
    education_level = ma.fields.String(allow_none=True)
    school_participation = ma.fields.String(allow_none=True)
    work_status = ma.fields.String(allow_none=True)
    work_sector = ma.fields.String(allow_none=True)
    monthly_income = ma.fields.Integer(allow_none=True, validate=INT32)
    disability_types = ma.fields.List(ma.fields.String(), allow_none=True)
    chronic_illness = ma.fields.Boolean(allow_none=True)
    pregnant = ma.fields.Boolean(allow_none=True)


class HouseholdIn(FlatErrorsSchema):
    """A household to register. Required: ``kelurahan_code``, ``rw``, ``rt``, ``address``, ``members``
    with exactly one ``head``; every problem is reported at once (422, ``fields``)."""

    kk_number = ma.fields.String(allow_none=True, metadata={"description": "16 digits; null when missing"})
    kelurahan_code = ma.fields.String(metadata={"example": "35.71.01.1001"})
    rw = ma.fields.Integer(validate=INT32)
    rt = ma.fields.Integer(validate=INT32)
    address = ma.fields.String()
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    desil = ma.fields.Integer(allow_none=True, validate=INT32,
                              metadata={"description": "1-10, from DTSEN, with desil_release"})
    desil_release = ma.fields.String(allow_none=True, metadata={"example": "DTSEN-2025-Q2"})
    members = ma.fields.List(ma.fields.Nested(MemberIn))


class HouseholdPatch(FlatErrorsSchema):
    """Address, RW, RT and geotag, with the ``version`` last read. Desil and KK are refused (422)."""

    version = ma.fields.Integer(required=True, validate=INT32)
    address = ma.fields.String()
    rw = ma.fields.Integer(validate=INT32)
    rt = ma.fields.Integer(validate=INT32)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    # Accepted only to be refused with a clear message (desil changes with a DTSEN release; KK by a KK change).
    desil = ma.fields.Raw(allow_none=True)
    desil_release = ma.fields.Raw(allow_none=True)
    kk_number = ma.fields.Raw(allow_none=True)


class HouseholdListArgs(StrictSchema):
    kelurahan = ma.fields.String(metadata={"description": "Kelurahan code, e.g. 35.71.01.1001"})
    desil = ma.fields.Integer(validate=ma.validate.Range(1, 10))
    q = ma.fields.String(validate=ma.validate.Length(max=100), metadata={"description": "Part of a member's name"})
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(1, 100_000))
    per_page = ma.fields.Integer(load_default=25, validate=ma.validate.Range(1, 100))


class SearchIn(StrictSchema):
    number = ma.fields.String(required=True, validate=ma.validate.Length(max=32),
                              metadata={"description": "A member's NIK or the KK (current or earlier), 16 digits"})


class RevealIn(StrictSchema):
    person_id = ma.fields.Integer(allow_none=True, validate=RECORD_ID,
                                  metadata={"description": "A member's id for the NIK; omit for the KK"})


# --- response schemas ------------------------------------------------------------------------

class MemberOut(ma.Schema):
    id = ma.fields.Integer()
    nik = ma.fields.String(allow_none=True, metadata={"description": "Masked, e.g. 3571********0001"})
    name = ma.fields.String()
    sex = ma.fields.String()
    birth_date = ma.fields.Date(allow_none=True)
    age = ma.fields.Integer(allow_none=True)
    relation = ma.fields.String()
    active = ma.fields.Boolean()
    marital_status = ma.fields.String(allow_none=True)
    education_level = ma.fields.String(allow_none=True)
    school_participation = ma.fields.String(allow_none=True, metadata={"description": "Section: children"})
    work_status = ma.fields.String(allow_none=True, metadata={"description": "Section: finance"})
    work_sector = ma.fields.String(allow_none=True, metadata={"description": "Section: finance"})
    monthly_income = ma.fields.Integer(allow_none=True, metadata={"description": "Section: finance"})
    disability_types = ma.fields.List(ma.fields.String(), allow_none=True,
                                      metadata={"description": "Section: disability"})
    chronic_illness = ma.fields.Boolean(allow_none=True, metadata={"description": "Section: health"})
    pregnant = ma.fields.Boolean(allow_none=True, metadata={"description": "Section: health"})


class HouseholdOut(ma.Schema):
    id = ma.fields.Integer()
    version = ma.fields.Integer()
    kk_number = ma.fields.String(allow_none=True, metadata={"description": "Masked, e.g. 3571********0001"})
    kelurahan_code = ma.fields.String()
    kelurahan_name = ma.fields.String()
    rw = ma.fields.Integer(allow_none=True)
    rt = ma.fields.Integer(allow_none=True)
    address = ma.fields.String(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    desil = ma.fields.Integer(allow_none=True)
    desil_release = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    members = ma.fields.List(ma.fields.Nested(MemberOut))
    warnings = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                              metadata={"description": "Non-blocking NIK/KK warnings (on create only)"})


class HouseholdPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(HouseholdOut))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class SearchOut(ma.Schema):
    household_id = ma.fields.Integer()


class RevealOut(ma.Schema):
    number = ma.fields.String(metadata={"description": "The full NIK or KK (this request is logged)"})


# --- serialisation ---------------------------------------------------------------------------

def member_json(person: Person, fields: frozenset[str], today) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": person.id, "nik": person.nik_masked, "name": person.name, "sex": str(person.sex),
        "birth_date": person.birth_date, "age": age_on(person.birth_date, today), "relation": str(person.relation),
        "active": person.active,
    }
    data.update({name: getattr(person, name) for name in OPTIONAL_MEMBER_FIELDS if name in fields})
    return data


def household_json(household: Household, user: User, kelurahan_name: str | None = None) -> dict[str, Any]:
    if kelurahan_name is None:
        region = db.session.get(Region, household.kelurahan_code)
        kelurahan_name = region.name if region is not None else None
    fields, today = visible_person_fields(user), ops.today_jakarta()
    return {
        "id": household.id, "version": household.version, "kk_number": household.kk_masked,
        "kelurahan_code": household.kelurahan_code, "kelurahan_name": kelurahan_name,
        "rw": household.rw, "rt": household.rt, "address": household.address,
        "latitude": household.latitude, "longitude": household.longitude,
        "desil": household.desil, "desil_release": household.desil_release, "status": str(household.status),
        "members": [member_json(m, fields, today) for m in household.members],
    }


def _log_sensitive_read(households: list[Household]) -> None:
    specific = sorted(str(s) for s in visible_sections(current_user) if s != Section.GENERAL)
    if specific and households:
        record_access(db.session, user_id=current_user.id, kind=AccessKind.READ_SENSITIVE, object_type="household",
                      object_id=households[0].id if len(households) == 1 else None,
                      detail={"sections": specific, "household_ids": [h.id for h in households]},
                      row_count=len(households))
        db.session.commit()


# --- endpoints -------------------------------------------------------------------------------

@bp.route("/households", methods=["GET"])
@bp.arguments(HouseholdListArgs, location="query", unknown=ma.RAISE)
@bp.response(200, HouseholdPage)
@bp.alt_response(401, schema=ApiError)
@bp.alt_response(403, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.HOUSEHOLD_VIEW)
def list_households(args):
    """Households in the caller's scope, newest first; filters ``kelurahan``, ``desil``, ``q`` (a member's name)."""
    stmt = filtered_households(current_user, kelurahan=args.get("kelurahan"), desil=args.get("desil"),
                               q=(args.get("q") or "").strip() or None)
    total = count_households(stmt)
    page, per_page = args["page"], args["per_page"]
    households = db.session.scalars(
        stmt.options(selectinload(Household.members)).order_by(Household.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    codes = {h.kelurahan_code for h in households}
    names = dict(db.session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all())
    items = [household_json(h, current_user, names.get(h.kelurahan_code)) for h in households]
    _log_sensitive_read(list(households))
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@bp.route("/households", methods=["POST"])
@bp.arguments(HouseholdIn)
@bp.response(201, HouseholdOut)
@bp.alt_response(409, schema=ApiError, description="A NIK or the KK is already registered (the message names it)")
@bp.alt_response(422, schema=ApiError, description="Invalid input; `fields` names each problem")
@bp.doc(security=SECURITY)
@requires(Permission.HOUSEHOLD_EDIT)
def create_household(body):
    """Register a household with its members (exactly one ``head``). NIK/KK warnings come back in ``warnings``."""
    household = ops.create_household(db.session, actor=current_user, data=body)
    db.session.commit()
    return {**household_json(household, current_user), "warnings": household.warnings}


@bp.route("/households/<int:household_id>", methods=["GET"])
@bp.response(200, HouseholdOut)
@bp.alt_response(404, schema=ApiError, description="Not found or outside the caller's scope")
@bp.doc(security=SECURITY)
@requires(Permission.HOUSEHOLD_VIEW)
def get_household(household_id: int):
    """One household in scope, with its members (NIK/KK masked; member fields limited to the caller's sections)."""
    household = get_visible_household_or_404(current_user, household_id)
    data = household_json(household, current_user)
    _log_sensitive_read([household])
    return data


@bp.route("/households/<int:household_id>", methods=["PATCH"])
@bp.arguments(HouseholdPatch)
@bp.response(200, HouseholdOut)
@bp.alt_response(404, schema=ApiError)
@bp.alt_response(409, schema=ApiError, description="`stale_version`: changed since it was read")
@bp.alt_response(422, schema=ApiError, description="Invalid input, or desil/KK (not changed through this call)")
@bp.doc(security=SECURITY)
@requires(Permission.HOUSEHOLD_EDIT)
def update_household(body, household_id: int):
    """Change ``address``, ``rw``, ``rt``, ``latitude``, ``longitude``; send the ``version`` you read."""
    household = get_visible_household_or_404(current_user, household_id)
    version = body.pop("version")
    ops.update_household(db.session, actor=current_user, household=household, data=body, version=version)
    db.session.commit()
    return household_json(household, current_user)


@bp.route("/households/search", methods=["POST"])
@bp.arguments(SearchIn)
@bp.response(200, SearchOut)
@bp.alt_response(404, schema=ApiError, description="Not registered, or registered outside the caller's area")
@bp.doc(security=SECURITY)
@requires(Permission.HOUSEHOLD_VIEW)
def search_households(body):
    """Exact search by a member's NIK or the KK (by POST: numbers never go in URLs)."""
    household = ops.find_by_number(db.session, body["number"])
    if household is None:
        raise NotFound(_("Nomor ini belum terdaftar di Sinergi."))
    if not is_household_visible(current_user, household.id):
        raise NotFound(_("Nomor ini terdaftar di rumah tangga di luar wilayah Anda. Hubungi penyelia Anda."))
    return {"household_id": household.id}


@bp.route("/households/<int:household_id>/reveal", methods=["POST"])
@bp.arguments(RevealIn)
@bp.response(200, RevealOut)
@bp.alt_response(403, schema=ApiError, description="The caller's role may not reveal numbers")
@bp.alt_response(404, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.IDENTITY_REVEAL)
def reveal_number(body, household_id: int):
    """The full NIK of ``person_id``, or the household's KK without it. Every call is written to the access log."""
    household = get_visible_household_or_404(current_user, household_id)
    person = None
    if body.get("person_id") is not None:
        person = next((m for m in household.members if m.id == body["person_id"]), None)
        if person is None:
            abort(404)
    number = ops.reveal_identity(db.session, actor=current_user, person=person,
                                 household=None if person is not None else household)
    db.session.commit()
    return {"number": number}
