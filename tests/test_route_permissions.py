"""Deny by default: every route declares its permission, and a route that does not is refused."""

from __future__ import annotations

import pytest
from flask import Flask

from caseapp import create_app
from caseapp.auth.models import Role
from caseapp.auth.permissions import PUBLIC, ROLE_PERMISSIONS, Permission, declared_permission
from tests.helpers import login

# Routes open to anonymous users, on purpose. Anything else public fails this test.
EXPECTED_PUBLIC = {
    "auth.login", "auth.login_totp", "auth.enrol_totp", "auth.set_language",
    "api_auth.issue_token", "api-docs.openapi_json",
    "ops.healthz", "ops.readyz", "ops.metrics",  # probes; /metrics checks its own bearer token
    "account_setup.start", "account_setup.set_password",  # one-time invitation / reset links (issue #10)
}


def test_every_route_declares_a_permission(app: Flask):
    undeclared = [
        rule.endpoint for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and declared_permission(app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []


def test_public_routes_are_exactly_the_expected_ones(app: Flask):
    public = {
        rule.endpoint for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and declared_permission(app.view_functions[rule.endpoint]) == PUBLIC
    }
    assert public == EXPECTED_PUBLIC


def test_every_role_has_an_entry_and_admin_has_everything():
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert Permission.CASE_VIEW not in ROLE_PERMISSIONS[Role.VIEWER]


def test_a_route_without_a_declaration_is_refused_even_when_logged_in(database_url):
    app = create_app("testing")

    @app.route("/forgotten")
    def forgotten():
        return "should never be served"

    response = app.test_client().get("/forgotten")
    assert response.status_code == 403
    assert b"should never be served" not in response.data


@pytest.mark.parametrize(
    ("email", "path", "status"),
    [
        ("viewer@sinergi.test", "/account", 200),
        ("worker@sinergi.test", "/", 200),
    ],
)
def test_logged_in_pages_answer_per_role(client, email, path, status):
    login(client, email)
    assert client.get(path).status_code == status
