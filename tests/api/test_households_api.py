"""/api/v1/households: register, list, read, patch, search by POST, reveal (DESIGN.md §6)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from caseapp.agencies.models import Agency, Programme
from caseapp.core.audit import AccessKind, AccessLog
from caseapp.households.identity import build_kk, build_nik
from caseapp.households.models import Household
from tests.factories import CaseFactory, InterventionFactory
from tests.helpers import DEMO_PASSWORD, MFA_USERS, totp_code

_serial = iter(range(6001, 9000))
MASKED = re.compile(r"^\d{4}\*{8}\d{4}$")


def auth(client, email: str) -> dict:
    body = {"email": email, "password": DEMO_PASSWORD}
    if email in MFA_USERS:
        body["totp"] = totp_code()
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def payload(kelurahan: str = "35.71.01.1001", **overrides) -> dict:
    kecamatan = kelurahan.split(".")[2]
    body = {
        "kk_number": build_kk("35", "71", kecamatan, date(2021, 3, 4), next(_serial)),
        "kelurahan_code": kelurahan, "rw": 1, "rt": 4, "address": "Jl. Mauni 21",
        "desil": 2, "desil_release": "DTSEN-2025-Q2",
        "members": [
            {"nik": build_nik("35", "71", kecamatan, date(1968, 8, 17), "L", next(_serial)), "name": "Joko Utomo",
             "sex": "L", "birth_date": "1968-08-17", "relation": "head", "work_status": "bekerja",
             "monthly_income": 750000},
            {"nik": build_nik("35", "71", kecamatan, date(1971, 1, 5), "P", next(_serial)), "name": "Partini",
             "sex": "P", "birth_date": "1971-01-05", "relation": "spouse", "chronic_illness": True,
             "disability_types": ["netra"]},
            {"nik": None, "name": "Dimas", "sex": "L", "birth_date": "2014-02-02", "relation": "child",
             "school_participation": "putus_sekolah"},
        ],
    }
    body.update(overrides)
    return body


@pytest.fixture
def worker(client):
    return auth(client, "worker@sinergi.test")


@pytest.fixture
def created(client, worker):
    body = payload()
    response = client.post("/api/v1/households", json=body, headers=worker)
    assert response.status_code == 201, response.json
    return body, response.json


def test_create_returns_201_with_masked_numbers(created):
    body, household = created
    assert household["kk_number"] == body["kk_number"][:4] + "********" + body["kk_number"][-4:]
    assert household["version"] == 1 and household["kelurahan_name"] == "Bandar Lor"
    assert household["desil"] == 2 and household["desil_release"] == "DTSEN-2025-Q2"
    head, spouse, child = household["members"]
    assert MASKED.match(head["nik"]) and child["nik"] is None
    assert head["relation"] == "head" and head["age"] >= 56 and head["monthly_income"] == 750000
    assert spouse["chronic_illness"] is True and spouse["disability_types"] == ["netra"]
    assert household["warnings"] == {}
    assert body["members"][0]["nik"] not in str(household)


def test_invalid_nik_and_kk_are_422_with_field_names(client, worker):
    body = payload(kk_number="3571010403210000")
    body["members"][0]["nik"] = "35710117086"
    body["members"][1]["relation"] = "head"
    response = client.post("/api/v1/households", json=body, headers=worker)
    assert response.status_code == 422
    fields = response.json["fields"]
    assert response.json["error"] == "validation_failed"
    assert "16 angka" in fields["members[0].nik"][0]
    assert {"kk_number", "members[1].relation"} <= set(fields)


def test_type_errors_in_members_are_named_flat(client, worker):
    body = payload()
    body["members"][1]["birth_date"] = "05/01/1971"
    response = client.post("/api/v1/households", json=body, headers=worker)
    assert response.status_code == 422
    assert "members[1].birth_date" in response.json["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"status": "anonymised"}, "status"), ({"id": 7}, "id"), ({"version": 9}, "version")],
)
def test_unknown_fields_are_refused_naming_them(client, worker, change, field):
    response = client.post("/api/v1/households", json=payload(**change), headers=worker)
    assert response.status_code == 422
    assert field in response.json["fields"]


def test_unknown_member_field_is_refused_naming_it(client, worker):
    body = payload()
    body["members"][0]["nik_hash"] = "x"
    response = client.post("/api/v1/households", json=body, headers=worker)
    assert response.status_code == 422
    assert "members[0].nik_hash" in response.json["fields"]


def test_duplicate_nik_is_409_naming_the_household(client, worker, created):
    body, household = created
    again = payload()
    again["members"][2]["nik"] = body["members"][1]["nik"]
    again["members"][2].update(sex="P", birth_date="1971-01-05")
    response = client.post("/api/v1/households", json=again, headers=worker)
    assert response.status_code == 409
    expected = f"NIK anggota ke-3 sudah terdaftar di rumah tangga #{household['id']} (Kel. Bandar Lor)."
    assert response.json["message"] == expected
    assert response.json["fields"] == {"members[2].nik": [expected]}


def test_duplicate_out_of_scope_says_nothing_about_where(client, worker, created):
    body, household = created
    worker2 = auth(client, "worker2@sinergi.test")
    theirs = payload("35.71.02.1001", kk_number=body["kk_number"])
    response = client.post("/api/v1/households", json=theirs, headers=worker2)
    assert response.status_code == 409
    assert "di luar wilayah Anda" in response.json["message"]
    assert str(household["id"]) not in response.json["message"] and "Bandar" not in response.json["message"]


def test_list_is_scoped_and_paginated(client, worker, created):
    _, household = created
    mine = client.get("/api/v1/households", headers=worker)
    assert mine.status_code == 200
    assert mine.json["total"] == 1 and mine.json["page"] == 1 and mine.json["per_page"] == 25
    assert [h["id"] for h in mine.json["items"]] == [household["id"]]
    assert mine.json["items"][0]["members"][0]["name"] == "Joko Utomo"

    worker2 = auth(client, "worker2@sinergi.test")
    theirs = client.get("/api/v1/households", headers=worker2)
    assert theirs.json["items"] == [] and theirs.json["total"] == 0

    assert client.get("/api/v1/households?q=partini", headers=worker).json["total"] == 1
    assert client.get("/api/v1/households?desil=3", headers=worker).json["total"] == 0
    assert client.get("/api/v1/households?kelurahan=35.71.01.1001", headers=worker).json["total"] == 1
    too_many = client.get("/api/v1/households?per_page=101", headers=worker)
    assert too_many.status_code == 422 and "per_page" in too_many.json["fields"]
    assert client.get("/api/v1/households?nik=1", headers=worker).status_code == 422


def test_get_is_404_out_of_scope(client, worker, created):
    _, household = created
    assert client.get(f"/api/v1/households/{household['id']}", headers=worker).json["id"] == household["id"]
    worker2 = auth(client, "worker2@sinergi.test")
    response = client.get(f"/api/v1/households/{household['id']}", headers=worker2)
    assert response.status_code == 404 and response.json["error"] == "not_found"
    assert client.get("/api/v1/households/999999", headers=worker).status_code == 404


def test_patch_with_version_then_stale_then_desil_refused(client, worker, created):
    _, household = created
    url = f"/api/v1/households/{household['id']}"
    ok = client.patch(url, json={"version": 1, "address": "Jl. Argopuro 5", "rt": 6}, headers=worker)
    assert ok.status_code == 200
    assert (ok.json["address"], ok.json["rt"], ok.json["version"]) == ("Jl. Argopuro 5", 6, 2)
    stale = client.patch(url, json={"version": 1, "rw": 9}, headers=worker)
    assert stale.status_code == 409 and stale.json["error"] == "stale_version"
    desil = client.patch(url, json={"version": 2, "desil": 1}, headers=worker)
    assert desil.status_code == 422 and "DTSEN" in desil.json["fields"]["desil"][0]
    kk = client.patch(url, json={"version": 2, "kk_number": "3571010403210001"}, headers=worker)
    assert kk.status_code == 422 and "kk_number" in kk.json["fields"]
    unknown = client.patch(url, json={"version": 2, "kelurahan_code": "35.71.02.1001"}, headers=worker)
    assert unknown.status_code == 422 and "kelurahan_code" in unknown.json["fields"]
    missing_version = client.patch(url, json={"rw": 3}, headers=worker)
    assert missing_version.status_code == 422 and "version" in missing_version.json["fields"]
    assert client.get(url, headers=worker).json["version"] == 2


def test_search_by_post(client, worker, created):
    body, household = created
    found = client.post("/api/v1/households/search", json={"number": body["members"][1]["nik"]}, headers=worker)
    assert found.status_code == 200 and found.json == {"household_id": household["id"]}
    by_kk = client.post("/api/v1/households/search", json={"number": body["kk_number"]}, headers=worker)
    assert by_kk.json == {"household_id": household["id"]}
    unknown = build_nik("35", "71", "01", date(1990, 1, 1), "L", 8888)
    assert client.post("/api/v1/households/search", json={"number": unknown}, headers=worker).status_code == 404
    worker2 = auth(client, "worker2@sinergi.test")
    outside = client.post("/api/v1/households/search", json={"number": body["kk_number"]}, headers=worker2)
    assert outside.status_code == 404 and str(household["id"]) not in outside.json["message"]


def test_reveal_returns_the_number_and_is_logged(app, session, client, worker, created):
    body, household = created
    spouse_id = household["members"][1]["id"]
    url = f"/api/v1/households/{household['id']}/reveal"
    nik = client.post(url, json={"person_id": spouse_id}, headers=worker)
    assert nik.status_code == 200 and nik.json == {"number": body["members"][1]["nik"]}
    kk = client.post(url, json={}, headers=worker)
    assert kk.json == {"number": body["kk_number"]}
    assert client.post(url, json={"person_id": 999999}, headers=worker).status_code == 404
    with app.app_context():
        logs = session.scalars(select(AccessLog).where(AccessLog.kind == AccessKind.REVEAL)
                               .order_by(AccessLog.id)).all()
        assert [(log.object_type, log.object_id) for log in logs] == [
            ("person", spouse_id), ("household", household["id"])]
        assert all(body["kk_number"] not in str(log.detail) for log in logs)


def test_viewer_and_agency_officers_may_not_reveal_or_write(client, created):
    _, household = created
    viewer = auth(client, "viewer@sinergi.test")
    assert client.get("/api/v1/households", headers=viewer).status_code == 403
    assert client.post(f"/api/v1/households/{household['id']}/reveal", json={}, headers=viewer).status_code == 403
    rumah = auth(client, "rumah@sinergi.test")
    assert client.post(f"/api/v1/households/{household['id']}/reveal", json={}, headers=rumah).status_code == 403
    assert client.post("/api/v1/households", json=payload(), headers=rumah).status_code == 403
    assert client.patch(f"/api/v1/households/{household['id']}", json={"version": 1}, headers=rumah).status_code == 403


@pytest.mark.parametrize(
    ("email", "agency", "present", "absent"),
    [
        ("rumah@sinergi.test", "DPKP", set(), {"chronic_illness", "pregnant", "disability_types", "monthly_income",
                                               "work_status", "school_participation"}),
        ("dokter@sinergi.test", "DINKES", {"chronic_illness", "disability_types"},
         {"monthly_income", "work_status", "school_participation"}),
    ],
)
def test_agency_officers_get_only_their_sections(app, session, client, created, email, agency, present, absent):
    _, household = created
    with app.app_context():
        served_by = session.scalar(select(Agency).where(Agency.code == agency))
        programme = session.scalar(select(Programme).where(Programme.agency_id == served_by.id))
        case = CaseFactory(household=session.get(Household, household["id"]))
        InterventionFactory(case=case, programme_id=programme.id, agency_id=served_by.id)
        session.commit()
    headers = auth(client, email)
    response = client.get(f"/api/v1/households/{household['id']}", headers=headers)
    assert response.status_code == 200
    for member in response.json["members"]:
        assert {"id", "nik", "name", "sex", "birth_date", "relation"} <= set(member)
        assert present <= set(member) and not (absent & set(member))
    listed = client.get("/api/v1/households", headers=headers).json["items"]
    assert [h["id"] for h in listed] == [household["id"]]
    assert not (absent & set(listed[0]["members"][1]))


def test_nothing_is_written_when_create_fails(app, session, client, worker):
    client.post("/api/v1/households", json=payload(rw=0), headers=worker)
    with app.app_context():
        assert session.scalar(select(func.count(Household.id))) == 0


def test_openapi_lists_the_household_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/households", "/api/v1/households/{household_id}", "/api/v1/households/search",
            "/api/v1/households/{household_id}/reveal"} <= set(paths)
    assert {"get", "post"} <= set(paths["/api/v1/households"])
    assert {"get", "patch"} <= set(paths["/api/v1/households/{household_id}"])
