"""Per-user channel preferences: which kinds go by e-mail and by SMS/WhatsApp (in-app is always on).

Only explicit choices are stored; everything else follows :data:`DEFAULTS`, so a new kind or a
changed default reaches users who never opened the settings page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from caseapp.auth.models import User
from caseapp.notifications.models import Channel, Kind, NotificationPreference

# The channels a user chooses for; in-app is not optional.
CHOOSABLE = (Channel.EMAIL, Channel.WEBHOOK)

DEFAULTS: dict[Channel, frozenset[str]] = {
    Channel.EMAIL: frozenset(Kind),
    # SMS costs money and interrupts: only what is already late, by default.
    Channel.WEBHOOK: frozenset({Kind.OVERDUE, Kind.ESCALATION}),
}

Choices = dict[tuple[int, str, Channel], bool]


def channel_configured(channel: Channel, config: Mapping | None = None) -> bool:
    """E-mail needs ``SMTP_HOST``; the webhook needs ``SMS_WEBHOOK_URL`` and its signing secret."""
    config = config if config is not None else current_app.config
    if channel == Channel.IN_APP:
        return True
    if channel == Channel.EMAIL:
        return bool(config.get("SMTP_HOST"))
    if channel == Channel.WEBHOOK:
        return bool(config.get("SMS_WEBHOOK_URL") and config.get("SMS_WEBHOOK_SECRET"))
    return False


def load_choices(session: Session, user_ids: Iterable[int]) -> Choices:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(select(NotificationPreference.user_id, NotificationPreference.kind,
                                  NotificationPreference.channel, NotificationPreference.enabled)
                           .where(NotificationPreference.user_id.in_(ids)))
    return {(uid, kind, Channel(channel)): enabled for uid, kind, channel, enabled in rows}


def wants(choices: Choices, user_id: int, kind: str, channel: Channel) -> bool:
    if channel == Channel.IN_APP:
        return True
    return choices.get((user_id, kind, channel), kind in DEFAULTS[channel])


def can_receive(user: User | object, channel: Channel) -> bool:
    """A channel needs an address: e-mail for e-mail, a phone number for SMS/WhatsApp."""
    if channel == Channel.EMAIL:
        return bool(getattr(user, "email", None))
    if channel == Channel.WEBHOOK:
        return bool(getattr(user, "phone", None))
    return True


def preferences_for(session: Session, user: User) -> dict[str, dict[Channel, bool]]:
    """``{kind: {channel: enabled}}`` for every kind, defaults filled in."""
    choices = load_choices(session, [user.id])
    return {kind.value: {channel: wants(choices, user.id, kind.value, channel) for channel in CHOOSABLE}
            for kind in Kind}


def set_preferences(session: Session, user: User, enabled: Mapping[str, Iterable[Channel]]) -> None:
    """Store the user's choice for every kind: *enabled* maps a kind to the channels it goes to.

    Kinds or channels that are not known are ignored (positive validation happens in the form).
    """
    session.execute(delete(NotificationPreference).where(NotificationPreference.user_id == user.id))
    for kind in Kind:
        chosen = set(enabled.get(kind.value, ()))
        for channel in CHOOSABLE:
            session.add(NotificationPreference(user_id=user.id, kind=kind.value, channel=channel,
                                               enabled=channel in chosen))
    session.flush()
