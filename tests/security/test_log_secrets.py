"""Planted NIKs, KK numbers, passwords and API tokens never reach a log line or an audit row.

The scan itself runs at the end of the whole test session (``tests/security/log_capture.py``, a
plugin loaded by ``tests/conftest.py``): every log record of the run and every row written to
``audit_events`` and ``access_logs`` (also rows later rolled back) is searched for the demo password,
the TOTP secret, every API token issued during the run, the values planted here, and any 16-digit
number. One hit fails the run; the figure is printed under "secrets in logs".

This module plants a dedicated set and takes it through the places that log: a user created with
a planted password, a failed login with another planted password, a successful one, a household
registered with a planted KK and NIKs, a search by NIK (HTML and API), reveals of the full numbers,
a token issued through the API and used, and a forged token refused. It also checks the capture
itself sees what the app writes (so a silent capture cannot pass the scan).
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from caseapp.auth import operations as auth_ops
from caseapp.auth.models import Role
from caseapp.extensions import db
from caseapp.households.identity import build_kk, build_nik
from caseapp.households.models import Household
from tests.helpers import csrf_token, login
from tests.security.log_capture import CAPTURE

PLANTED_PASSWORD = "Planted-Pass-Sinergi-4711"
PLANTED_WRONG_PASSWORD = "Planted-Wrong-Pass-0815"
PLANTED_FORGED_TOKEN = "planted-forged-token-8YQm2kLr7Xw"
PLANTED_KK = build_kk("35", "71", "01", date(2017, 2, 3), 957)
PLANTED_HEAD_NIK = build_nik("35", "71", "01", date(1969, 11, 23), "L", 958)
PLANTED_SPOUSE_NIK = build_nik("35", "71", "01", date(1972, 6, 5), "P", 959)


def plant_all() -> None:
    for value, kind in ((PLANTED_PASSWORD, "planted password"), (PLANTED_WRONG_PASSWORD, "planted wrong password"),
                        (PLANTED_FORGED_TOKEN, "planted forged token"), (PLANTED_KK, "planted KK"),
                        (PLANTED_HEAD_NIK, "planted NIK"), (PLANTED_SPOUSE_NIK, "planted NIK")):
        CAPTURE.plant(value, kind)


def test_planted_secrets_go_through_the_app_and_stay_out_of_logs(app, session, client):
    plant_all()
    rows_before, records_before = len(CAPTURE.audit_rows), len(CAPTURE.records)
    with app.app_context():
        auth_ops.create_user(db.session, email="planted@sinergi.test", full_name="Pengguna Tanam",
                             role=Role.SOCIAL_WORKER, password=PLANTED_PASSWORD, kelurahan_code="35.71.01.1001",
                             kecamatan_code="35.71.01", agency_code="DINSOS")
        db.session.commit()

    # A failed login with a (planted) wrong password, then the right one.
    failed = login(client, "planted@sinergi.test", PLANTED_WRONG_PASSWORD)
    assert failed.status_code != 302
    assert login(client, "planted@sinergi.test", PLANTED_PASSWORD).status_code == 302

    # Register a household with planted numbers through the form.
    page = client.get("/households/new")
    form = {
        "kk_number": PLANTED_KK, "kelurahan_code": "35.71.01.1001", "rw": "5", "rt": "9",
        "address": "Jl. Tanam 7", "csrf_token": csrf_token(page.text), "submit": "Daftarkan rumah tangga",
        "members-0-nik": PLANTED_HEAD_NIK, "members-0-name": "Kepala Tanam", "members-0-sex": "L",
        "members-0-birth_date": "1969-11-23",
        "members-1-nik": PLANTED_SPOUSE_NIK, "members-1-name": "Istri Tanam", "members-1-sex": "P",
        "members-1-birth_date": "1972-06-05", "members-1-relation": "spouse", "members-1-chronic_illness": "ya",
    }
    created = client.post("/households/new", data=form)
    assert created.status_code == 302, created.text[:2000]
    household_id = int(re.search(r"/households/(\d+)$", created.headers["Location"]).group(1))

    # Search by NIK (POST), reveal the NIK and the KK.
    page = client.get("/households/")
    found = client.post("/households/search", data={"number": PLANTED_SPOUSE_NIK, "csrf_token": csrf_token(page.text)})
    assert found.status_code in (200, 302, 303)
    detail = client.get(f"/households/{household_id}")
    with app.app_context():
        spouse_id = db.session.get(Household, household_id).members[1].id
    shown = client.post(f"/households/{household_id}/reveal",
                        data={"person_id": str(spouse_id), "csrf_token": csrf_token(detail.text)})
    assert PLANTED_SPOUSE_NIK in shown.text
    shown = client.post(f"/households/{household_id}/reveal",
                        data={"person_id": "", "csrf_token": csrf_token(detail.text)})
    assert PLANTED_KK in shown.text

    # The API: a token for the planted user, used for a search and a reveal; a forged token refused.
    api = app.test_client()
    issued = api.post("/api/v1/auth/token", json={"email": "planted@sinergi.test", "password": PLANTED_PASSWORD})
    assert issued.status_code == 200
    token = issued.json["token"]
    assert token in CAPTURE.secrets, "the capture did not see the token being issued"
    headers = {"Authorization": f"Bearer {token}"}
    assert api.post("/api/v1/households/search", json={"number": PLANTED_HEAD_NIK}, headers=headers).status_code == 200
    revealed = api.post(f"/api/v1/households/{household_id}/reveal", json={"person_id": None}, headers=headers)
    assert revealed.status_code == 200 and PLANTED_KK in revealed.text
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {PLANTED_FORGED_TOKEN}"}).status_code == 401
    assert api.post("/api/v1/auth/token", json={"email": "planted@sinergi.test",
                                                "password": PLANTED_WRONG_PASSWORD}).status_code == 401

    # The capture saw the app's audit and access-log writes of this journey (logins, reveals, export).
    with app.app_context():
        assert db.session.scalar(select(Household.kk_masked).where(Household.id == household_id)) != PLANTED_KK
    new_rows = CAPTURE.audit_rows[rows_before:]
    assert len(new_rows) >= 6, "the audit/access-log capture saw too little"
    assert any("reveal" in row for row in new_rows)
    # And, already now, none of it holds a planted secret (the whole run is scanned again at the end).
    found = [f for f in CAPTURE.findings() if "planted" in f]
    print(f"\nplanted journey: {len(new_rows)} audit/access rows, {len(CAPTURE.records) - records_before} log "
          f"records written; planted secrets found so far: {len(found)}")
    assert found == []


def test_the_scan_finds_a_planted_value_when_one_is_logged(caplog):
    """The scan is not blind: a record carrying a planted NIK is reported (then removed again)."""
    import logging

    plant_all()
    before = len(CAPTURE.records)
    logging.getLogger("sinergi.test").warning("looked up %s", PLANTED_HEAD_NIK)
    assert len(CAPTURE.records) == before + 1
    try:
        assert any("planted NIK in log" in f for f in CAPTURE.findings())
    finally:
        with CAPTURE.lock:
            del CAPTURE.records[before:]
