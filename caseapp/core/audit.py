"""Audit trail (who changed what) and access log (who read or exported personal data).

Both tables are append-only by convention here; issue #7 adds database-level enforcement and a
hash chain. Rows never hold a full NIK, a password or a token: callers pass masked values only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NoReturn

from flask import abort, current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from caseapp.core.models import Base, str_enum, utcnow


class AccessKind(StrEnum):
    REVEAL = "reveal"          # a masked NIK/KK shown in full
    EXPORT = "export"
    READ_SENSITIVE = "read_sensitive"
    DENIED = "denied"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    before: Mapped[dict | None]
    after: Mapped[dict | None]
    comment: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    endpoint: Mapped[str | None] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)


class AccessLog(Base):
    __tablename__ = "access_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[AccessKind] = mapped_column(str_enum(AccessKind))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[int | None]
    detail: Mapped[dict | None]
    row_count: Mapped[int | None]
    ip_address: Mapped[str | None] = mapped_column(String(45))
    endpoint: Mapped[str | None] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (Index("ix_access_logs_object", "object_type", "object_id"),)


def _request_fields() -> dict[str, Any]:
    if not has_request_context():
        return {}
    return {
        "ip_address": request.remote_addr,
        "endpoint": request.endpoint,
        "request_id": g.get("request_id"),
    }


def record_audit_event(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | None = None,
    case_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    comment: str | None = None,
) -> AuditEvent:
    """Add an audit event to *session* (flushed with the change it describes, never committed here)."""
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        before=before,
        after=after,
        comment=comment,
        **_request_fields(),
    )
    session.add(event)
    return event


def deny_out_of_scope(object_type: str, object_id: int | None) -> NoReturn:
    """Answer 404 for an object outside the user's scope, and log the denied access.

    The log row is written after the request's own work is rolled back (see ``init_audit``), so a
    denial is recorded even though the request fails, and nothing else the request did is kept.
    """
    if has_request_context():
        g.setdefault("denied_access", []).append({"object_type": object_type, "object_id": object_id,
                                                  "endpoint": request.endpoint, "method": request.method})
    abort(404)


def _write_deferred_denials(response):
    denials = g.pop("denied_access", None)
    if not denials:
        return response
    session = current_app.extensions["sqlalchemy"].session
    user_id = getattr(current_user, "id", None) if current_user and current_user.is_authenticated else None
    session.rollback()
    for denial in denials:
        record_access(session, user_id=user_id, kind=AccessKind.DENIED, object_type=denial["object_type"],
                      object_id=denial["object_id"],
                      detail={"endpoint": denial["endpoint"], "method": denial["method"], "reason": "out_of_scope"})
    session.commit()
    return response


def init_audit(app) -> None:
    app.after_request(_write_deferred_denials)


def record_access(
    session: Session,
    *,
    user_id: int | None,
    kind: AccessKind,
    object_type: str | None = None,
    object_id: int | None = None,
    detail: dict | None = None,
    row_count: int | None = None,
) -> AccessLog:
    """Add an access-log row (reads of sensitive data, exports, reveals, denials, logins)."""
    entry = AccessLog(
        user_id=user_id,
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        row_count=row_count,
        **_request_fields(),
    )
    session.add(entry)
    return entry
