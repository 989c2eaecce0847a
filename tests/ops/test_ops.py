"""Health, readiness, metrics and ``flask doctor`` (issue #9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from caseapp import create_app
from caseapp.auth.models import User
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.notifications.models import Channel, Notification

TOKEN = "metrics-token-for-tests-0123456789"


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_on_the_test_database(app, client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    migrations = body["checks"]["migrations"]
    assert migrations["ok"] is True and migrations["current"] == migrations["head"] is not None
    assert body["checks"]["outbox"]["ok"] is True
    if app.config["REDIS_URL"]:
        assert body["checks"]["redis"] == {"ok": True}
    else:
        assert "redis" not in body["checks"]  # checked only when configured
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_fails_on_an_unreachable_redis_while_the_app_still_serves(database_url):
    app = create_app("testing")
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "fail"
    assert response.json["failed"] == ["redis"]
    assert response.json["checks"]["redis"]["ok"] is False
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_readyz_reports_an_old_pending_notification(app, client, session):
    with app.app_context():
        user = session.scalar(select(User).limit(1))
        email = user.email
        session.add(Notification(recipient_id=user.id, channel=Channel.IN_APP, kind="digest", payload={},
                                 created_at=utcnow() - timedelta(hours=2)))
        session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    outbox = response.json["checks"]["outbox"]
    assert outbox["ok"] is False and outbox["pending"] >= 1 and outbox["oldest_age_seconds"] > 600
    assert response.json["failed"] == ["outbox"]
    assert email not in response.text  # no personal data


def test_metrics_is_hidden_without_a_token_configured(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@pytest.fixture
def metrics_client(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    yield client
    app.config["METRICS_TOKEN"] = None


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer "])
def test_metrics_refuses_a_missing_or_wrong_token(metrics_client, header):
    headers = {"Authorization": header} if header else {}
    response = metrics_client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert b"sinergi_" not in response.data


def test_metrics_with_the_token_are_prometheus_text(metrics_client):
    metrics_client.get("/healthz")
    response = metrics_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    latency = families["sinergi_http_request_duration_seconds"]
    assert latency.type == "histogram"
    assert any(s.labels.get("endpoint") == "ops.healthz" and s.labels.get("method") == "GET"
               for s in latency.samples)
    assert families["sinergi_outbox_pending"].type == "gauge"
    assert families["sinergi_outbox_oldest_age_seconds"].type == "gauge"
    for name in ("sinergi_notifications_failed", "sinergi_steps_overdue", "sinergi_import_jobs_running"):
        assert name in families


def test_each_app_has_its_own_registry(app, database_url):
    other = create_app("testing")
    assert other.extensions["sinergi_metrics"]["registry"] is not app.extensions["sinergi_metrics"]["registry"]
    with other.app_context():
        db.engine.dispose()


def test_doctor_passes_on_the_testing_configuration(app, session):
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "OK   database reachable" in result.output
    assert "OK   migrations at head" in result.output
    # The test SECRET_KEY is a known value: a warning outside production, a failure in it.
    assert "WARN SECRET_KEY is a known test/dev value" in result.output


def test_doctor_fails_on_a_short_secret_key(database_url):
    app = create_app("testing")
    app.config["SECRET_KEY"] = "too-short"
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "FAIL SECRET_KEY is shorter than 32 characters → set SECRET_KEY" in result.output
    with app.app_context():
        db.engine.dispose()


def test_doctor_checks_mail_and_production_settings(database_url):
    app = create_app("testing")
    app.config.update(ENV_NAME="production", SMTP_HOST="smtp.example.org", MAIL_FROM="", METRICS_TOKEN=None,
                      SESSION_COOKIE_SECURE=False)
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    for expected in ("FAIL SECRET_KEY is a known test/dev value", "FAIL SMTP_HOST is set but MAIL_FROM is missing",
                     "FAIL METRICS_TOKEN is not set", "FAIL SESSION_COOKIE_SECURE is off"):
        assert expected in result.output
    with app.app_context():
        db.engine.dispose()
