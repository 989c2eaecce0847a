"""Audit trail (who changed what) and access log (who read or exported personal data).

Both are append-only: on PostgreSQL a trigger refuses UPDATE and DELETE on them, and every audit
event carries the hash of its content and of the event before it, so ``flask audit verify`` finds
a row changed or removed behind the application's back. Rows never hold a full NIK, a password or
a token: callers pass masked values only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NoReturn

from flask import abort, current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import ForeignKey, Index, String, Text, event, insert, select, text
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
    # Hash chain: row_hash = SHA-256(prev_hash + canonical content); see chain_hash().
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))

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


CHAIN_FIELDS = ("occurred_at", "actor_id", "action", "object_type", "object_id", "case_id", "before", "after",
                "comment", "ip_address", "endpoint", "request_id")
GENESIS = "0" * 64
# One advisory-lock key for the audit chain: writers take turns, so the chain never forks.
CHAIN_LOCK_KEY = 0x5EC0A0D17
_LAST_HASH = "audit_last_hash"


def chain_hash(prev_hash: str, values: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON."""
    def normal(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return value

    body = json.dumps({k: normal(values.get(k)) for k in CHAIN_FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _last_hash(session: Session) -> str:
    """The hash the next event chains from, read once per transaction under the chain lock."""
    cached = session.info.get(_LAST_HASH)
    if cached is not None:
        return cached
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    last = session.scalar(select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1))
    return last or GENESIS


def _forget_last_hash(session: Session, *_args: Any) -> None:
    session.info.pop(_LAST_HASH, None)


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
    values = {
        "occurred_at": utcnow(), "actor_id": actor_id, "action": action, "object_type": object_type,
        "object_id": object_id, "case_id": case_id, "before": before, "after": after, "comment": comment,
        **_request_fields(),
    }
    prev = _last_hash(session)
    row_hash = chain_hash(prev, values)
    audit_event = AuditEvent(**values, prev_hash=prev, row_hash=row_hash)
    session.add(audit_event)
    # Flush now so ids follow chain order even when several events are added in one transaction.
    session.flush()
    session.info[_LAST_HASH] = row_hash
    return audit_event


def record_audit_events(session: Session, events: list[dict[str, Any]]) -> int:
    """Append many audit events in one statement (a handover of thousands of cases), still chained.

    Each dict holds the keyword arguments of :func:`record_audit_event`. The hashes are computed
    here in order and the rows inserted with one executemany, so ids follow chain order.
    """
    if not events:
        return 0
    prev = _last_hash(session)
    common = {"occurred_at": utcnow(), **_request_fields()}
    rows = []
    for event_values in events:
        values = dict.fromkeys(CHAIN_FIELDS) | common | event_values
        row_hash = chain_hash(prev, values)
        rows.append({**values, "prev_hash": prev, "row_hash": row_hash})
        prev = row_hash
    session.flush()
    session.execute(insert(AuditEvent), rows)
    session.info[_LAST_HASH] = prev
    return len(rows)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_bad_id: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the audit trail in id order and recompute every hash; report the first break."""
    prev, checked = GENESIS, 0
    stmt = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    rows = session.scalars(stmt)
    try:
        for row in rows:
            values = {name: getattr(row, name) for name in CHAIN_FIELDS}
            if row.prev_hash != prev:
                return ChainReport(checked, row.id, "prev_hash does not match the previous event (a row was "
                                                    "removed or inserted out of order)")
            if row.row_hash != chain_hash(prev, values):
                return ChainReport(checked, row.id, "content changed after it was written")
            prev, checked = row.row_hash, checked + 1
    finally:
        rows.close()
    return ChainReport(checked, None, None)


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
    if not event.contains(Session, "after_commit", _forget_last_hash):
        event.listen(Session, "after_commit", _forget_last_hash)
        event.listen(Session, "after_rollback", _forget_last_hash)


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
