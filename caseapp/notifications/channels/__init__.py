"""Transports for the external channels: SMTP e-mail and the SMS/WhatsApp gateway webhook.

Each sender keeps one connection for a batch and raises :class:`DeliveryError` saying whether the
failure is permanent (retrying cannot help) and whether the rest of the batch should wait (the
server is down, so every other row would fail the same way).
"""

from __future__ import annotations

from dataclasses import dataclass


class DeliveryError(Exception):
    """A delivery attempt failed; ``permanent`` → give up now, ``breaks_batch`` → stop this batch."""

    def __init__(self, message: str, *, permanent: bool = False, breaks_batch: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.breaks_batch = breaks_batch


@dataclass(frozen=True)
class Job:
    """Everything a sender needs about one claimed delivery, loaded once (no lazy loads)."""

    delivery_id: int
    notification_id: int
    kind: str
    payload: dict
    link: str | None
    email: str
    phone: str | None
    locale: str
    full_name: str
