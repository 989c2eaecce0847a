"""The permission matrix: every route × every role, on an object in and out of each user's scope.

One table states what each user must get. A route that is not in the table fails
``test_every_route_is_in_the_matrix``, so a new route cannot ship without a decision.

The world: a case owned by ``worker`` in Bandar Lor (Mojoroto) with a DINKES intervention (so the
family-doctor officer ``dokter`` serves it), an attachment on that intervention, and a notification
for ``worker``. ``worker2`` (Kota) and ``rumah`` (DPKP) have it out of scope; ``viewer`` sees no case.

Codes: ``ok`` = served (2xx/3xx, or 400/409/422 when the request reached the operation), ``login``
= sent to log in (HTML 302, API 401), ``403``, ``404``.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.cases.models import Intervention
from caseapp.extensions import db
from caseapp.households.models import ImportJob, ImportStatus
from caseapp.notifications.models import Notification
from tests.factories import HouseholdFactory, PersonFactory
from tests.helpers import DEMO_PASSWORD, MFA_USERS, csrf_token, login, totp_code

USERS = ("anon", "worker", "worker2", "supervisor", "dokter", "rumah", "viewer", "admin")
PASS_STATUSES = {200, 201, 204, 301, 302, 303, 400, 409, 422}


def row(default, **overrides):
    """Expectations for every user: *default* unless overridden; anon defaults to login."""
    return {user: overrides.get(user, "login" if user == "anon" else default) for user in USERS}


ALL = row("ok")
NO_VIEWER = row("ok", viewer="403")
CASE_OBJECT = row("ok", worker2="404", rumah="404", viewer="403")          # C, H, A through case scope
HOUSEHOLD_EDIT = row("ok", worker2="404", dokter="403", rumah="403", viewer="403")
REPORTS = row("403", supervisor="ok", viewer="ok", admin="ok")
ADMIN_ONLY = row("403", admin="ok")
PUBLIC = dict.fromkeys(USERS, "ok")

# endpoint: (method, path, expectations)
MATRIX: dict[str, tuple[str, str, dict[str, str]]] = {
    "home.index": ("GET", "/", ALL),
    "auth.login": ("GET", "/login", PUBLIC),
    # Public, but without a password step in progress they send everyone back to the login page.
    "auth.login_totp": ("GET", "/login/totp", dict.fromkeys(USERS, "login")),
    "auth.enrol_totp": ("GET", "/login/enrol", dict.fromkeys(USERS, "login")),
    "auth.set_language": ("POST", "/language", PUBLIC),
    "auth.account": ("GET", "/account", ALL),
    "auth.logout": ("POST", "/logout", ALL),
    "auth.confirm_identity": ("GET", "/account/confirm", ALL),
    "auth.change_email": ("GET", "/account/email", ALL),   # 302 to /account/confirm until confirmed
    "auth.change_totp": ("GET", "/account/totp", ALL),
    "cases.index": ("GET", "/cases/", NO_VIEWER),
    "cases.search_identity": ("POST", "/cases/search", NO_VIEWER),
    "cases.my_work": ("GET", "/cases/my-work", row("403", worker="ok", worker2="ok", admin="ok")),
    "cases.approvals": ("GET", "/cases/approvals", row("403", supervisor="ok", admin="ok")),
    "cases.new_referral": ("GET", "/cases/new?household_id={H}", CASE_OBJECT),
    "cases.detail": ("GET", "/cases/{C}", CASE_OBJECT),
    # Action "reassign": only a supervisor may; admin has no workflow role.
    "cases.act": ("POST", "/cases/{C}/actions", row("403", worker2="404", rumah="404", supervisor="ok")),
    "interventions.queue": ("GET", "/interventions/queue", row("403", dokter="ok", rumah="ok", admin="ok")),
    # Action "claim" on the DINKES intervention: only its agency's officer.
    "interventions.act": ("POST", "/interventions/{I}/actions",
                          row("403", worker2="404", rumah="404", dokter="ok")),
    "attachments.upload_for_intervention": ("POST", "/attachments/interventions/{I}", CASE_OBJECT),
    "attachments.download": ("GET", "/attachments/{A}", CASE_OBJECT),
    "households.index": ("GET", "/households/", NO_VIEWER),
    "households.search": ("POST", "/households/search", NO_VIEWER),
    "households.new": ("GET", "/households/new", row("ok", dokter="403", rumah="403", viewer="403")),
    "households.detail": ("GET", "/households/{H}", CASE_OBJECT),
    "households.reveal": ("POST", "/households/{H}/reveal", HOUSEHOLD_EDIT),
    "households.edit_address": ("POST", "/households/{H}/address", HOUSEHOLD_EDIT),
    "households.change_kk": ("POST", "/households/{H}/kk", HOUSEHOLD_EDIT),
    "households.add_member": ("GET", "/households/{H}/members/new", HOUSEHOLD_EDIT),
    # UU PDP access request: supervisors (their kecamatan) and admins; out of scope is tested in tests/privacy.
    "pdp.request_export": ("GET", "/pdp/persons/{P}", row("403", supervisor="ok", admin="ok")),
    "pdp.export": ("POST", "/pdp/persons/{P}", row("403", supervisor="ok", admin="ok")),
    # Import (issue #5): supervisors and admins; a job is seen by whoever started it (supervisor) and admins.
    "households.imports": ("GET", "/households/imports", row("403", supervisor="ok", admin="ok")),
    "households.import_job": ("GET", "/households/imports/{J}", row("403", supervisor="ok", admin="ok")),
    "households.import_progress": ("GET", "/households/imports/{J}/progress",
                                   row("403", supervisor="ok", admin="ok")),
    "households.import_errors": ("GET", "/households/imports/{J}/errors.csv",
                                 row("403", supervisor="ok", admin="ok")),
    "households.export": ("GET", "/households/export", row("403", worker="ok", worker2="ok", supervisor="ok",
                                                           admin="ok")),
    "cases.export": ("GET", "/cases/export", row("403", worker="ok", worker2="ok", supervisor="ok", admin="ok")),
    "notifications.index": ("GET", "/notifications/", ALL),
    "notifications.preferences": ("GET", "/notifications/preferences", ALL),
    "notifications.read_all": ("POST", "/notifications/read-all", ALL),
    "notifications.read": ("POST", "/notifications/{N}/read", row("404", worker="ok")),
    "notifications.open": ("POST", "/notifications/{N}/open", row("404", worker="ok")),
    "reports.dashboard": ("GET", "/reports/dashboard", REPORTS),
    "reports.index": ("GET", "/reports/", REPORTS),
    "reports.quarter": ("GET", "/reports/2026/q4", REPORTS),
    "reports.quarter_xlsx": ("GET", "/reports/2026/q4.xlsx", REPORTS),
    "reports.quarter_households": ("GET", "/reports/2026/q4/households", row("403", supervisor="ok", admin="ok")),
    "reports.take_snapshot": ("POST", "/reports/2026/q3/snapshot", ADMIN_ONLY),
    "admin.index": ("GET", "/admin/", ADMIN_ONLY),
    "admin.deliveries": ("GET", "/admin/deliveries", ADMIN_ONLY),
    "admin.retry_all": ("POST", "/admin/deliveries/retry-all", ADMIN_ONLY),
    "admin.retry_delivery": ("POST", "/admin/deliveries/999999/retry", row("403", admin="404")),
    # API: bearer tokens; anonymous is 401.
    "api-docs.openapi_json": ("GET", "/api/v1/openapi.json", PUBLIC),
    "api_auth.issue_token": ("POST", "/api/v1/auth/token", PUBLIC),
    "api_auth.me": ("GET", "/api/v1/me", ALL),
    "api_cases.list_cases": ("GET", "/api/v1/cases", NO_VIEWER),
    "api_cases.create_case": ("POST", "/api/v1/cases", NO_VIEWER),
    "api_cases.get_case": ("GET", "/api/v1/cases/{C}", CASE_OBJECT),
    "api_cases.case_timeline": ("GET", "/api/v1/cases/{C}/timeline", CASE_OBJECT),
    "api_cases.case_action": ("POST", "/api/v1/cases/{C}/actions",
                              row("403", worker2="404", rumah="404", supervisor="ok")),
    "api_cases.list_interventions": ("GET", "/api/v1/interventions", NO_VIEWER),
    "api_cases.intervention_action": ("POST", "/api/v1/interventions/{I}/actions",
                                      row("403", worker2="404", rumah="404", dokter="ok")),
    "api_cases.list_notifications": ("GET", "/api/v1/notifications", ALL),
    "api_households.list_households": ("GET", "/api/v1/households", NO_VIEWER),
    "api_households.create_household": ("POST", "/api/v1/households",
                                        row("ok", dokter="403", rumah="403", viewer="403")),
    "api_households.get_household": ("GET", "/api/v1/households/{H}", CASE_OBJECT),
    "api_households.update_household": ("PATCH", "/api/v1/households/{H}", HOUSEHOLD_EDIT),
    "api_households.search_households": ("POST", "/api/v1/households/search", NO_VIEWER),
    "api_households.reveal_number": ("POST", "/api/v1/households/{H}/reveal", HOUSEHOLD_EDIT),
    "api_reports.summary": ("GET", "/api/v1/reports/summary", REPORTS),
    # Administration (issue #10). Record ids 999999 do not exist: admins get 404, everyone else 403.
    "admin_users.index": ("GET", "/admin/users/", ADMIN_ONLY),
    "admin_users.new": ("GET", "/admin/users/new", ADMIN_ONLY),
    "admin_users.edit": ("GET", "/admin/users/999999", row("403", admin="404")),
    "admin_users.deactivate": ("POST", "/admin/users/999999/deactivate", row("403", admin="404")),
    "admin_users.reactivate": ("POST", "/admin/users/999999/reactivate", row("403", admin="404")),
    "admin_users.reset_password": ("POST", "/admin/users/999999/reset-password", row("403", admin="404")),
    "admin_users.reset_totp": ("POST", "/admin/users/999999/reset-totp", row("403", admin="404")),
    "admin_users.resend_invite": ("POST", "/admin/users/999999/invite", row("403", admin="404")),
    "admin_users.delete": ("POST", "/admin/users/999999/delete", row("403", admin="404")),
    # The one-time link is the credential: public; an unknown link is 404 for everyone.
    "account_setup.start": ("GET", "/welcome/not-a-token", PUBLIC),
    "account_setup.set_password": ("GET", "/welcome/", dict.fromkeys(USERS, "404")),
    "admin_config.agencies_index": ("GET", "/admin/agencies", ADMIN_ONLY),
    "admin_config.agency_new": ("GET", "/admin/agencies/new", ADMIN_ONLY),
    "admin_config.agency_edit": ("GET", "/admin/agencies/999999", row("403", admin="404")),
    "admin_config.agency_active": ("POST", "/admin/agencies/999999/active", row("403", admin="404")),
    "admin_config.sections": ("GET", "/admin/agencies/sections", ADMIN_ONLY),
    "admin_config.programmes_index": ("GET", "/admin/programmes", ADMIN_ONLY),
    "admin_config.programme_new": ("GET", "/admin/programmes/new", ADMIN_ONLY),
    "admin_config.programme_edit": ("GET", "/admin/programmes/999999", row("403", admin="404")),
    "admin_config.programme_active": ("POST", "/admin/programmes/999999/active", row("403", admin="404")),
    "admin_config.sla": ("GET", "/admin/sla", ADMIN_ONLY),
    "admin_handover.index": ("GET", "/admin/handover/", row("403", supervisor="ok", admin="ok")),
    "admin_handover.job": ("GET", "/admin/handover/999999", row("403", supervisor="404", admin="404")),
    "admin_audit.index": ("GET", "/admin/audit/", ADMIN_ONLY),
    "admin_audit.export": ("GET", "/admin/audit/export.csv", ADMIN_ONLY),
    "api_admin.list_users": ("GET", "/api/v1/admin/users", ADMIN_ONLY),
    "api_admin.create_user": ("POST", "/api/v1/admin/users", ADMIN_ONLY),
    "api_admin.update_user": ("PATCH", "/api/v1/admin/users/999999", row("403", admin="404")),
    # Operations (issue #9): probes are open; /metrics answers 404 while METRICS_TOKEN is unset.
    "ops.healthz": ("GET", "/healthz", PUBLIC),
    "ops.readyz": ("GET", "/readyz", PUBLIC),
    "ops.metrics": ("GET", "/metrics", dict.fromkeys(USERS, "404")),
}

BODIES = {  # what a form or JSON body carries, beyond the CSRF token
    "cases.act": lambda w: {"action": "reassign", "version": w["version"]},
    "interventions.act": lambda w: {"action": "claim", "version": w["iv_version"]},
    "api_cases.case_action": lambda w: {"action": "reassign", "version": w["version"]},
    # The HTML row above already claimed it for dokter: "start" with the old version is then a 409.
    "api_cases.intervention_action": lambda w: {"action": "start", "version": w["iv_version"]},
    "api_households.update_household": lambda w: {"version": 1, "address": "Jl. Matriks 1"},
    "pdp.export": lambda w: {"format": "json"},
}


@pytest.fixture
def world(app, session):
    return build_world(app)


def build_world(app) -> dict[str, int]:
    """The matrix's objects (call inside the ``session`` fixture: everything is rolled back after)."""
    with app.app_context():
        users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
        household = PersonFactory(household=HouseholdFactory(kelurahan_code="35.71.01.1001")).household
        case = ops.create_referral(db.session, actor=users["worker"], household=household, source="OUTREACH",
                                   reason="matrix")
        steps = [("accept_referral", "supervisor", {"assignee_id": users["worker"].id}),
                 ("submit_verification", "worker", {"findings": "f"}), ("approve_verification", "supervisor", {}),
                 ("submit_plan", "worker", {"interventions": [{"program": "DOKTER_KELUARGA"}]}),
                 ("approve_plan", "supervisor", {})]
        for action, actor, data in steps:
            ops.transition_case(db.session, case, action, users[actor], version=case.version, **data)
        intervention = db.session.scalar(select(Intervention).where(Intervention.case_id == case.id))
        attachment = ops.add_attachment(db.session, actor=users["worker"], case=case, intervention=intervention,
                                        filename="bukti.pdf", data=b"%PDF-1.4 matrix")
        notification = db.session.scalar(select(Notification).where(Notification.recipient_id == users["worker"].id)
                                         .order_by(Notification.id.desc()))
        job = ImportJob(created_by_id=users["supervisor"].id, filename="dtsen.csv", status=ImportStatus.DONE,
                        error_report="baris;kolom;nilai;pesan\n2;NIK;3571********0001;contoh\n")
        db.session.add(job)
        db.session.commit()
        return {"H": household.id, "P": household.members[0].id, "C": case.id, "I": intervention.id,
                "A": attachment.id, "N": notification.id,
                "version": case.version, "iv_version": intervention.version, "J": job.id}


class Visitor:
    """One user's browser (cookie session) and API client (bearer token)."""

    def __init__(self, app, name):
        self.name = name
        self.client = app.test_client()
        self.headers = {}
        if name == "anon":
            return
        email = f"{name}@sinergi.test"
        assert login(self.client, email).status_code == 302
        body = {"email": email, "password": DEMO_PASSWORD}
        if email in MFA_USERS:
            body["totp"] = totp_code(1)  # the next time step: the HTML login used this one
        token = self.client.post("/api/v1/auth/token", json=body)
        assert token.status_code == 200, token.json
        self.headers = {"Authorization": f"Bearer {token.json['token']}"}

    def request(self, endpoint, method, path, body):
        if path.startswith("/api/"):
            return self.client.open(path, method=method, headers=self.headers, json=body if method != "GET" else None)
        if method == "GET":
            return self.client.get(path)
        page = self.client.get("/login" if self.name == "anon" else "/account")
        return self.client.post(path, data={**body, "csrf_token": csrf_token(page.text)})


def outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code == 401 or (response.status_code == 302 and re.search(r"/login(\?|$)", location)):
        return "login"
    if response.status_code in (403, 404):
        return str(response.status_code)
    return "ok" if response.status_code in PASS_STATUSES else f"unexpected {response.status_code}"


def test_every_route_is_in_the_matrix(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert sorted(routes - set(MATRIX)) == [], "add these routes to MATRIX with an expectation per role"
    assert sorted(set(MATRIX) - routes) == [], "MATRIX names routes that no longer exist"


@pytest.mark.parametrize("user", USERS)
def test_matrix(app, world, user):
    visitor = Visitor(app, user)
    wrong = []
    for endpoint, (method, path, expected) in MATRIX.items():
        if endpoint == "auth.logout":
            continue  # would end the session the rest of the table needs; covered in test_login
        body = BODIES.get(endpoint, lambda _w: {})(world)
        response = visitor.request(endpoint, method, path.format(**world), body)
        got = outcome(response)
        response.close()
        if got != expected[user]:
            wrong.append(f"{endpoint} {method} {path}: expected {expected[user]}, got {got} ({response.status_code})")
    assert wrong == [], "\n".join(wrong)
