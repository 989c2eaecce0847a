"""Shared helpers of the admin tests."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.core.audit import AuditEvent
from caseapp.extensions import db
from tests.helpers import csrf_token, login

LINK_RE = re.compile(r'value="(http://[^"]+/welcome/[^"]+)" data-one-time-link')


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def events(action: str, object_type: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    return list(db.session.scalars(stmt))


def post(client, url: str, data: dict | None = None, *, form_page: str | None = None):
    """POST *data* with a CSRF token read from *form_page* (default: the admin landing page)."""
    page = client.get(form_page or "/admin/")
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(page.text)})


@pytest.fixture
def admin_client(app, client):
    assert login(client, "admin@sinergi.test").status_code == 302
    return client
