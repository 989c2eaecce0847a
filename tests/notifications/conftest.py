"""Fixtures for the notification unit tests: demo people, a case waiting for approval, real servers."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.cases import operations as case_ops
from caseapp.households.identity import build_nik
from tests.factories import HouseholdFactory, PersonFactory
from tests.notifications.servers import SmtpServer, WebhookReceiver

WEBHOOK_SECRET = "test-webhook-secret-0123456789"
HEAD_NIK = build_nik("35", "71", "01", date(1975, 3, 9), "L", 4242)


@pytest.fixture
def people(ctx):
    return {name: ctx.scalar(select(User).where(User.email == f"{name}@sinergi.test"))
            for name in ("admin", "supervisor", "worker", "worker2", "dokter", "rumah", "viewer")}


@pytest.fixture
def published(app, monkeypatch):
    """Embedded mode with the in-process handlers replaced by recorders: tests deliver step by step."""
    calls: list[tuple[str, list[int]]] = []
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    handlers = {name: (lambda ids, name=name: calls.append((name, list(ids))))
                for name in app.extensions["sinergi_local_jobs"]}
    monkeypatch.setitem(app.extensions, "sinergi_local_jobs", handlers)
    return calls


@pytest.fixture
def embedded(app, monkeypatch):
    """Embedded mode (no Redis): the real in-process handlers run after commit."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)


@pytest.fixture
def submitted_case(ctx, people):
    """A case whose verification waits for the supervisor's approval (owner: worker@)."""
    household = PersonFactory(household=HouseholdFactory(kelurahan_code="35.71.01.1001"), nik=HEAD_NIK).household
    case = case_ops.create_referral(ctx, actor=people["worker"], household=household, source="OUTREACH",
                                    reason="Atap bocor")
    case_ops.transition_case(ctx, case, "accept_referral", people["supervisor"], version=case.version,
                             assignee_id=people["worker"].id)
    case_ops.transition_case(ctx, case, "submit_verification", people["worker"], version=case.version,
                             findings="Dinding retak")
    ctx.flush()
    return case


@pytest.fixture
def smtp(app, monkeypatch):
    server = SmtpServer().start()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", server.port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 5)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://sinergi.kedirikota.test")
    yield server
    server.stop()


@pytest.fixture
def webhook(app, monkeypatch):
    receiver = WebhookReceiver(WEBHOOK_SECRET).start()
    monkeypatch.setitem(app.config, "SMS_WEBHOOK_URL", receiver.url)
    monkeypatch.setitem(app.config, "SMS_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://sinergi.kedirikota.test")
    yield receiver
    receiver.stop()


@pytest.fixture
def fast_retries(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_BACKOFF_BASE", 0.01)
    monkeypatch.setitem(app.config, "NOTIFY_BACKOFF_MAX", 0.02)
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 3)
