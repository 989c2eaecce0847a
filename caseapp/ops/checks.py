"""The checks behind ``/readyz``, ``/metrics`` and ``flask doctor``: small, bounded queries only."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import redis
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import func, or_, select, text

from caseapp.cases.models import Step, StepStatus
from caseapp.extensions import db
from caseapp.households.models import ImportJob, ImportStatus
from caseapp.notifications.models import DeliveryStatus, Notification, NotificationDelivery


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _failure(exc: Exception) -> str:
    # The exception class only: messages can carry host names, user names or SQL.
    return type(exc).__name__


def check_database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        db.session.rollback()
        return {"ok": False, "dialect": db.engine.dialect.name, "error": _failure(exc)}
    return {"ok": True, "dialect": db.engine.dialect.name}


@lru_cache(maxsize=8)
def migration_head(directory: str) -> str | None:
    """The head revision of the migration scripts (read once per directory, then cached)."""
    config = AlembicConfig()
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config).get_current_head()


def check_migrations() -> dict:
    head = migration_head(current_app.extensions["migrate"].directory)
    try:
        # Read the version table directly: MigrationContext would log two INFO lines per probe.
        current = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        db.session.rollback()
        return {"ok": False, "current": None, "head": head, "error": _failure(exc)}
    return {"ok": current == head, "current": current, "head": head}


def check_redis(url: str, timeout: float = 1.0) -> dict:
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return {"ok": False, "error": _failure(exc)}
    finally:
        client.close()
    return {"ok": True}


def outbox_state(now: datetime | None = None) -> tuple[int, float]:
    """Pending outbox rows (notifications and external deliveries) and how long the oldest due one
    has waited, in seconds: since it was written, or since its retry became due (0 when none)."""
    now = now or utcnow()
    pending = 0
    oldest: datetime | None = None
    for model in (Notification, NotificationDelivery):
        pending += db.session.scalar(
            select(func.count()).select_from(model).where(model.status == DeliveryStatus.PENDING)
        ) or 0
        first = db.session.scalar(
            select(func.min(func.coalesce(model.next_attempt_at, model.created_at))).where(
                model.status == DeliveryStatus.PENDING,
                or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
            )
        )
        first = _aware(first) if isinstance(first, datetime) else _parse(first)
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return pending, round(age, 3)


def _parse(value) -> datetime | None:
    if not value:
        return None
    return _aware(datetime.fromisoformat(str(value)))


def check_outbox() -> dict:
    try:
        pending, age = outbox_state()
    except Exception as exc:
        db.session.rollback()
        return {"ok": False, "error": _failure(exc)}
    limit = float(current_app.config.get("READYZ_OUTBOX_MAX_AGE", 600))
    return {"ok": age < limit, "pending": pending, "oldest_age_seconds": age, "max_age_seconds": limit}


def failed_counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(
            select(func.count()).select_from(model).where(model.status == DeliveryStatus.FAILED)
        ) or 0
        for model in (Notification, NotificationDelivery)
    }


def overdue_steps_by_agency(now: datetime | None = None) -> dict[str, int]:
    rows = db.session.execute(
        select(Step.agency_id, func.count())
        .where(Step.status.in_((StepStatus.OPEN, StepStatus.SUBMITTED)), Step.due_at < (now or utcnow()))
        .group_by(Step.agency_id)
    )
    return {("none" if agency is None else str(agency)): count for agency, count in rows}


def import_jobs_running() -> int:
    return db.session.scalar(
        select(func.count()).select_from(ImportJob).where(ImportJob.status == ImportStatus.RUNNING)
    ) or 0


def readiness() -> tuple[bool, dict]:
    checks: dict[str, dict] = {"database": check_database()}
    if checks["database"]["ok"]:
        checks["migrations"] = check_migrations()
        checks["outbox"] = check_outbox()
    else:
        head = migration_head(current_app.extensions["migrate"].directory)
        checks["migrations"] = {"ok": False, "current": None, "head": head, "error": "database unavailable"}
        checks["outbox"] = {"ok": False, "error": "database unavailable"}
    if current_app.config.get("REDIS_URL"):
        checks["redis"] = check_redis(current_app.config["REDIS_URL"])
    return all(check["ok"] for check in checks.values()), checks
