"""The app under gunicorn with a real Celery worker on PostgreSQL and Redis (issue #9, "must show").

- ``/readyz`` is 200; with Redis stopped it is 503 naming Redis while pages are still served; with
  Redis back it is 200 again. The Redis here is a redis-server this test starts on a free port.
- A request that causes a notification leaves JSON log lines in the web process and in the worker
  that carry one correlation id, and no personal data.
- The worker's task counters reach ``/metrics``, which parses as Prometheus text.
"""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from caseapp.auth.models import User
from tests.notifications.conftest import HEAD_NIK
from tests.notifications.integration import NotificationStack
from tests.notifications.servers import wait_for
from tests.ops.processes import Gunicorn, json_lines

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration]

METRICS_TOKEN = "metrics-token-for-the-stack-test-0123"


@pytest.fixture
def stack(app, database_url, tmp_path, monkeypatch):
    with NotificationStack(database_url, tmp_path, monkeypatch, LOG_FORMAT="json") as running:
        yield running


@pytest.fixture
def web(stack, tmp_path):
    server = Gunicorn(stack.env, tmp_path / "gunicorn.log")
    yield server.start()
    server.stop()


def readyz(web) -> tuple[int, dict]:
    status, _headers, body = web.get("/readyz")
    return status, json.loads(body)


def test_readyz_follows_redis_while_pages_are_still_served(stack, web):
    stack.start_worker()
    status, body = readyz(web)
    assert status == 200, body
    assert body["checks"]["redis"] == {"ok": True}

    stack.redis.stop()
    status, body = readyz(web)
    assert status == 503
    assert body["status"] == "fail" and body["failed"] == ["redis"]
    assert body["checks"]["redis"]["ok"] is False and body["checks"]["database"]["ok"] is True
    assert web.get("/healthz")[0] == 200
    status, _headers, page = web.get("/login")
    assert status == 200 and b"<form" in page

    stack.redis.start()
    wait_for(lambda: readyz(web)[0] == 200, timeout=20, message="/readyz to recover")
    assert readyz(web)[1]["checks"]["redis"] == {"ok": True}


def test_one_correlation_id_from_the_request_to_the_worker_and_into_metrics(stack, web):
    stack.prefer("supervisor@sinergi.test", {})
    stack.prefer("worker@sinergi.test", {})  # in-app only
    case = stack.committed_case()
    stack.start_worker()
    token = stack.api_token("supervisor@sinergi.test")

    status, headers, body = web.request("POST", f"/api/v1/cases/{case['id']}/actions", headers=token,
                                        body={"action": "approve_verification", "version": case["version"]})
    assert status == 200, body
    correlation = headers["X-Request-ID"]
    wait_for(lambda: stack.notification(case)["status"] == "sent", timeout=30, message="in-app delivery")

    web_lines = [line for line in json_lines(web.log()) if line.get("correlation_id") == correlation]
    [request_line] = [line for line in web_lines if line["logger"] == "sinergi.request"]
    with stack.db() as session:
        supervisor_id = session.scalar(select(User.id).where(User.email == "supervisor@sinergi.test"))
    assert request_line == {**request_line, "message": "request", "method": "POST", "status": 200,
                            "path": "/api/v1/cases/<int:case_id>/actions", "user_id": supervisor_id}
    assert isinstance(request_line["duration_ms"], float) and request_line["duration_ms"] > 0

    def task_lines():
        return [line for line in json_lines(stack.log("worker-w1.log"))
                if line.get("correlation_id") == correlation and line["logger"] == "sinergi.task"]

    wait_for(task_lines, timeout=10, message="the worker's task line")
    [task_line] = [line for line in task_lines() if line["task"] == "notifications.deliver_in_app"]
    assert task_line["state"] == "SUCCESS" and task_line["duration_ms"] >= 0 and task_line["task_id"]

    # Every line the web server wrote is JSON, and neither process logged personal data.
    assert all(line.startswith("{") for line in web.log().splitlines() if line.strip()), web.log()[-2000:]
    for text in (web.log(), stack.log("worker-w1.log")):
        assert HEAD_NIK not in text
        assert "supervisor@sinergi.test" not in text and "worker@sinergi.test" not in text
        assert not re.search(r"(?<!\d)\d{16}(?!\d)", text)

    # The worker's counters, read from Redis by /metrics of any web process.
    stack.app.config["METRICS_TOKEN"] = METRICS_TOKEN
    response = stack.app.test_client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    runs = {(s.labels["task"], s.labels["state"]): s.value for s in families["sinergi_task_runs"].samples
            if s.name == "sinergi_task_runs_total"}
    assert runs[("notifications.deliver_in_app", "SUCCESS")] >= 1
    failures = {s.labels["task"]: s.value for s in families["sinergi_task_failures"].samples
                if s.name == "sinergi_task_failures_total"}
    assert failures["notifications.deliver_in_app"] == 0
