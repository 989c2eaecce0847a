"""Wiring the notifications domain into the app: event subscription, in-process delivery, chrome, CLI."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from flask import Flask, has_request_context
from flask_login import current_user
from sqlalchemy.orm import Session

from caseapp.core.jobs import register_local_handler
from caseapp.core.models import utcnow
from caseapp.core.signals import case_transitioned
from caseapp.extensions import db
from caseapp.notifications.cli import notifications_cli
from caseapp.notifications.delivery import deliver_external, deliver_in_app
from caseapp.notifications.models import Channel
from caseapp.notifications.outbox import record_case_notifications
from caseapp.notifications.queries import unread_count
from caseapp.notifications.relay import relay_outbox
from caseapp.notifications.sla import WIB, scan_sla, send_digest

log = logging.getLogger("sinergi.notifications")


def _on_case_transitioned(case, **kwargs) -> None:
    record_case_notifications(case, **kwargs)


def _fresh_session() -> Session:
    """A session of its own for work done after the request's commit.

    The request's session cannot run SQL inside its own after-commit hook; the new one uses the same
    bind (the engine; in tests, the test's connection, so it sees the test's data).
    """
    return Session(bind=db.session.get_bind(), join_transaction_mode="create_savepoint")


def _in_process(app: Flask, operation: Callable[..., object]) -> Callable[..., None]:
    def handler(*args: object) -> None:
        with _fresh_session() as session:
            operation(session, *args)
            session.commit()
        _housekeeping(app)

    return handler


_housekeeping_lock = threading.Lock()


def _housekeeping(app: Flask, now: datetime | None = None) -> None:
    """Embedded mode has no beat: relay, SLA scan and digest run here, each at most once per interval."""
    if not app.config.get("NOTIFY_EMBEDDED_HOUSEKEEPING") or not _housekeeping_lock.acquire(blocking=False):
        return
    try:
        state = app.extensions.setdefault("sinergi_notify_housekeeping", {"relay": 0.0, "scan": 0.0, "digest": ""})
        clock, now = time.monotonic(), now or utcnow()
        local = now.astimezone(WIB)
        chores = []
        if clock - state["relay"] >= app.config["NOTIFY_RELAY_INTERVAL"]:
            state["relay"] = clock
            chores.append(relay_outbox)
        if clock - state["scan"] >= app.config["NOTIFY_SLA_SCAN_INTERVAL"]:
            state["scan"] = clock
            chores.append(scan_sla)
        if local.hour >= app.config["NOTIFY_DIGEST_HOUR"] and state["digest"] != local.date().isoformat():
            state["digest"] = local.date().isoformat()
            chores.append(send_digest)
        for chore in chores:
            try:
                with _fresh_session() as session:
                    chore(session)
                    session.commit()
            except Exception:
                log.exception("embedded %s failed", chore.__name__)
    finally:
        _housekeeping_lock.release()


def _unread_badge() -> dict:
    if not has_request_context() or not current_user or not current_user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(db.session, current_user.id)}


def init_notifications(app: Flask) -> None:
    """Subscribe to the workflow's events and register the in-process handlers (embedded mode)."""
    case_transitioned.connect(_on_case_transitioned, weak=False)
    register_local_handler(app, "notifications.deliver_in_app", _in_process(app, deliver_in_app))
    register_local_handler(app, "notifications.deliver_email",
                           _in_process(app, lambda session, ids: deliver_external(session, Channel.EMAIL, ids)))
    register_local_handler(app, "notifications.deliver_webhook",
                           _in_process(app, lambda session, ids: deliver_external(session, Channel.WEBHOOK, ids)))
    app.context_processor(_unread_badge)
    app.cli.add_command(notifications_cli)
