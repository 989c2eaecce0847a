"""The notification outbox (DESIGN.md §4, 'Notifications never lost').

A :class:`Notification` is one message for one recipient, written in the same transaction as the
action that causes it; it is also the in-app notification, visible in the notification centre once
delivered (``status == sent``). Each external channel the recipient wants (e-mail, SMS/WhatsApp
webhook) gets a :class:`NotificationDelivery` row with its own status, attempts and error, so a
failed e-mail never hides or repeats the in-app message.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.auth.models import User
from caseapp.core.models import Base, str_enum, utcnow


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"    # waiting for a worker (or for its next attempt)
    SENDING = "sending"    # claimed by a worker; reclaimable once the claim's lease has expired
    SENT = "sent"
    FAILED = "failed"      # gave up after the configured attempts; an admin may retry it


class Kind(StrEnum):
    """What a notification is about (DESIGN.md §2 events, SLA reminders, the daily digest)."""

    NEW_REFERRAL = "new_referral"
    ASSIGNED = "assigned"
    REFERRAL_ACCEPTED = "referral_accepted"
    REFERRAL_REJECTED = "referral_rejected"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    RETURNED = "returned"
    NEW_IN_QUEUE = "new_in_queue"
    EVALUATION_DUE = "evaluation_due"
    CLOSED = "closed"
    DUE_SOON = "due_soon"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    DIGEST = "digest"


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Always ``in_app`` here: the other channels are NotificationDelivery rows.
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 16))
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # What to say, as data: rendered per recipient locale at delivery time (never a full NIK,
    # never free text that may hold health details).
    payload: Mapped[dict] = mapped_column(default=dict)
    link: Mapped[str | None] = mapped_column(String(300))
    # Makes periodic scans idempotent: e.g. "due_soon:step:42:2026-11-28:u7".
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, 16), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # Last time the relay re-published this row (None: only the after-commit publish).
    published_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    recipient: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_notifications_recipient_created", "recipient_id", "created_at"),
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
    )


class NotificationDelivery(Base):
    """One external delivery (e-mail or webhook) of a notification, with its own retries."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 16))
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, 16), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    # When a worker claimed it (status ``sending``); the claim is a lease, see NOTIFY_CLAIM_LEASE.
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    notification: Mapped[Notification] = relationship()

    __table_args__ = (
        UniqueConstraint("notification_id", "channel", name="uq_notification_deliveries_notification_channel"),
        Index("ix_notification_deliveries_status_next", "status", "next_attempt_at"),
    )


class NotificationPreference(Base):
    """A user's explicit choice for one kind on one channel; absent rows fall back to the defaults."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 16), primary_key=True)
    enabled: Mapped[bool]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
