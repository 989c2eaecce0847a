"""Notification tasks: thin wrappers that call ``caseapp.notifications`` operations and commit.

Every task is idempotent (see ``caseapp.notifications.delivery``); a message delivered twice, or
re-published by the relay, does no harm. Each runs in the Flask app context (``FlaskTask``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import asdict

import redis
from celery import shared_task
from flask import current_app

from caseapp.extensions import db
from caseapp.notifications import operations as ops
from caseapp.notifications.models import Channel

log = logging.getLogger("sinergi.workers")

_redis_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    url = current_app.config["REDIS_URL"]
    if url not in _redis_clients:
        _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return _redis_clients[url]


def poison_message(task) -> bool:
    """True when this message has come back more than NOTIFY_MAX_REDELIVERIES times (SECURITY.md).

    A message is redelivered when its worker died (acks_late); one that kills every worker that
    takes it would loop forever. Delivery rows cap themselves (attempts are counted at the claim);
    this caps the message itself, for every task.
    """
    if not (task.request.delivery_info or {}).get("redelivered") or not current_app.config.get("REDIS_URL"):
        return False
    key = f"sinergi:redeliveries:{task.request.id}"
    try:
        client = _redis()
        count = client.incr(key)
        client.expire(key, 86400)
    except redis.RedisError:
        return False
    if count > current_app.config["NOTIFY_MAX_REDELIVERIES"]:
        log.error("task %s[%s] redelivered %s times: dropped as a poison message", task.name, task.request.id, count)
        return True
    return False


def notification_task(name: str) -> Callable:
    """``shared_task`` named *name*, with the poison-message guard."""

    def decorate(body: Callable) -> Callable:
        @shared_task(name=name, bind=True)
        @functools.wraps(body)
        def task(self, *args, **kwargs):
            if poison_message(self):
                return None
            return body(*args, **kwargs)

        return task

    return decorate


@notification_task("notifications.deliver_in_app")
def deliver_in_app(ids: list[int]) -> int:
    """Mark a batch of in-app notifications delivered (visible in the notification centre)."""
    delivered = ops.deliver_in_app(db.session, ids)
    db.session.commit()
    return delivered


@notification_task("notifications.deliver_email")
def deliver_email(ids: list[int]) -> dict:
    """Send a batch of e-mails over one SMTP session."""
    return asdict(ops.deliver_external(db.session, Channel.EMAIL, ids))


@notification_task("notifications.deliver_webhook")
def deliver_webhook(ids: list[int]) -> dict:
    """POST a batch of signed SMS/WhatsApp gateway webhooks."""
    return asdict(ops.deliver_external(db.session, Channel.WEBHOOK, ids))


@notification_task("notifications.relay_outbox")
def relay_outbox() -> dict:
    """Beat: publish rows still pending (Redis was down, a process died, a retry is due)."""
    counts = ops.relay_outbox(db.session)
    db.session.commit()
    return counts


@notification_task("notifications.scan_sla")
def scan_sla() -> int:
    """Beat: SLA reminders and escalations (deduplicated; safe to run twice)."""
    created = ops.scan_sla(db.session)
    db.session.commit()
    return created


@notification_task("notifications.send_digest")
def send_digest() -> int:
    """Beat, 07:00 Asia/Jakarta: the daily digest of open work (once per user per day)."""
    created = ops.send_digest(db.session)
    db.session.commit()
    return created
