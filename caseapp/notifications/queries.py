"""Reading notifications: the caller's own, and the failed deliveries admins look after."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from caseapp.auth.models import User
from caseapp.cases.models import Case
from caseapp.notifications.models import DeliveryStatus, Notification, NotificationDelivery


def visible_notifications(user: User) -> Select:
    """The user's delivered in-app notifications, newest first."""
    return (select(Notification)
            .where(Notification.recipient_id == user.id, Notification.status == DeliveryStatus.SENT)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count(Notification.id)).where(
        Notification.recipient_id == user_id, Notification.status == DeliveryStatus.SENT,
        Notification.read_at.is_(None))) or 0


def get_own_notification(session: Session, user: User, notification_id: int) -> Notification | None:
    """One of the user's own notifications (whatever its delivery state), or None: never anyone else's."""
    return session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.recipient_id == user.id))


def failed_deliveries() -> Select:
    """Failed e-mail/webhook deliveries with their recipient and case, most recent first."""
    return (select(NotificationDelivery, Notification, User.email, Case.number)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .join(User, User.id == Notification.recipient_id)
            .outerjoin(Case, Case.id == Notification.case_id)
            .where(NotificationDelivery.status == DeliveryStatus.FAILED)
            .order_by(NotificationDelivery.id.desc()))


def failed_delivery_count(session: Session) -> int:
    return session.scalar(select(func.count(NotificationDelivery.id)).where(
        NotificationDelivery.status == DeliveryStatus.FAILED)) or 0
