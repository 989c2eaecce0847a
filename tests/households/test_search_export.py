"""Search (NIK, KK, misspelt names on PostgreSQL, case number) and exports (scope, masking, log, formulas)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.core.audit import AccessKind, AccessLog
from caseapp.core.crypto import keyring
from caseapp.extensions import db
from caseapp.households.exports import safe_cell
from caseapp.households.imports.engine import run_import
from caseapp.households.models import Household
from caseapp.households.queries import filtered_households
from tests.helpers import csrf_token, login
from tests.households.dtsen import col, rows_for, write_csv


def _import(app, tmp_path, rows):
    with app.app_context():
        result = run_import(db.session.connection(), write_csv(tmp_path / "f.csv", rows), keyring=keyring())
        assert result.merged, result.errors[:3]
        db.session.commit()


def _export_rows(response) -> list[list[str]]:
    text = response.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


@pytest.mark.parametrize("value", ["=1+1", "+62", "-5", "@SUM(A1)"])
def test_formula_cells_are_neutralised(value):
    assert safe_cell(value) == "'" + value
    assert safe_cell("Budi") == "Budi" and safe_cell(5) == 5


def test_kk_search_finds_the_household_by_post(client, app, tmp_path):
    rows = rows_for(1)
    _import(app, tmp_path, rows)
    login(client, "admin@sinergi.test")
    token = csrf_token(client.get("/households/").get_data(as_text=True))
    response = client.post("/households/search", data={"number": rows[0][0], "csrf_token": token})
    assert response.status_code == 302 and "/households/" in response.headers["Location"]
    assert rows[0][0] not in response.headers["Location"]


def test_household_export_masks_numbers_neutralises_and_logs(client, app, tmp_path):
    rows = rows_for(2)
    rows[0][col("NAMA")] = "=HYPERLINK(\"x\")"
    _import(app, tmp_path, rows)
    login(client, "admin@sinergi.test")
    response = client.get("/households/export?format=csv&desil=1")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    table = _export_rows(response)
    assert len(table) == 2   # header + the one household with desil 1
    body = response.data.decode("utf-8-sig")
    assert rows[0][0] not in body and rows[0][col("NIK")] not in body
    assert "'=HYPERLINK" in body
    with app.app_context():
        entry = db.session.scalars(select(AccessLog).where(AccessLog.kind == AccessKind.EXPORT)
                                   .order_by(AccessLog.id.desc())).first()
        assert entry.row_count == 1 and entry.detail["filters"] == {"desil": 1}
        assert entry.detail["identity"] == "masked"


def test_full_numbers_only_for_roles_that_may_reveal_and_logged_as_reveal(client, app, tmp_path):
    rows = rows_for(1)
    _import(app, tmp_path, rows)
    login(client, "admin@sinergi.test")
    response = client.get("/households/export?format=xlsx&identity=full")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[1][1] == rows[0][0]
    with app.app_context():
        assert db.session.scalar(select(AccessLog).where(AccessLog.kind == AccessKind.REVEAL,
                                                         AccessLog.object_type == "households")).row_count == 1


def test_export_covers_only_the_users_scope(client, app, tmp_path):
    _import(app, tmp_path, rows_for(3))   # kelurahan 35.71.01.1001, 35.71.01.1002, 35.71.02.1001
    login(client, "worker2@sinergi.test")
    with app.app_context():
        worker2 = db.session.scalar(select(User).where(User.email == "worker2@sinergi.test"))
        visible = {h.kelurahan_code for h in db.session.scalars(filtered_households(worker2))}
    table = _export_rows(client.get("/households/export?format=csv"))
    assert {row[3] for row in table[1:]} == visible
    assert client.get("/households/export?identity=full").status_code in (200, 403)


def test_case_export_is_logged(client, app):
    login(client, "supervisor@sinergi.test")
    response = client.get("/cases/export?format=xlsx&stage=referral")
    assert response.status_code == 200
    with app.app_context():
        entry = db.session.scalars(select(AccessLog).where(AccessLog.object_type == "cases")).first()
        assert entry.kind == AccessKind.EXPORT and entry.detail["filters"] == {"stage": "referral"}


@pytest.mark.postgres
def test_misspelt_name_finds_the_household_on_postgresql(ctx, tmp_path):
    rows = rows_for(2)
    rows[0][col("NAMA")] = "Slamet Prasetyo"
    result = run_import(db.session.connection(), write_csv(tmp_path / "f.csv", rows), keyring=keyring())
    assert result.merged
    admin = db.session.scalar(select(User).where(User.email == "admin@sinergi.test"))
    found = db.session.scalars(filtered_households(admin, q="Slamet Prasetio")).all()
    assert [h.kk_hash for h in found] == [db.session.scalar(select(Household.kk_hash).order_by(Household.id))]


def test_list_page_offers_export_and_import_by_permission(client):
    login(client, "worker@sinergi.test")
    page = client.get("/households/?desil=2").get_data(as_text=True)
    assert "/households/export?format=csv&amp;desil=2" in page and "/households/imports" not in page
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").get_data(as_text=True))})
    login(client, "supervisor@sinergi.test")
    assert "/households/imports" in client.get("/households/").get_data(as_text=True)


def test_case_list_offers_export_of_the_same_filter_by_permission(client):
    login(client, "worker@sinergi.test")
    page = client.get("/cases/?stage=referral").get_data(as_text=True)
    assert "/cases/export?stage=referral&amp;format=csv" in page and "format=xlsx" in page
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").get_data(as_text=True))})
    login(client, "viewer@sinergi.test")
    assert client.get("/cases/").status_code in (302, 403)  # viewers read aggregates, not case lists
