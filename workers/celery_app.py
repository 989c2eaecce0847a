"""Celery entry point: ``celery -A workers.celery_app worker`` / ``beat``.

The Flask app is built here (as in wsgi.py) so every task runs inside its app context; the Celery
object is the one ``caseapp.extensions.init_celery`` bound to it. Run exactly one beat per deployment.

Logging (issue #9): Celery does not configure logging itself (``setup_logging`` is answered here);
the worker writes Sinergi's format (``LOG_FORMAT``). Each task run sets the correlation id from its
message header (``caseapp.core.jobs``), or its own task id when nothing sent one (beat), logs one
``task`` line when it finishes and adds to the task counters that ``/metrics`` exports.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from celery.signals import setup_logging, task_postrun, task_prerun

from caseapp import create_app
from caseapp.core.logging import HEADER, configure_logging, reset_correlation_id, set_correlation_id
from caseapp.ops.taskstats import record_task_run
from workers import imports, notifications, retention, tasks
from workers.schedule import beat_schedule

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.include = [tasks.__name__, notifications.__name__, retention.__name__, imports.__name__]
celery_app.conf.beat_schedule = beat_schedule(flask_app.config)
celery_app.conf.beat_schedule_filename = str(Path(flask_app.instance_path) / "celerybeat-schedule")
app = celery_app

task_log = logging.getLogger("sinergi.task")
_running: dict[str, tuple[float, object]] = {}


@setup_logging.connect(weak=False)
def _setup_logging(**_kwargs) -> None:
    configure_logging(flask_app.config, force=True)


def _correlation_of(task) -> str | None:
    request = task.request
    value = request.get(HEADER) or (getattr(request, "headers", None) or {}).get(HEADER)
    return str(value)[:64] if value else None


@task_prerun.connect(weak=False)
def _task_started(task_id=None, task=None, **_kwargs) -> None:
    correlation = _correlation_of(task) or task_id
    _running[task_id] = (time.perf_counter(), set_correlation_id(correlation))


@task_postrun.connect(weak=False)
def _task_finished(task_id=None, task=None, state=None, **_kwargs) -> None:
    started, token = _running.pop(task_id, (None, None))
    seconds = time.perf_counter() - started if started is not None else 0.0
    level = logging.ERROR if state == "FAILURE" else logging.INFO
    task_log.log(level, "task", extra={"task": task.name, "task_id": task_id, "state": state,
                                       "duration_ms": round(seconds * 1000, 2)})
    record_task_run(flask_app.config.get("REDIS_URL"), task.name, state or "UNKNOWN", seconds)
    if token is not None:
        reset_correlation_id(token)
