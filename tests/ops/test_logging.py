"""Structured logs, the correlation id and ProxyFix (issue #9)."""

from __future__ import annotations

import json
import logging

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from caseapp import create_app
from caseapp.core.jobs import _add_correlation_header
from caseapp.core.logging import (
    HEADER,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    log_format,
    reset_correlation_id,
    set_correlation_id,
)
from caseapp.extensions import db
from caseapp.ops.taskstats import RUNS_KEY, SECONDS_KEY, record_task_run
from tests.helpers import login


def record(message: str, **extra) -> logging.LogRecord:
    entry = logging.LogRecord("sinergi.test", logging.INFO, __file__, 1, message, None, None)
    entry.__dict__.update(extra)
    return entry


def test_json_lines_carry_the_correlation_id_and_extra_fields():
    token = set_correlation_id("req-1234-abcd")
    try:
        line = json.loads(JsonFormatter().format(record("request", status=200, path="/cases/<int:case_id>")))
    finally:
        reset_correlation_id(token)
    assert line["correlation_id"] == "req-1234-abcd"
    assert line["level"] == "INFO" and line["logger"] == "sinergi.test" and line["message"] == "request"
    assert line["status"] == 200 and line["path"] == "/cases/<int:case_id>"
    assert line["ts"].endswith("+00:00")


def test_a_nik_in_a_message_or_field_is_masked_in_both_formats():
    entry = record("household of 3571010101010001 saved", detail="kk 3571012345678901")
    for formatter in (JsonFormatter(), TextFormatter()):
        text = formatter.format(entry)
        assert "3571010101010001" not in text and "3571********0001" in text
        assert "3571012345678901" not in text and "3571********8901" in text


def test_the_format_defaults_to_json_in_production_and_text_elsewhere():
    assert log_format({"ENV_NAME": "production"}) == "json"
    assert log_format({"ENV_NAME": "development"}) == "text"
    assert log_format({"ENV_NAME": "production", "LOG_FORMAT": "text"}) == "text"
    assert log_format({"ENV_NAME": "development", "LOG_FORMAT": "JSON"}) == "json"


def test_configure_logging_leaves_a_test_runners_handlers_alone_unless_forced():
    root = logging.getLogger()
    before = list(root.handlers)
    assert before  # pytest's capture handlers
    configure_logging({"LOG_FORMAT": "json"})
    assert root.handlers == before


def test_one_request_line_with_the_route_template_and_never_the_query_string(client, caplog):
    login(client, "worker@sinergi.test")
    caplog.clear()  # the session-wide log capture (tests/security) keeps INFO on: drop the login's lines
    with caplog.at_level(logging.INFO, logger="sinergi.request"):
        response = client.get("/cases/999999?q=3571010101010001&nama=Siti", headers={"X-Request-ID": "abcd-1234-ef"})
    assert response.headers["X-Request-ID"] == "abcd-1234-ef"
    [line] = [r for r in caplog.records if r.name == "sinergi.request"]
    assert line.correlation_id == "abcd-1234-ef"
    assert (line.method, line.path, line.status) == ("GET", "/cases/<int:case_id>", response.status_code)
    assert isinstance(line.user_id, int) and line.duration_ms >= 0
    formatted = JsonFormatter().format(line)
    assert "3571010101010001" not in formatted and "Siti" not in formatted and "?" not in json.loads(formatted)["path"]


def test_an_unmatched_path_is_logged_without_the_path(client, caplog):
    with caplog.at_level(logging.INFO, logger="sinergi.request"):
        client.get("/no/such/page/3571010101010001")
    [line] = [r for r in caplog.records if r.name == "sinergi.request"]
    assert line.path == "<unmatched>" and line.status == 404


def test_a_task_published_during_a_request_or_task_inherits_its_correlation_id():
    headers: dict = {}
    _add_correlation_header(headers=headers)
    assert HEADER not in headers  # nothing running: nothing to carry
    token = set_correlation_id("req-5678-abcd")
    try:
        _add_correlation_header(headers=headers)
        assert headers[HEADER] == "req-5678-abcd"
        headers[HEADER] = "explicit"
        _add_correlation_header(headers=headers)
        assert headers[HEADER] == "explicit"  # an id already given is kept
    finally:
        reset_correlation_id(token)


@pytest.mark.parametrize(("hops", "secure"), [(0, False), (1, True)])
def test_forwarded_headers_are_trusted_only_for_the_configured_hops(database_url, monkeypatch, hops, secure):
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", str(hops))
    app = create_app("testing")
    response = app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https",
                                                         "X-Forwarded-For": "203.0.113.9"})
    assert ("Strict-Transport-Security" in response.headers) is secure
    with app.app_context():
        db.engine.dispose()


@pytest.mark.redis
def test_task_counters_recorded_by_workers_are_exported(app, client, redis_url):
    connection = redis.Redis.from_url(redis_url)
    connection.delete(RUNS_KEY, SECONDS_KEY)
    record_task_run(redis_url, "notifications.deliver_email", "SUCCESS", 0.25)
    record_task_run(redis_url, "notifications.deliver_email", "SUCCESS", 0.25)
    record_task_run(redis_url, "notifications.deliver_email", "FAILURE", 1.0)
    record_task_run(redis_url, "core.do_nothing", "SUCCESS", 0.001)
    app.config["METRICS_TOKEN"] = "token-for-the-counter-test-0123456789"
    try:
        response = client.get("/metrics", headers={"Authorization": "Bearer token-for-the-counter-test-0123456789"})
    finally:
        app.config["METRICS_TOKEN"] = None
        connection.delete(RUNS_KEY, SECONDS_KEY)
        connection.close()
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert families["sinergi_task_runs"].type == "counter"
    runs = {(s.labels["task"], s.labels["state"]): s.value for s in families["sinergi_task_runs"].samples
            if s.name.endswith("_total")}
    assert runs == {("notifications.deliver_email", "SUCCESS"): 2, ("notifications.deliver_email", "FAILURE"): 1,
                    ("core.do_nothing", "SUCCESS"): 1}
    failures = {s.labels["task"]: s.value for s in families["sinergi_task_failures"].samples
                if s.name.endswith("_total")}
    assert failures == {"notifications.deliver_email": 1, "core.do_nothing": 0}
    seconds = {s.labels["task"]: s.value for s in families["sinergi_task_seconds"].samples
               if s.name.endswith("_total")}
    assert seconds["notifications.deliver_email"] == pytest.approx(1.5)


def test_task_counters_never_raise_when_redis_is_unreachable(caplog):
    with caplog.at_level(logging.WARNING):
        record_task_run("redis://127.0.0.1:1/0", "core.do_nothing", "SUCCESS", 0.1)
    assert "task counters not updated" in caplog.text


def test_celerys_task_arguments_are_left_out_of_log_lines():
    entry = logging.LogRecord("celery.app.trace", logging.INFO, __file__, 1, "Task x[1] succeeded", None, None)
    entry.data = {"args": "[[41, 42]]", "return_value": "{'sent': 2}"}
    for formatter in (JsonFormatter(), TextFormatter()):
        text = formatter.format(entry)
        assert "Task x[1] succeeded" in text and "args" not in text and "return_value" not in text
