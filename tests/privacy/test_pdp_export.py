"""UU PDP access right: one person's data and its access trail, for supervisors and admins only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.core.audit import AccessKind, AccessLog
from caseapp.extensions import db
from tests.helpers import csrf_token, login
from tests.privacy.world import HEALTH_NOTE, NOTE_BODY, full_case


@pytest.fixture
def world(app, session):
    with app.app_context():
        built = full_case()
        db.session.commit()
        return {"person": built.head.id, "spouse": built.spouse.id, "household": built.household.id,
                "case": built.case.id, "case_number": built.case.number, "nik": built.nik, "kk": built.kk,
                "spouse_name": built.spouse.name, "intervention": built.intervention.id}


def _export(client, person_id, fmt="json"):
    page = client.get(f"/pdp/persons/{person_id}")
    assert page.status_code == 200, page.status_code
    return client.post(f"/pdp/persons/{person_id}", data={"format": fmt, "csrf_token": csrf_token(page.text)})


def test_the_export_holds_everything_about_a_person_with_a_full_case(app, client, world):
    login(client, "supervisor@sinergi.test")
    response = _export(client, world["person"])
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.data)
    person, household = data["person"], data["household"]
    assert person["id"] == world["person"] and person["name"] == "Slamet Riyadi"
    assert person["nik"] == world["nik"]                       # decrypted: it is their own data
    assert person["health_note"] == HEALTH_NOTE                # health fields decrypted
    assert person["chronic_illness"] is True and person["monthly_income"] == 900000
    assert household["kk"] == world["kk"] and household["address"] == "Jl. Kenanga No. 7"
    assert household["latitude"] == "-7.816000" and household["desil"] == 1
    assert [m["name"] for m in household["other_members"]] == [world["spouse_name"]]
    [case] = data["cases"]
    assert case["number"] == world["case_number"] and case["stage"] == "intervention"
    assert [s["kind"] for s in case["steps"]][:2] == ["triage", "verification"]
    assert any(s["data"] and "Atap rusak berat" in json.dumps(s["data"]) for s in case["steps"])
    [intervention] = case["interventions"]
    assert intervention["target_person_id"] == world["person"] and intervention["concerns_this_person"]
    assert [n["body"] for n in case["notes"]] == [NOTE_BODY]
    assert [a["original_name"] for a in case["attachments"]] == ["surat-keterangan.pdf"]
    assert "storage_name" not in case["attachments"][0]
    trail = data["access_trail"]
    assert any(a["kind"] == "reveal" and a["object_id"] == world["person"] and a["user"]["name"] == "Budi Santoso"
               for a in trail["access_log"])
    actions = {e["action"] for e in trail["audit_events"]}
    assert {"create_referral", "accept_referral", "approve_plan", "add_attachment"} <= actions, actions
    # No ciphertext or blind index leaves the system in an export.
    text = response.get_data(as_text=True)
    assert "nik_hash" not in text and "kk_ciphertext" not in text and "prev_hash" not in text


def test_the_export_is_written_to_the_access_log(app, client, world):
    login(client, "admin@sinergi.test")
    assert _export(client, world["person"], "html").status_code == 200
    with app.app_context():
        entry = db.session.scalar(select(AccessLog).where(AccessLog.kind == AccessKind.EXPORT,
                                                          AccessLog.object_type == "person",
                                                          AccessLog.object_id == world["person"]))
        assert entry.detail == {"purpose": "pdp_access", "format": "html", "household_id": world["household"]}
    # ...and the next export shows the first one in the trail.
    data = json.loads(_export(client, world["person"]).data)
    assert any(a["kind"] == "export" and a["detail"]["purpose"] == "pdp_access"
               for a in data["access_trail"]["access_log"])


def test_the_html_page_is_readable_and_escaped(client, world):
    login(client, "supervisor@sinergi.test")
    page = _export(client, world["person"], "html")
    assert page.status_code == 200
    assert "Slamet Riyadi" in page.text and HEALTH_NOTE in page.text and world["case_number"] in page.text
    assert "Log akses" in page.text


def test_the_request_page_alone_sends_no_data_and_logs_nothing(app, client, world):
    login(client, "supervisor@sinergi.test")
    page = client.get(f"/pdp/persons/{world['person']}")
    assert HEALTH_NOTE not in page.text and world["nik"] not in page.text
    with app.app_context():
        assert db.session.scalar(select(AccessLog.id).where(AccessLog.kind == AccessKind.EXPORT)) is None


def test_out_of_scope_supervisor_gets_404_and_the_denial_is_logged(app, client, world):
    with app.app_context():
        supervisor = db.session.scalar(select(User).where(User.email == "supervisor@sinergi.test"))
        supervisor.kecamatan_code = "35.71.02"   # Kota: the family lives in Mojoroto
        db.session.commit()
    login(client, "supervisor@sinergi.test")
    assert client.get(f"/pdp/persons/{world['person']}").status_code == 404
    page = client.get("/account")
    response = client.post(f"/pdp/persons/{world['person']}", data={"format": "json",
                                                                      "csrf_token": csrf_token(page.text)})
    assert response.status_code == 404
    assert world["nik"] not in response.get_data(as_text=True)
    with app.app_context():
        denials = db.session.scalars(select(AccessLog).where(AccessLog.kind == AccessKind.DENIED,
                                                             AccessLog.object_type == "person")).all()
        assert len(denials) == 2


@pytest.mark.parametrize("email", ["worker@sinergi.test", "dokter@sinergi.test", "viewer@sinergi.test"])
def test_other_roles_may_not_export(client, world, email):
    login(client, email)
    assert client.get(f"/pdp/persons/{world['person']}").status_code == 403


def test_export_without_csrf_token_is_refused(client, world):
    login(client, "supervisor@sinergi.test")
    response = client.post(f"/pdp/persons/{world['person']}", data={"format": "json"})
    assert response.status_code == 400
    assert world["nik"] not in response.get_data(as_text=True)


def test_the_household_page_links_each_member_to_the_export_for_supervisors_only(app, client, world):
    household_id = world["household"]
    login(client, "supervisor@sinergi.test")
    page = client.get(f"/households/{household_id}").get_data(as_text=True)
    assert f"/pdp/persons/{world['person']}" in page and "Data pribadi (UU PDP)" in page
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    login(client, "worker@sinergi.test")
    page = client.get(f"/households/{household_id}").get_data(as_text=True)
    assert "/pdp/persons/" not in page
