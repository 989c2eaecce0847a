"""Celery task counters, kept in Redis so that every worker process adds to one place.

Each worker records every task run it finishes (``workers/celery_app.py``, ``task_postrun``) with
two ``HINCRBY``s; ``/metrics`` of any web process reads the two hashes and exports them as
Prometheus counters. Counters in Redis survive worker restarts; if Redis itself loses them (a new,
empty Redis), Prometheus sees an ordinary counter reset. Without ``REDIS_URL`` (embedded mode) there
is no worker and nothing is exported.
"""

from __future__ import annotations

import logging

import redis
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("sinergi.ops")

RUNS_KEY = "sinergi:metrics:task_runs"          # field "<task>|<state>" → count
SECONDS_KEY = "sinergi:metrics:task_seconds"    # field "<task>" → total seconds spent
FAILED_STATES = ("FAILURE",)

_clients: dict[str, redis.Redis] = {}


def _client(url: str) -> redis.Redis:
    if url not in _clients:
        # Short timeouts: counting a task must never hold a worker for long when Redis struggles.
        _clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _clients[url]


def record_task_run(url: str | None, task: str, state: str, seconds: float) -> None:
    """Count one finished run of *task* (state SUCCESS, FAILURE, RETRY, …); never raises."""
    if not url:
        return
    try:
        pipe = _client(url).pipeline(transaction=False)
        pipe.hincrby(RUNS_KEY, f"{task}|{state}", 1)
        pipe.hincrbyfloat(SECONDS_KEY, task, max(0.0, seconds))
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("task counters not updated: %s", type(exc).__name__)


def read_task_counts(url: str) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    client = _client(url)
    runs = {}
    for field, count in client.hgetall(RUNS_KEY).items():
        task, _, state = field.decode().rpartition("|")
        runs[(task, state)] = int(count)
    seconds = {field.decode(): float(value) for field, value in client.hgetall(SECONDS_KEY).items()}
    return runs, seconds


class TaskCollector(Collector):
    """``sinergi_task_runs_total{task,state}``, ``sinergi_task_failures_total{task}`` and
    ``sinergi_task_seconds_total{task}`` from the Redis hashes, read at scrape time."""

    def __init__(self, url_getter) -> None:
        self._url = url_getter

    def describe(self):
        return []

    def collect(self):
        url = self._url()
        if not url:
            return
        try:
            runs, seconds = read_task_counts(url)
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: task counters unavailable: %s", type(exc).__name__)
            return
        total = CounterMetricFamily("sinergi_task_runs", "Celery task runs finished, by task and final state.",
                                    labels=["task", "state"])
        failures = CounterMetricFamily("sinergi_task_failures", "Celery task runs that failed, by task.",
                                       labels=["task"])
        spent = CounterMetricFamily("sinergi_task_seconds", "Seconds spent running Celery tasks, by task.",
                                    labels=["task"])
        failed: dict[str, int] = {}
        for (task, state), count in sorted(runs.items()):
            total.add_metric([task, state], count)
            if state in FAILED_STATES:
                failed[task] = failed.get(task, 0) + count
            else:
                failed.setdefault(task, 0)
        for task, count in sorted(failed.items()):
            failures.add_metric([task], count)
        for task, value in sorted(seconds.items()):
            spent.add_metric([task], value)
        yield total
        yield failures
        yield spent
