"""Real servers on loopback for the notification tests: SMTP (aiosmtpd) and a webhook receiver.

The SMTP server keeps every message it accepts; it can stall a transaction (to kill a worker in the
middle of a delivery) or refuse with a chosen code. The webhook receiver checks each request's
HMAC signature and timestamp the way a gateway must, and can answer with an error status.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from caseapp.notifications.channels.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port, in a thread of the test process."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.raw: list[bytes] = []
        self.stall = threading.Event()        # set: RCPT waits until cleared
        self.stalled = threading.Event()      # set once a transaction is waiting
        self.refuse_code: int | None = None   # e.g. 550: refuse every recipient
        self._controller: Controller | None = None
        self._lock = threading.Lock()

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_code:
            return f"{self.refuse_code} mailbox unavailable"
        while self.stall.is_set():
            self.stalled.set()
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:  # parsed when read: the benchmark sends thousands
            self.raw.append(envelope.content)
        return "250 Message accepted for delivery"

    def start(self) -> SmtpServer:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self.stall.clear()
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def count(self) -> int:
        with self._lock:
            return len(self.raw)

    def received(self) -> list[EmailMessage]:
        with self._lock:
            raw = list(self.raw)
        return [message_from_bytes(content, policy=default_policy) for content in raw]

    def for_delivery(self, delivery_id: int) -> list[EmailMessage]:
        marker = f"X-Sinergi-Delivery: {delivery_id}\r\n".encode()
        with self._lock:
            raw = [content for content in self.raw if marker in content]
        return [message_from_bytes(content, policy=default_policy) for content in raw]


class WebhookReceiver:
    """An SMS-gateway stand-in: verifies ``X-Sinergi-Signature`` and the timestamp, records the JSON."""

    def __init__(self, secret: str, port: int | None = None) -> None:
        self.secret = secret
        self.port = port or free_port()
        self.calls: list[dict] = []
        self.rejected: list[str] = []
        self.status = 200
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = verify(receiver.secret, body, self.headers.get(SIGNATURE_HEADER, ""),
                            self.headers.get(TIMESTAMP_HEADER, ""))
                status = receiver.status if ok else 401
                with receiver._lock:
                    if not ok:
                        receiver.rejected.append(body.decode(errors="replace"))
                    elif status < 300:
                        receiver.calls.append({"body": json.loads(body), "delivery": self.headers.get(DELIVERY_HEADER),
                                               "content_type": self.headers.get("Content-Type")})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    def start(self) -> WebhookReceiver:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[dict]:
        with self._lock:
            return list(self.calls)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    """Poll *predicate* until it returns something truthy; fail with *message* after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
