"""Request and response schemas. Unknown fields are refused (no mass assignment, SECURITY.md 8.2.3)."""

from __future__ import annotations

import marshmallow as ma

# What a database integer column holds: larger numbers are a 422 here, not an overflow in the database.
INT32 = ma.validate.Range(-(2**31), 2**31 - 1)
RECORD_ID = ma.validate.Range(1, 2**31 - 1, error="Must be a record id (1 to 2147483647).")


def money_amount(value) -> None:
    """0 to one billion rupiah. A function, not ``Range``: apispec would print a Decimal range as
    string bounds, which make the OpenAPI document invalid."""
    if not 0 <= value <= 1_000_000_000:
        raise ma.ValidationError("Must be between 0 and 1000000000.")


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class TokenRequest(StrictSchema):
    email = ma.fields.Email(required=True, metadata={"example": "worker@sinergi.test"})
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1024))
    totp = ma.fields.String(validate=ma.validate.Regexp(r"^\d{6}$"), metadata={"description": "6-digit code"})


class TokenResponse(ma.Schema):
    token = ma.fields.String(required=True)
    expires_at = ma.fields.DateTime(required=True)


class AgencyRef(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()


class Me(ma.Schema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    full_name = ma.fields.String()
    role = ma.fields.String(required=True)
    agency = ma.fields.Nested(AgencyRef, allow_none=True)
    locale = ma.fields.String()
    kecamatan_code = ma.fields.String(allow_none=True)
    kelurahan_code = ma.fields.String(allow_none=True)
    permissions = ma.fields.List(ma.fields.String())


class ApiError(ma.Schema):
    error = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))
    request_id = ma.fields.String(allow_none=True)
