"""The role × route × owner figures of issue #7, printed and asserted.

- unexpected 2xx: every route of the permission matrix that a user must *not* get (403, 404 or the
  login page), requested as that user: answers that served it anyway (``tests/test_permission_matrix``
  checks each cell; this counts them);
- foreign ids in any list, search or export: two households with open cases, one in each demo
  worker's kecamatan; every list, search and export (HTML, API, XLSX) as every user, counting the
  other side's names, case numbers and ids where the user may not see them;
- health fields visible to the housing team: a household with chronic illness, disability,
  pregnancy, a health note and income, served by a housing (DPKP) intervention; every page and API
  answer the housing officer can open about it, counting health labels, field names and values.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from caseapp.agencies.models import Agency, Programme
from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.cases.models import Case, Intervention
from caseapp.core import crypto
from caseapp.extensions import db
from caseapp.households.identity import build_nik
from caseapp.households.models import Sex
from tests.factories import HouseholdFactory, InterventionFactory, PersonFactory
from tests.test_permission_matrix import MATRIX, USERS, Visitor, build_world, outcome


def body_text(response) -> str:
    if response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
        return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    return response.get_data(as_text=True)


def test_unexpected_2xx_is_zero(app, session):
    world = build_world(app)
    denied, served = 0, []
    for user in USERS:
        visitor = Visitor(app, user)
        for endpoint, (method, path, expected) in MATRIX.items():
            if expected[user] == "ok" or endpoint == "auth.logout":
                continue
            response = visitor.request(endpoint, method, path.format(**world), {})
            denied += 1
            if outcome(response) == "ok" and 200 <= response.status_code < 400:
                served.append(f"{user} {method} {path}: {response.status_code}")
            response.close()
    print(f"\nrole x route x owner: {denied} requests that must be refused; unexpected 2xx: {len(served)}")
    assert denied >= 100
    assert served == [], "\n".join(served)


@pytest.fixture
def two_sides(app, session):
    """One open case in Mojoroto (worker's), one in Kota (worker2's) with a family-doctor intervention."""
    with app.app_context():
        users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
        sides = {}
        for side, kelurahan, owner, serial in (("mojoroto", "35.71.01.1001", "worker", 301),
                                               ("kota", "35.71.02.1001", "worker2", 302)):
            household = HouseholdFactory(kelurahan_code=kelurahan)
            head = PersonFactory(household=household, name=f"Kepala {side.title()} Rahasia",
                                 nik=build_nik("35", "71", kelurahan.split(".")[2], date(1970, 1, 1), "L", serial))
            case = ops.create_referral(db.session, actor=users[owner], household=household, source="OUTREACH",
                                       reason=f"alasan {side}")
            ops.transition_case(db.session, case, "accept_referral", users["supervisor"], version=case.version,
                                assignee_id=users[owner].id)
            sides[side] = {"household": household.id, "case": case.id, "number": case.number, "name": head.name,
                           "nik": crypto.decrypt(head.nik_ciphertext, "nik")}
        kota_case = db.session.get(Case, sides["kota"]["case"])
        dinkes = db.session.scalar(select(Agency).where(Agency.code == "DINKES"))
        doctor = db.session.scalar(select(Programme).where(Programme.code == "DOKTER_KELUARGA"))
        InterventionFactory(case=kota_case, programme_id=doctor.id, agency_id=dinkes.id)
        db.session.commit()
        return sides


# Which side each user must never see (from DESIGN.md §1 scopes: kecamatan workers, agency officers
# through their agency's interventions, the viewer only aggregates).
FOREIGN = {"worker": ["kota"], "worker2": ["mojoroto"], "dokter": ["mojoroto"], "rumah": ["mojoroto", "kota"],
           "viewer": ["mojoroto", "kota"], "supervisor": [], "admin": []}
LISTS = ["/cases/", "/cases/?q=Rahasia", "/cases/my-work", "/cases/approvals", "/households/",
         "/households/?q=Rahasia", "/interventions/queue", "/notifications/", "/reports/2026/q4/households",
         "/reports/2026/q4.xlsx", "/reports/dashboard", "/api/v1/cases", "/api/v1/cases?q=Rahasia",
         "/api/v1/households", "/api/v1/households?q=Rahasia", "/api/v1/interventions", "/api/v1/notifications",
         "/api/v1/reports/summary"]


def test_foreign_ids_in_lists_searches_and_exports_are_zero(app, two_sides):
    answered, leaks = 0, []
    for user, foreign_sides in FOREIGN.items():
        visitor = Visitor(app, user)
        for side in foreign_sides:
            other = two_sides[side]
            searches = [("POST", "/cases/search", {"number": other["nik"]}),
                        ("POST", "/households/search", {"number": other["nik"]}),
                        ("POST", "/api/v1/households/search", {"number": other["nik"]})]
            for method, path, body in [*(("GET", p, {}) for p in LISTS), *searches]:
                response = visitor.request(None, method, path, body)
                text = body_text(response) if response.status_code == 200 else ""
                response.close()
                answered += response.status_code == 200
                markers = [other["name"], other["number"], f"/cases/{other['case']}\"",
                           f"/households/{other['household']}\""]
                if path.startswith("/api/"):
                    data = json.loads(text or "{}")
                    items = data if isinstance(data, list) else data.get("items", [])
                    for item in (i for i in items if isinstance(i, dict)):
                        if path.startswith("/api/v1/cases") and item.get("id") == other["case"]:
                            leaks.append(f"{user} {method} {path}: case id {other['case']} of {side}")
                        if path.startswith("/api/v1/households") and item.get("id") == other["household"]:
                            leaks.append(f"{user} {method} {path}: household id {other['household']} of {side}")
                        if item.get("case_id") == other["case"] or item.get("household_id") == other["household"]:
                            leaks.append(f"{user} {method} {path}: an item of {side}'s case or household")
                leaks += [f"{user} {method} {path}: {marker!r} of {side}" for marker in markers if marker in text]
    # The markers are what these pages show: the worker's own side appears in the same lists.
    own = Visitor(app, "worker")
    assert two_sides["mojoroto"]["name"] in own.request(None, "GET", "/cases/", {}).get_data(as_text=True)
    listed = own.request(None, "GET", "/api/v1/cases", {}).json["items"]
    assert two_sides["mojoroto"]["case"] in {c["id"] for c in listed}
    print(f"\nlists, searches and exports: {answered} answers read as 7 users; foreign ids or names: {len(leaks)}")
    assert answered >= 60
    assert leaks == [], "\n".join(leaks)


HEALTH_WORDS = ("Penyakit kronis", "Hamil", "Disabilitas", "Catatan kesehatan", "Penghasilan", "chronic_illness",
                "pregnant", "disability", "health_note", "monthly_income", "Gula darah tinggi 250", "1.234.567",
                "1234567")


def test_health_fields_visible_to_the_housing_team_are_zero(app, session):
    with app.app_context():
        users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
        household = HouseholdFactory(kelurahan_code="35.71.01.1001")
        PersonFactory(household=household, name="Kepala Sehat", monthly_income=1234567)
        spouse = PersonFactory(household=household, name="Istri Sakit", relation="spouse", sex=Sex.FEMALE,
                               birth_date=date(1985, 5, 5), chronic_illness=True, pregnant=True,
                               disability_types=["fisik"])
        spouse.health_note = crypto.encrypt("Gula darah tinggi 250", "health_note")
        case = ops.create_referral(db.session, actor=users["worker"], household=household, source="OUTREACH",
                                   reason="rumah")
        for action, actor, data in (
                ("accept_referral", "supervisor", {"assignee_id": users["worker"].id}),
                ("submit_verification", "worker", {"findings": "atap"}),
                ("approve_verification", "supervisor", {}),
                ("submit_plan", "worker", {"interventions": [{"program": "RTLH"}]}),
                ("approve_plan", "supervisor", {})):
            ops.transition_case(db.session, case, action, users[actor], version=case.version, **data)
        intervention = db.session.scalar(select(Intervention).where(Intervention.case_id == case.id))
        db.session.commit()
        ids = {"H": household.id, "C": case.id, "I": intervention.id}

    rumah = Visitor(app, "rumah")
    pages = ["/", "/interventions/queue", "/cases/{C}", "/households/{H}", "/households/", "/notifications/",
             "/api/v1/households/{H}", "/api/v1/cases/{C}", "/api/v1/interventions", "/api/v1/households",
             "/api/v1/cases/{C}/timeline", "/api/v1/notifications"]
    shown, seen = [], 0
    for path in pages:
        response = rumah.request(None, "GET", path.format(**ids), {})
        assert response.status_code == 200, (path, response.status_code)
        text = body_text(response)
        response.close()
        seen += 1
        shown += [f"{path}: {word!r}" for word in HEALTH_WORDS if re.search(re.escape(word), text)]
    # The same pages do show it to the social worker (the check can see it when it is there).
    worker = Visitor(app, "worker")
    assert "Penyakit kronis" in worker.request(None, "GET", f"/households/{ids['H']}", {}).get_data(as_text=True)
    print(f"\nhousing team: {seen} pages and API answers about a household with health data; "
          f"health fields visible: {len(shown)}")
    assert shown == [], "\n".join(shown)
