"""CSRF on every state-changing route, and no GET route that changes data (ASVS 3.5.1, 3.5.3).

The routes come from ``app.url_map``; their paths, bodies and the users allowed to use them come
from the permission matrix (``tests/test_permission_matrix.py``), which already fails when a route
is missing from it, and whose ``test_matrix`` shows the same requests *with* the page's token get
through (so a refusal here is the CSRF check, not the permission check). Two figures are printed
and asserted: unsafe routes that accepted a request without a CSRF token (0) and GET routes that
changed data as any user (0).

"Changed data" compares a digest of every row of every table before and after. The audit trail and
the access log are left out on purpose: reading personal data and being refused are *meant* to be
written there (UU PDP processing record, denied-access log).
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from caseapp.extensions import db
from tests.test_permission_matrix import BODIES, MATRIX, USERS, Visitor, build_world

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture
def world(app, session):
    return build_world(app)

LOGGED_TABLES = {"audit_events", "access_logs"}


def table_digests(app) -> dict[str, str]:
    digests = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name in LOGGED_TABLES:
                continue
            rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


def unsafe_endpoints(app) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        methods = set(rule.methods or ()) - SAFE_METHODS
        if rule.endpoint != "static" and methods:
            found.setdefault(rule.endpoint, set()).update(methods)
    return found


def allowed_user(expected: dict[str, str]) -> str:
    """A user the matrix lets through (so a refusal below is the CSRF check, not the permission check)."""
    return next((u for u in USERS if u != "anon" and expected[u] == "ok"), "anon")


def test_every_unsafe_route_refuses_a_request_without_csrf_token(app, world):
    unsafe = unsafe_endpoints(app)
    assert unsafe, "no unsafe routes found"
    accepted, checked, api_routes = [], 0, []
    visitors: dict[str, Visitor] = {}
    for endpoint in sorted(unsafe):
        method, path, expected = MATRIX[endpoint]
        path = path.format(**world)
        if path.startswith("/api/"):
            api_routes.append((endpoint, path))
            continue
        user = allowed_user(expected)
        visitor = visitors.get(user) or visitors.setdefault(user, Visitor(app, user))
        body = BODIES.get(endpoint, lambda _w: {})(world)
        for methods in unsafe[endpoint]:
            before = table_digests(app)
            response = visitor.client.open(path, method=methods, data=body)  # no csrf_token
            after = table_digests(app)
            checked += 1
            if response.status_code != 400 or changed(before, after):
                accepted.append(f"{methods} {path} as {user}: {response.status_code}, changed {changed(before, after)}")
            response.close()
    # The API takes bearer tokens only (no ambient cookie authority, so no CSRF): a browser session
    # cookie alone must not get an unsafe API request through.
    browser = visitors.get("admin") or Visitor(app, "admin")
    for endpoint, path in api_routes:
        method = MATRIX[endpoint][0]
        if endpoint == "api_auth.issue_token":
            continue  # exchanges a password for a token; it needs no earlier authority at all
        before = table_digests(app)
        response = browser.client.open(path, method=method, json=BODIES.get(endpoint, lambda _w: {})(world))
        after = table_digests(app)
        checked += 1
        if response.status_code != 401 or changed(before, after):
            accepted.append(f"{method} {path} with the cookie only: {response.status_code}")
    print(f"\nunsafe routes checked without CSRF token: {checked}; accepted: {len(accepted)}")
    assert checked >= len(unsafe) - 1
    assert accepted == [], "\n".join(accepted)


@pytest.mark.parametrize("user", USERS)
def test_get_routes_change_no_data(app, world, user):
    visitor = Visitor(app, user)   # logging in writes (last login, session version): before the snapshot
    gets = [(endpoint, path.format(**world)) for endpoint, (method, path, _) in MATRIX.items() if method == "GET"]
    assert len(gets) >= 25
    before = table_digests(app)
    changing = []
    for endpoint, path in gets:
        response = visitor.request(endpoint, "GET", path, {})
        response.close()
        after = table_digests(app)
        if changed(before, after):
            changing.append(f"{endpoint} GET {path}: {changed(before, after)}")
            before = after
    print(f"\nGET routes visited as {user}: {len(gets)}; changed data: {len(changing)}")
    assert changing == [], "\n".join(changing)
