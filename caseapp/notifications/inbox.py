"""The recipient's side of in-app notifications: reading them (writes flush, never commit)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from caseapp.auth.models import User
from caseapp.core.models import utcnow
from caseapp.notifications.models import DeliveryStatus, Notification
from caseapp.notifications.queries import get_own_notification


def mark_read(session: Session, user: User, notification_id: int) -> bool:
    """Mark one of *user*'s notifications read; False when it is not theirs (or not there)."""
    notification = get_own_notification(session, user, notification_id)
    if notification is None:
        return False
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.flush()
    return True


def mark_all_read(session: Session, user: User) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.recipient_id == user.id, Notification.status == DeliveryStatus.SENT,
               Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount
