"""``GET /api/v1/reports/summary``: the dashboard's figures as JSON, with the dashboard's filters.

Same scope and suppression as the page: viewers get city-wide aggregates with small counts hidden
(``null`` plus ``"suppressed": {field: "lt5" | "hidden"}`` on the row), supervisors their kecamatan,
admins the city. Definitions: ``docs/reports.md``.
"""

from __future__ import annotations

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_smorest import Blueprint

from caseapp.api.schemas import ApiError, StrictSchema
from caseapp.auth.permissions import Permission, requires
from caseapp.reports.forms import MAX_SPAN, filters_from
from caseapp.reports.policy import aggregates_only, report_scope
from caseapp.reports.presenters import present
from caseapp.reports.queries import compute_figures

bp = Blueprint("api_reports", __name__, url_prefix="/api/v1", description="Dashboard figures (aggregates)")
SECURITY = [{"bearerAuth": []}]


class SummaryQuery(StrictSchema):
    date_from = ma.fields.Date(data_key="from", metadata={"description": "first day (WIB); default 1 January"})
    date_to = ma.fields.Date(data_key="to", metadata={"description": "last day (WIB), included; default today"})
    kecamatan = ma.fields.String(validate=ma.validate.Regexp(r"^\d{2}\.\d{2}\.\d{2}$"),
                                 metadata={"example": "35.71.01"})
    kelurahan = ma.fields.String(validate=ma.validate.Regexp(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"),
                                 metadata={"example": "35.71.01.1001"})
    programme = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Z0-9_]{1,32}$"), metadata={"example": "RTLH"})
    agency = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Z0-9_-]{1,32}$"), metadata={"example": "DPKP"})

    @ma.validates_schema
    def check_period(self, data, **kwargs):
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise ma.ValidationError(str(_l("Tanggal akhir harus sesudah tanggal awal.")), "to")
        if start and end and end - start > MAX_SPAN:
            raise ma.ValidationError(str(_l("Periode paling panjang 5 tahun.")), "to")
        kecamatan, kelurahan = data.get("kecamatan"), data.get("kelurahan")
        if kecamatan and kelurahan and not kelurahan.startswith(kecamatan + "."):
            raise ma.ValidationError(str(_l("Kelurahan ini tidak ada di kecamatan yang dipilih.")), "kelurahan")


class Summary(ma.Schema):
    schema = ma.fields.Integer(metadata={"description": "layout version of the figures"})
    scope = ma.fields.Dict(metadata={"description": "{kecamatan}: null = whole city"})
    filters = ma.fields.Dict()
    as_of = ma.fields.String(metadata={"description": "moment stocks (open work, stages) are measured"})
    poverty_line = ma.fields.Dict(allow_none=True)
    funnel = ma.fields.Dict()
    overdue = ma.fields.Dict()
    durations = ma.fields.List(ma.fields.Dict())
    interventions = ma.fields.Dict()
    budget = ma.fields.Dict()
    coverage = ma.fields.Dict()
    graduation = ma.fields.Dict()
    suppression = ma.fields.Dict()


@bp.route("/reports/summary")
@bp.arguments(SummaryQuery, location="query", unknown=ma.RAISE)
@bp.response(200, Summary)
@bp.alt_response(401, schema=ApiError)
@bp.alt_response(403, schema=ApiError)
@bp.alt_response(422, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.DASHBOARD_VIEW)
def summary(args):
    """The dashboard figures (funnel, overdue work, step durations, interventions, budget, coverage,
    graduation) for the caller's scope and the given filters; viewers get suppressed aggregates."""
    scope = report_scope(current_user)
    figures = compute_figures(scope, filters_from(args))
    return present(figures, suppress=aggregates_only(current_user))
