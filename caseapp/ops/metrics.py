"""Prometheus metrics: a per-app registry (``app.extensions["sinergi_metrics"]``), a request latency
histogram observed in a teardown hook, and gauges computed from the database at scrape time."""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app, g, request
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from caseapp.extensions import db
from caseapp.ops import checks
from caseapp.ops.taskstats import TaskCollector

log = logging.getLogger("sinergi.ops")
EXTENSION = "sinergi_metrics"


class DatabaseCollector(Collector):
    """Outbox, failed notifications, overdue steps and running imports, read when scraped."""

    def describe(self):
        return []  # never queried at registration time

    def collect(self):
        try:
            pending, age = checks.outbox_state()
            failed = checks.failed_counts()
            overdue = checks.overdue_steps_by_agency()
            running = checks.import_jobs_running()
        except Exception:
            db.session.rollback()
            log.exception("metrics: database gauges unavailable")
            return
        yield GaugeMetricFamily("sinergi_outbox_pending", "Outbox rows (notifications and deliveries) pending.",
                                value=pending)
        yield GaugeMetricFamily("sinergi_outbox_oldest_age_seconds",
                                "Seconds the oldest due pending outbox row has waited.", value=age)
        family = GaugeMetricFamily("sinergi_notifications_failed", "Notification rows given up on, by table.",
                                   labels=["table"])
        for table, count in failed.items():
            family.add_metric([table], count)
        yield family
        family = GaugeMetricFamily("sinergi_steps_overdue", "Open or submitted case steps past due, by agency id.",
                                   labels=["agency_id"])
        for agency, count in overdue.items():
            family.add_metric([agency], count)
        yield family
        yield GaugeMetricFamily("sinergi_import_jobs_running", "Household imports running.", value=running)


def _start_timer() -> None:
    g.ops_request_started = time.perf_counter()


def _observe(_exc=None) -> None:
    started = g.pop("ops_request_started", None)
    if started is None:
        return
    metrics = current_app.extensions[EXTENSION]
    endpoint = request.endpoint or "unmatched"  # the route, never the raw path (bounded labels)
    metrics["latency"].labels(endpoint=endpoint, method=request.method).observe(time.perf_counter() - started)


def init_metrics(app: Flask) -> None:
    registry = CollectorRegistry()
    latency = Histogram(
        "sinergi_http_request_duration_seconds", "HTTP request latency by endpoint and method.",
        ["endpoint", "method"], registry=registry,
    )
    registry.register(DatabaseCollector())
    registry.register(TaskCollector(lambda: current_app.config.get("REDIS_URL")))
    app.extensions[EXTENSION] = {"registry": registry, "latency": latency}
    # First, so requests refused by an earlier hook (permissions) are timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.teardown_request(_observe)
