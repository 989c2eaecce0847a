"""The case workflow through the JSON API, as the demo users, end to end."""

from __future__ import annotations

import pytest

from caseapp.extensions import db
from tests.factories import HouseholdFactory, PersonFactory
from tests.helpers import DEMO_PASSWORD, MFA_USERS, totp_code


class ApiUser:
    def __init__(self, client, email):
        body = {"email": email, "password": DEMO_PASSWORD}
        if email in MFA_USERS:
            body["totp"] = totp_code()
        response = client.post("/api/v1/auth/token", json=body)
        assert response.status_code == 200, response.json
        self.client, self.headers = client, {"Authorization": f"Bearer {response.json['token']}"}
        self.id = client.get("/api/v1/me", headers=self.headers).json["id"]

    def get(self, path, **kw):
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path, json):
        return self.client.post(path, headers=self.headers, json=json)

    def act(self, case, action, expect=200, **data):
        body = {"action": action, "version": case["version"], **data}
        response = self.post(f"/api/v1/cases/{case['id']}/actions", body)
        assert response.status_code == expect, response.json
        return response.json

    def work(self, iv, action, **data):
        response = self.post(f"/api/v1/interventions/{iv['id']}/actions",
                             {"action": action, "version": iv["version"], **data})
        assert response.status_code == 200, response.json
        return response.json


@pytest.fixture
def household_id(app, session):
    with app.app_context():
        head = PersonFactory(household=HouseholdFactory(kelurahan_code="35.71.01.1001"), name="Sumarni")
        PersonFactory(household=head.household, name="Joko", relation="child")
        db.session.commit()
        return head.household.id


@pytest.fixture
def users(client):
    return {name: ApiUser(client, f"{name}@sinergi.test")
            for name in ("supervisor", "worker", "worker2", "dokter", "rumah", "viewer")}


def refer(users, household_id):
    response = users["worker"].post("/api/v1/cases", {"household_id": household_id, "source": "OUTREACH",
                                                       "reason": "Rumah hampir roboh"})
    assert response.status_code == 201, response.json
    return response.json


def test_referral_to_graduated_closure(users, household_id):
    sup, worker = users["supervisor"], users["worker"]
    case = refer(users, household_id)
    assert (case["stage"], case["status"]) == ("referral", "new")
    assert case["allowed_actions"] == []  # the worker waits for triage
    case = sup.get(f"/api/v1/cases/{case['id']}").json
    assert set(case["allowed_actions"]) == {"accept_referral", "reject_referral", "close_case", "reassign"}
    case = sup.act(case, "accept_referral", assignee_id=worker.id)
    case = worker.act(worker.get(f"/api/v1/cases/{case['id']}").json, "submit_verification",
                      findings="Atap bocor, lantai tanah")
    case = sup.act(case, "approve_verification")
    assert (case["stage"], case["status"]) == ("intervention", "planning")
    case = worker.act(case, "submit_plan", interventions=[{"program": "RTLH", "amount": "20000000"},
                                                         {"program": "DOKTER_KELUARGA"}])
    case = sup.act(case, "approve_plan")
    assert case["status"] == "active"
    for officer in (users["dokter"], users["rumah"]):
        queue = officer.get("/api/v1/interventions?agency=mine").json
        assert len(queue) == 1
        iv = officer.work(queue[0], "claim")
        iv = officer.work(iv, "start")
        for milestone in iv["milestones_required"]:
            iv = officer.work(iv, "milestone", milestone=milestone)
        iv = officer.work(iv, "deliver", note="Selesai", amount="20000000")
        assert iv["status"] == "delivered"
    case = worker.get(f"/api/v1/cases/{case['id']}").json
    assert (case["stage"], case["status"]) == ("evaluation", "assigned")
    case = worker.act(case, "submit_evaluation", outcome="graduated", findings="Sudah mandiri")
    case = sup.act(case, "approve_evaluation")
    assert (case["stage"], case["status"], case["outcome"]) == ("closed", "closed", "graduated")
    timeline = worker.get(f"/api/v1/cases/{case['id']}/timeline").json
    assert [e["action"] for e in timeline][:3] == ["create_referral", "accept_referral", "submit_verification"]
    kinds = {n["kind"] for n in worker.get("/api/v1/notifications").json}
    assert {"assigned", "approved", "evaluation_due"} <= kinds


def test_errors_follow_the_contract(users, household_id):
    sup, worker = users["supervisor"], users["worker"]
    case = refer(users, household_id)
    stale = dict(case, version=case["version"] - 1)
    body = sup.act(stale, "accept_referral", expect=409, assignee_id=worker.id)
    assert body["error"] == "stale_version"
    body = worker.act(case, "accept_referral", expect=403, assignee_id=worker.id)
    assert body["error"] == "forbidden"
    body = sup.act(case, "reject_referral", expect=422)
    assert "reason" in body["fields"]
    assert users["worker2"].get(f"/api/v1/cases/{case['id']}").status_code == 404
    assert users["worker2"].act(case, "submit_verification", expect=404, findings="x")["error"] == "not_found"
    assert users["viewer"].get("/api/v1/cases").status_code == 403
    body = sup.act(case, "accept_referral", expect=422, assignee_id=worker.id, owner_id=5)
    assert "owner_id" in body["fields"]
    again = worker.post("/api/v1/cases", {"household_id": household_id, "source": "OUTREACH", "reason": "lagi"})
    assert again.status_code == 409


def test_lists_are_scoped_and_filtered(users, household_id):
    case = refer(users, household_id)
    assert [c["id"] for c in users["worker"].get("/api/v1/cases?stage=referral").json["items"]] == [case["id"]]
    assert users["worker2"].get("/api/v1/cases").json["total"] == 0
    assert users["supervisor"].get("/api/v1/cases?stage=closed").json["total"] == 0
    assert users["supervisor"].get("/api/v1/cases?q=" + case["number"]).json["total"] == 1
    assert users["supervisor"].get("/api/v1/cases?q=sumarni").json["total"] == 1
    assert users["dokter"].get("/api/v1/cases").json["total"] == 0
    assert users["supervisor"].get("/api/v1/cases?per_page=500").status_code == 422
