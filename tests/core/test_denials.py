"""Every denied access is logged: routes a role may not use, and objects outside the user's scope."""

from __future__ import annotations

from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.core.audit import AccessKind, AccessLog
from caseapp.extensions import db
from tests.api.test_cases_api import ApiUser
from tests.factories import HouseholdFactory, PersonFactory
from tests.helpers import login


def denials(app, user_email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == user_email))
        return db.session.scalars(select(AccessLog).where(
            AccessLog.user_id == user.id, AccessLog.kind == AccessKind.DENIED)).all()


def test_out_of_scope_case_is_404_and_logged(app, client):
    with app.app_context():
        worker = db.session.scalar(select(User).where(User.email == "worker@sinergi.test"))
        household = PersonFactory(household=HouseholdFactory()).household
        case = ops.create_referral(db.session, actor=worker, household=household, source="OUTREACH", reason="x")
        db.session.commit()
        case_id = case.id
    other = ApiUser(client, "worker2@sinergi.test")
    assert other.get(f"/api/v1/cases/{case_id}").status_code == 404
    logged = denials(app, "worker2@sinergi.test")
    assert [(d.object_type, d.object_id, d.detail["reason"]) for d in logged] == [("case", case_id, "out_of_scope")]


def test_a_route_the_role_may_not_use_is_logged(app, client):
    login(client, "viewer@sinergi.test")
    assert client.get("/api/v1/me").status_code == 401  # the API wants a token, not the cookie
    viewer = ApiUser(client, "viewer@sinergi.test")
    assert viewer.get("/api/v1/cases").status_code == 403
    assert any(d.detail.get("permission") == "case.view" for d in denials(app, "viewer@sinergi.test"))
