"""Background jobs, enqueued only after the transaction that asks for them has committed.

With a broker (``REDIS_URL``) the job is sent to Celery by task name, so ``caseapp`` never imports
``workers``. Without one (embedded mode) the same handler runs in-process right after commit; a
failure there is logged and never undoes or fails the user's action.

Every published task carries the current correlation id (the web request's ``X-Request-ID``, or the
id of the task that publishes it) in its ``sinergi_correlation_id`` message header; the worker puts it on
every log line of the task (``workers/celery_app.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery.signals import before_task_publish
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from caseapp.core.logging import HEADER, get_correlation_id

log = logging.getLogger("sinergi.jobs")

_PENDING_KEY = "sinergi_pending_jobs"


def register_local_handler(app: Flask, task_name: str, handler: Callable[..., object]) -> None:
    """Declare what runs in-process for *task_name* when there is no broker."""
    app.extensions.setdefault("sinergi_local_jobs", {})[task_name] = handler


def enqueue_after_commit(session: Session, task_name: str, *args: object) -> None:
    """Send *task_name* with *args* once *session* commits; dropped if it rolls back."""
    session.info.setdefault(_PENDING_KEY, []).append((task_name, args))


def dispatch(app: Flask, task_name: str, args: tuple) -> None:
    if app.config.get("REDIS_URL"):
        # ignore_result: otherwise Celery first subscribes to the result backend, and against a
        # stopped Redis that retries for ~20 s inside the user's request.
        correlation = get_correlation_id()
        app.extensions["celery"].send_task(task_name, args=list(args), ignore_result=True,
                                           headers={HEADER: correlation} if correlation else None)
        return
    handler = app.extensions.get("sinergi_local_jobs", {}).get(task_name)
    if handler is None:
        log.warning("no in-process handler for %s; job dropped", task_name)
        return
    handler(*args)


def _after_commit(session: Session) -> None:
    jobs = session.info.pop(_PENDING_KEY, [])
    if not jobs:
        return
    app = current_app._get_current_object()
    for task_name, args in jobs:
        try:
            dispatch(app, task_name, args)
        except Exception:
            # The outbox row is committed; the relay will publish it again later.
            log.exception("could not dispatch %s", task_name)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def _add_correlation_header(headers=None, **_kwargs) -> None:
    """Any task published while a request or a task is running inherits its correlation id."""
    if headers is not None and not headers.get(HEADER):
        correlation = get_correlation_id()
        if correlation:
            headers[HEADER] = correlation


def init_jobs() -> None:
    """Hook the session events and the publish signal once (idempotent)."""
    before_task_publish.connect(_add_correlation_header, weak=False, dispatch_uid="sinergi-correlation-header")
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
