"""The dashboard, the quarterly report, the by-name list and the API through HTTP: who sees what."""

from __future__ import annotations

import json
import re
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from caseapp.auth.models import User
from caseapp.auth.permissions import Permission, declared_permission
from caseapp.cases.queries import visible_cases
from caseapp.core.audit import AccessKind, AccessLog
from caseapp.extensions import db
from caseapp.reports.charts import chart_data
from caseapp.reports.queries import ReportFilters, Scope, funnel
from tests.api.test_query_counts import counting
from tests.helpers import DEMO_PASSWORD, MFA_USERS, login, totp_code
from tests.reports.builders import MOJOROTO, SEMAMPIR, at, case, delivered, household
from tests.reports.conftest import EVIL_ADDRESS, KOTA_NAME, MOJOROTO_NAME, PESANTREN_NAME

YEAR = "date_from=2025-01-01&date_to=2025-12-31"
NAMES = (MOJOROTO_NAME, KOTA_NAME, PESANTREN_NAME, "Rahasia")


class Api:
    """A bearer token taken *before* the HTML login: an MFA user's code of the previous 30-second step,
    so the login's current code is not a replay."""

    def __init__(self, client, email):
        body = {"email": email, "password": DEMO_PASSWORD}
        if email in MFA_USERS:
            body["totp"] = totp_code(-1)
        response = client.post("/api/v1/auth/token", json=body)
        assert response.status_code == 200, response.json
        self.client, self.headers = client, {"Authorization": f"Bearer {response.json['token']}"}

    def get(self, path):
        return self.client.get(path, headers=self.headers)


def chart_json(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert match, "dashboard has no chart data block"
    return json.loads(match.group(1))


def scope_supervisor(app, kecamatan: str | None) -> None:
    with app.app_context():
        db.session.scalar(select(User).where(User.email == "supervisor@sinergi.test")).kecamatan_code = kecamatan
        db.session.commit()


# --- permissions -------------------------------------------------------------------------------------------

EXPECTED_PERMISSIONS = {
    "reports.dashboard": Permission.DASHBOARD_VIEW,
    "reports.index": Permission.REPORT_EXPORT,
    "reports.quarter": Permission.REPORT_EXPORT,
    "reports.quarter_xlsx": Permission.REPORT_EXPORT,
    "reports.quarter_households": Permission.DATA_EXPORT,
    "reports.take_snapshot": Permission.ADMIN_CONFIG,
    "api_reports.summary": Permission.DASHBOARD_VIEW,
}


def test_every_report_route_declares_its_permission(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.endpoint.startswith(("reports.", "api_reports."))}
    assert endpoints == set(EXPECTED_PERMISSIONS)
    for endpoint, permission in EXPECTED_PERMISSIONS.items():
        assert declared_permission(app.view_functions[endpoint]) == permission, endpoint


@pytest.mark.parametrize(("email", "status"), [
    ("viewer@sinergi.test", 200), ("supervisor@sinergi.test", 200), ("admin@sinergi.test", 200),
    ("worker@sinergi.test", 403), ("dokter@sinergi.test", 403),
])
def test_dashboard_is_for_viewers_supervisors_and_admins(client, reported, email, status):
    login(client, email)
    assert client.get(f"/reports/dashboard?{YEAR}").status_code == status
    assert client.get("/reports/").status_code == status
    assert client.get("/reports/2025/q1").status_code == status


def test_dashboard_shows_charts_and_tables_with_the_served_chart_library(client, reported):
    login(client, "admin@sinergi.test")
    page = client.get(f"/reports/dashboard?{YEAR}")
    html = page.text
    assert "/static/vendor/chartjs/chart.umd.min.js" in html and "/static/js/dashboard.js" in html
    assert "<script>" not in html and " style=" not in html, "the CSP forbids inline script and style"
    library = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert library.status_code == 200
    library.close()
    charts = chart_json(html)
    assert charts["funnel"]["series"][0]["data"] == [8, 7, 0, 0, 0]
    for heading in ("Alur kasus", "Keterlambatan per dinas", "Lama tiap langkah", "Intervensi per strategi",
                    "Cakupan rumah tangga sasaran", "Kelulusan"):
        assert heading in html
    assert html.count("<table") >= 7


def test_invalid_filters_fall_back_to_the_default_period_with_a_message(client, reported):
    login(client, "viewer@sinergi.test")
    page = client.get("/reports/dashboard?date_from=2025-05-01&date_to=2025-01-01&kecamatan=99.99")
    assert page.status_code == 200
    assert "Filter tidak valid" in page.text


# --- viewers: aggregates only ----------------------------------------------------------------------------------

def test_viewer_gets_no_name_anywhere_and_no_by_name_list(client, reported):
    login(client, "viewer@sinergi.test")
    pages = [client.get(f"/reports/dashboard?{YEAR}").text, client.get("/reports/2025/q1").text,
             client.get("/reports/").text]
    for html in pages:
        for name in NAMES:
            assert name not in html
    assert client.get("/reports/2025/q1/households").status_code == 403
    assert "Daftar sasaran by name" not in pages[1]
    workbook = load_workbook(BytesIO(client.get("/reports/2025/q1.xlsx").data))
    assert "Daftar sasaran" not in workbook.sheetnames
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and any(n in v for n in NAMES) for v in row)


def test_viewer_sees_small_counts_suppressed(client, reported):
    login(client, "viewer@sinergi.test")
    html = client.get(f"/reports/dashboard?{YEAR}&kecamatan=35.71.02").text
    assert "&lt;&nbsp;5" in html, "Kota has one case: shown as < 5"
    summary = Api(client, "viewer@sinergi.test").get(
        "/api/v1/reports/summary?from=2025-01-01&to=2025-12-31&kecamatan=35.71.02").json
    assert summary["suppression"]["applied"] is True
    assert summary["funnel"]["total"] is None and summary["funnel"]["suppressed"]["total"] == "lt5"


# --- supervisors: their kecamatan ------------------------------------------------------------------------------

def test_supervisor_with_a_kecamatan_sees_only_that_kecamatan(app, client, reported):
    scope_supervisor(app, MOJOROTO)
    api = Api(client, "supervisor@sinergi.test")
    login(client, "supervisor@sinergi.test")
    html = client.get(f"/reports/dashboard?{YEAR}").text
    assert "Kecamatan Mojoroto" in html
    assert chart_json(html)["funnel"]["series"][0]["data"][0] == reported.mojoroto_cases
    summary = api.get("/api/v1/reports/summary?from=2025-01-01&to=2025-12-31").json
    assert summary["funnel"]["total"] == reported.mojoroto_cases
    assert summary["scope"] == {"kecamatan": MOJOROTO}
    assert [r["code"] for r in summary["coverage"]["kecamatan"]] == [MOJOROTO]
    listing = client.get("/reports/2025/q1/households").text
    assert MOJOROTO_NAME in listing
    assert KOTA_NAME not in listing and PESANTREN_NAME not in listing
    assert KOTA_NAME not in client.get("/reports/2025/q1/households?kelurahan=" + SEMAMPIR).text


def test_report_scope_of_a_supervisor_is_their_case_scope(ctx, reported):
    supervisor = ctx.scalar(select(User).where(User.email == "supervisor@sinergi.test"))
    supervisor.kecamatan_code = MOJOROTO
    visible = ctx.scalar(select(func.count()).select_from(visible_cases(supervisor).subquery()))
    everything = ReportFilters(date(2000, 1, 1), date(2099, 12, 31))
    assert funnel(Scope(MOJOROTO), everything)["total"] == visible == reported.mojoroto_cases


def test_supervisor_and_admin_open_the_by_name_list_and_it_is_logged(app, client, reported):
    login(client, "admin@sinergi.test")
    listing = client.get("/reports/2025/q1/households")
    assert listing.status_code == 200
    for name in (MOJOROTO_NAME, KOTA_NAME, PESANTREN_NAME):
        assert name in listing.text
    assert "3571" in listing.text and "*" in listing.text, "NIK shown masked"
    with app.app_context():
        entry = db.session.scalars(select(AccessLog).where(AccessLog.kind == AccessKind.EXPORT)
                                   .order_by(AccessLog.id.desc())).first()
        assert entry.detail["format"] == "html" and entry.row_count == 9


# --- XLSX ------------------------------------------------------------------------------------------------------

def test_xlsx_has_the_expected_sheets_neutralised_text_and_is_logged(app, client, reported):
    login(client, "admin@sinergi.test")
    response = client.get("/reports/2025/q1.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(BytesIO(response.data))
    assert workbook.sheetnames == ["Indikator", "Cakupan", "Anggaran", "Intervensi", "Kasus", "Daftar sasaran"]
    listing = workbook["Daftar sasaran"]
    values = [cell for row in listing.iter_rows() for cell in row if isinstance(cell.value, str)]
    address = next(c for c in values if "HYPERLINK" in c.value)
    assert address.value == "'" + EVIL_ADDRESS and address.data_type == "s"
    assert any(c.value == "'" + KOTA_NAME for c in values)
    assert any(c.value == "'" + PESANTREN_NAME for c in values)
    assert not any(c.data_type == "f" for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row)
    budget = [row for row in workbook["Anggaran"].iter_rows(values_only=True) if row and row[0] == "Total"]
    assert budget and budget[0][3] == 8 and budget[0][4] == 20_500_000
    with app.app_context():
        entry = db.session.scalars(select(AccessLog).where(AccessLog.kind == AccessKind.EXPORT)
                                   .order_by(AccessLog.id.desc())).first()
        assert entry.detail == {"quarter": "2025Q1", "format": "xlsx", "personal_data": True, "scope": None}
        assert entry.row_count == 9


# --- API -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("email", ["admin@sinergi.test", "viewer@sinergi.test"])
def test_api_summary_equals_the_dashboard_figures(app, client, reported, email):
    api = Api(client, email)
    summary = api.get("/api/v1/reports/summary?from=2025-01-01&to=2025-12-31&programme=RTLH").json
    login(client, email)
    html = client.get(f"/reports/dashboard?{YEAR}&programme=RTLH").text
    with app.test_request_context():
        assert chart_data(summary) == chart_json(html)
    assert summary["filters"]["programme"] == "RTLH"
    assert summary["interventions"]["total"]["planned"] in (1, None)


def test_api_summary_query_is_strict(client, reported):
    api = Api(client, "admin@sinergi.test")
    assert api.get("/api/v1/reports/summary?colour=red").status_code == 422
    assert api.get("/api/v1/reports/summary?from=2025-05-01&to=2025-01-01").status_code == 422
    assert api.get("/api/v1/reports/summary?kecamatan=Mojoroto").status_code == 422
    assert api.get("/api/v1/reports/summary?kecamatan=35.71.01&kelurahan=35.71.02.1001").status_code == 422
    ok = api.get("/api/v1/reports/summary?kelurahan=35.71.01.1001&agency=DPKP")
    assert ok.status_code == 200 and ok.json["filters"]["kelurahan"] == "35.71.01.1001"


def test_api_summary_refuses_roles_without_the_dashboard(client, reported):
    assert Api(client, "worker@sinergi.test").get("/api/v1/reports/summary").status_code == 403
    assert client.get("/api/v1/reports/summary").status_code == 401


# --- a bounded number of statements per page --------------------------------------------------------------------

def test_dashboard_statements_do_not_grow_with_the_data(app, client, reported):
    login(client, "admin@sinergi.test")
    client.get(f"/reports/dashboard?{YEAR}")

    def statements() -> int:
        with counting(app) as seen:
            assert client.get(f"/reports/dashboard?{YEAR}").status_code == 200
        return len(seen)

    before = statements()
    with app.app_context():
        for i in range(40):
            delivered(case(household(SEMAMPIR), opened=at(2025, 4, 1 + i % 20)), "RTLH", date(2025, 5, 1 + i % 28),
                      1_000_000)
        db.session.commit()
    after = statements()
    print(f"statements per dashboard request: {before} → {after}")
    assert after == before <= 20



@pytest.mark.parametrize("email", ["worker@sinergi.test", "dokter@sinergi.test", "viewer@sinergi.test"])
def test_the_by_name_list_is_refused_to_everyone_but_supervisors_and_admins(client, reported, email):
    login(client, email)
    response = client.get("/reports/2025/q1/households")
    assert response.status_code == 403
    for name in NAMES:
        assert name not in response.text
