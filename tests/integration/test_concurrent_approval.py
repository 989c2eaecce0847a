"""Two supervisors approve the same step at the same moment: exactly one wins (PostgreSQL row lock)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select, text, update

from caseapp.auth import operations as auth_ops
from caseapp.auth.models import ApiToken, User
from caseapp.cases import operations as ops
from caseapp.cases.models import Case, Intervention, Step
from caseapp.core.audit import AccessLog, AuditEvent
from caseapp.extensions import db
from caseapp.households.models import Household, HouseholdKK, Person
from caseapp.notifications.models import Notification
from tests.factories import HouseholdFactory, PersonFactory
from tests.helpers import DEMO_PASSWORD, totp_code

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


@pytest.fixture
def submitted_case(app):
    """A committed case waiting for verification approval, and a second supervisor; removed afterwards."""
    with app.app_context():
        worker = db.session.scalar(select(User).where(User.email == "worker@sinergi.test"))
        supervisor = db.session.scalar(select(User).where(User.email == "supervisor@sinergi.test"))
        second = auth_ops.create_user(db.session, email="penyelia2@sinergi.test", full_name="Penyelia Dua",
                                      role="supervisor", password=DEMO_PASSWORD, enforce_policy=False)
        auth_ops.set_totp_secret(db.session, second, "JBSWY3DPEHPK3PXPJBSWY3DP")
        household = PersonFactory(household=HouseholdFactory()).household
        case = ops.create_referral(db.session, actor=worker, household=household, source="OUTREACH", reason="x")
        ops.transition_case(db.session, case, "accept_referral", supervisor, version=case.version,
                            assignee_id=worker.id)
        ops.transition_case(db.session, case, "submit_verification", worker, version=case.version, findings="f")
        db.session.commit()
        ids = {"case": case.id, "version": case.version, "household": household.id, "second": second.id}
    yield ids
    with app.app_context():
        # Audit and access logs are append-only for the application; the test cleans up as a superuser.
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        for model, column, value in [
            (Notification, Notification.case_id, ids["case"]), (AuditEvent, AuditEvent.case_id, ids["case"]),
            (Step, Step.case_id, ids["case"]), (Intervention, Intervention.case_id, ids["case"]),
            (Case, Case.id, ids["case"]), (Person, Person.household_id, ids["household"]),
            (HouseholdKK, HouseholdKK.household_id, ids["household"]), (Household, Household.id, ids["household"]),
            (AccessLog, AccessLog.user_id, ids["second"]), (ApiToken, ApiToken.user_id, ids["second"]),
            (AuditEvent, AuditEvent.actor_id, ids["second"]), (AuditEvent, AuditEvent.object_id, ids["second"]),
            (User, User.id, ids["second"]),
        ]:
            db.session.execute(delete(model).where(column == value))
        # The supervisor's login used up this TOTP time step; later tests must be able to log in.
        db.session.execute(update(User).where(User.email == "supervisor@sinergi.test").values(totp_last_step=None))
        db.session.commit()


def token(app, email):
    client = app.test_client()
    body = {"email": email, "password": DEMO_PASSWORD, "totp": totp_code()}
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 200, response.json
    return client, {"Authorization": f"Bearer {response.json['token']}"}


def test_exactly_one_of_two_simultaneous_approvals_wins(app, submitted_case):
    clients = [token(app, "supervisor@sinergi.test"), token(app, "penyelia2@sinergi.test")]
    barrier = threading.Barrier(len(clients))
    results: list[tuple[int, dict]] = []

    def approve(client, headers):
        barrier.wait()
        response = client.post(f"/api/v1/cases/{submitted_case['case']}/actions", headers=headers,
                               json={"action": "approve_verification", "version": submitted_case["version"]})
        results.append((response.status_code, response.json))

    threads = [threading.Thread(target=approve, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(status for status, _ in results) == [200, 409]
    loser = next(body for status, body in results if status == 409)
    assert loser["error"] == "stale_version" and "Muat ulang" in loser["message"]
    with app.app_context():
        approvals = db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.case_id == submitted_case["case"], AuditEvent.action == "approve_verification"))
        assert approvals == 1
        case = db.session.get(Case, submitted_case["case"])
        assert (case.stage, case.status, case.version) == ("intervention", "planning", submitted_case["version"] + 1)
