"""Helpers shared by tests: log in through the real forms, read CSRF tokens, TOTP codes."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager

import pyotp
from sqlalchemy import event

from caseapp.extensions import db

DEMO_PASSWORD = "sinergi-demo-2025"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"
MFA_USERS = {"admin@sinergi.test", "supervisor@sinergi.test"}

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def totp_code(offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(DEMO_TOTP_SECRET)
    return totp.at(time.time() + 30 * offset_steps)


def login(client, email: str, password: str = DEMO_PASSWORD):
    """Log in through the HTML forms (with the second factor for MFA roles); returns the last response."""
    page = client.get("/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(page.text)})
    if email in MFA_USERS and response.status_code == 302 and "/login/totp" in response.headers["Location"]:
        page = client.get("/login/totp")
        response = client.post("/login/totp", data={"code": totp_code(), "csrf_token": csrf_token(page.text)})
    return response


@contextmanager
def counting(app):
    """Collect the SQL statements the app's engine runs inside the block (for query-count tests)."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
