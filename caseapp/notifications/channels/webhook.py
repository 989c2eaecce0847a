"""The SMS / WhatsApp gateway webhook: a signed JSON POST per delivery.

The body is JSON built with ``json.dumps`` (never string formatting) and carries its own timestamp
and a delivery id. Headers: ``X-Sinergi-Signature: sha256=<hex HMAC-SHA256 of the raw body with
SMS_WEBHOOK_SECRET>``, ``X-Sinergi-Timestamp`` (the same unix time as the body's ``timestamp``: a
gateway refuses old ones, so a captured request cannot be replayed later) and ``X-Sinergi-Delivery``
(an idempotency key: the same delivery may arrive twice after a crash, the gateway sends one SMS).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask_babel import force_locale

from caseapp.notifications.channels import DeliveryError, Job
from caseapp.notifications.channels.email import absolute_link, locale_of
from caseapp.notifications.messages import render

SIGNATURE_HEADER = "X-Sinergi-Signature"
TIMESTAMP_HEADER = "X-Sinergi-Timestamp"
DELIVERY_HEADER = "X-Sinergi-Delivery"
REPLAY_WINDOW_SECONDS = 300


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str, timestamp: str, *, now: float | None = None) -> bool:
    """What a gateway does (and the tests): signature, timestamp in the body, replay window."""
    if not hmac.compare_digest(sign(secret, body), signature or ""):
        return False
    try:
        sent = int(timestamp)
        inside = int(json.loads(body)["timestamp"])
    except (ValueError, KeyError, TypeError):
        return False
    return sent == inside and abs((now or time.time()) - sent) <= REPLAY_WINDOW_SECONDS


def build_payload(job: Job, config: Mapping, *, timestamp: int | None = None) -> dict:
    """The JSON the gateway receives: the text in the recipient's language, no NIK, no health data."""
    with force_locale(locale_of(job)):
        rendered = render(job.kind, job.payload)
    link = absolute_link(config["PUBLIC_BASE_URL"], job.link)
    return {
        "id": f"sinergi-delivery-{job.delivery_id}",
        "event": job.kind,
        "timestamp": int(timestamp if timestamp is not None else time.time()),
        "to": job.phone,
        "locale": locale_of(job),
        "text": f"Sinergi: {rendered.title}. {link}",
        "link": link,
        "case_number": (job.payload or {}).get("case_number"),
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class WebhookSender:
    """One HTTP(S) connection (keep-alive) for a batch of POSTs."""

    def __init__(self, config: Mapping) -> None:
        self.config = config
        self.url = urlsplit(config["SMS_WEBHOOK_URL"])
        if self.url.scheme not in ("http", "https") or not self.url.hostname:
            raise DeliveryError("SMS_WEBHOOK_URL must be an http(s) URL", permanent=True, breaks_batch=True)
        self.path = (self.url.path or "/") + (f"?{self.url.query}" if self.url.query else "")
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            timeout = float(self.config.get("SMS_WEBHOOK_TIMEOUT") or 10)
            cls = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self.url.hostname, self.url.port, timeout=timeout)
        return self._conn

    def send(self, job: Job) -> None:
        payload = build_payload(job, self.config)
        body = encode(payload)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Sinergi-notifications/1",
            SIGNATURE_HEADER: sign(self.config["SMS_WEBHOOK_SECRET"], body),
            TIMESTAMP_HEADER: str(payload["timestamp"]),
            DELIVERY_HEADER: payload["id"],
        }
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                # A kept-alive connection the gateway had already closed: try once on a fresh one.
                if not reused or attempt == 2:
                    raise DeliveryError(f"webhook connection failed: {exc}", breaks_batch=True) from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise DeliveryError(f"webhook unavailable: {exc}", breaks_batch=True) from exc
        if 200 <= status < 300:
            return
        if status in (408, 425, 429) or status >= 500:
            raise DeliveryError(f"webhook answered HTTP {status}", breaks_batch=True)
        raise DeliveryError(f"webhook refused the message: HTTP {status}", permanent=True)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
