"""Cases, steps, interventions, attachments and notes (DESIGN.md §2–3).

``Case.version`` is the optimistic lock: every action carries the version it was shown and the
update is conditional on it. ``kelurahan_code``/``kecamatan_code`` are copied from the household when
the case opens so scope filters and lists run on one indexed table.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.agencies.models import Agency, Programme
from caseapp.auth.models import User
from caseapp.core.models import Base, TimestampMixin, str_enum, utcnow
from caseapp.core.types import Ciphertext
from caseapp.households.models import Household, Person


class Stage(StrEnum):
    REFERRAL = "referral"
    VERIFICATION = "verification"
    INTERVENTION = "intervention"
    EVALUATION = "evaluation"
    CLOSED = "closed"


class CaseStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    PLANNING = "planning"
    PLAN_SUBMITTED = "plan_submitted"
    ACTIVE = "active"
    CLOSED = "closed"


class StepStatus(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    DONE = "done"
    CANCELLED = "cancelled"


class InterventionStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Case(TimestampMixin, Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage, 16))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus, 16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kelurahan_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    kecamatan_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    source_code: Mapped[str | None] = mapped_column(ForeignKey("referral_sources.code"))
    referral_reason: Mapped[str | None] = mapped_column(Text)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    referred_by_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    # Planning rounds: an evaluation outcome "continue" opens round n+1; history stays.
    round: Mapped[int] = mapped_column(default=1)
    version: Mapped[int] = mapped_column(default=1)
    # Due date of the current step, kept here so lists sort and filter by it without a join.
    due_at: Mapped[datetime | None]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closure_reason: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))
    retention_until: Mapped[date | None]

    household: Mapped[Household] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    steps: Mapped[list[Step]] = relationship(back_populates="case", order_by="Step.id")
    interventions: Mapped[list[Intervention]] = relationship(
        back_populates="case", order_by="Intervention.id"
    )

    __table_args__ = (
        Index("ix_cases_stage_status_due", "stage", "status", "due_at"),
        Index("ix_cases_owner_stage", "owner_id", "stage", "due_at"),
        # Household name search (0005d): the households of a worker's cases from the index alone.
        Index("ix_cases_owner_household", "owner_id", "household_id"),
        Index("ix_cases_kelurahan_stage", "kelurahan_code", "stage", "status"),
        Index("ix_cases_kecamatan_stage", "kecamatan_code", "stage", "due_at"),
        Index("ix_cases_due_at", "due_at"),
        Index("ix_cases_stage_due_id", "stage", "due_at", "id"),
        Index("ix_cases_owner_status_due", "owner_id", "status", "due_at", "id"),
    )


OPEN = text("status = 'open'")


class Step(Base):
    """One unit of work in a stage: who must do it, by when, and how it was decided."""

    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage, 16))
    kind: Mapped[str] = mapped_column(String(32))
    round: Mapped[int] = mapped_column(default=1)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[StepStatus] = mapped_column(str_enum(StepStatus, 16), default=StepStatus.OPEN)
    due_at: Mapped[datetime | None]
    data: Mapped[dict | None]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    # The case's scope columns, copied onto each of its steps (kept equal by
    # ``cases.operations.scope_sync.sync_step_scope`` wherever a case's owner or stage changes), so
    # work lists choose a page of open steps on one table in due order instead of checking each
    # step's case (docs/performance.md).
    case_owner_id: Mapped[int | None]  # a copy, not a reference: no foreign key to check on every write
    case_stage: Mapped[Stage | None] = mapped_column(str_enum(Stage, 16))
    case_kelurahan_code: Mapped[str | None] = mapped_column(String(13))
    case_kecamatan_code: Mapped[str | None] = mapped_column(String(13))

    case: Mapped[Case] = relationship(back_populates="steps")

    __table_args__ = (
        Index("ix_steps_assignee_status_due", "assignee_id", "status", "due_at"),
        Index("ix_steps_agency_status_due", "agency_id", "status", "due_at"),
        Index("ix_steps_status_due", "status", "due_at"),
        Index("ix_steps_kind_status_due", "kind", "status", "due_at"),
        # Open steps in due order: a user's own (scope read from the index itself), and per arm of a
        # scope for one kind of step (triage, approval); each read in order, stopping at the page.
        Index("ix_steps_open_assignee", "assignee_id", "due_at", "id", postgresql_where=OPEN, sqlite_where=OPEN,
              postgresql_include=["case_owner_id", "case_stage", "case_kelurahan_code", "case_kecamatan_code"]),
        Index("ix_steps_open_owner", "case_owner_id", "kind", "due_at", "id", postgresql_where=OPEN,
              sqlite_where=OPEN),
        Index("ix_steps_open_kelurahan", "case_kelurahan_code", "kind", "due_at", "id", postgresql_where=OPEN,
              sqlite_where=OPEN, postgresql_include=["case_stage"]),
        Index("ix_steps_open_kecamatan", "case_kecamatan_code", "kind", "due_at", "id", postgresql_where=OPEN,
              sqlite_where=OPEN, postgresql_include=["case_stage", "submitted_by_id"]),
    )


class Intervention(TimestampMixin, Base):
    __tablename__ = "interventions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    target_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[InterventionStatus] = mapped_column(
        str_enum(InterventionStatus, 16), default=InterventionStatus.PENDING
    )
    due_at: Mapped[datetime | None]
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    note: Mapped[str | None] = mapped_column(Text)
    # {milestone code: ISO timestamp when ticked}
    milestones: Mapped[dict] = mapped_column(default=dict)
    delivered_on: Mapped[date | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(default=1)

    case: Mapped[Case] = relationship(back_populates="interventions")
    programme: Mapped[Programme] = relationship()
    agency: Mapped[Agency] = relationship()
    target_person: Mapped[Person | None] = relationship()

    __table_args__ = (
        Index("ix_interventions_agency_status_due", "agency_id", "status", "due_at"),
        UniqueConstraint("case_id", "round", "programme_id", "target_person_id", name="uq_intervention_target"),
    )


class Attachment(Base):
    """Metadata of an uploaded file; the bytes live outside static under a generated name."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    intervention_id: Mapped[int | None] = mapped_column(ForeignKey("interventions.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    original_name: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    section: Mapped[str] = mapped_column(String(16), default="general")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    """A free-text note on a case; the body is encrypted (it may hold health details)."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    section: Mapped[str] = mapped_column(String(16), default="general")
    body: Mapped[bytes] = mapped_column(Ciphertext)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaSetting(Base):
    """Overrides of the default due dates (days) per step kind; reminder and escalation offsets."""

    __tablename__ = "sla_settings"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    days: Mapped[int]
    remind_days_before: Mapped[int] = mapped_column(default=2)
    escalate_days_after: Mapped[int] = mapped_column(default=3)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CaseNumberCounter(Base):
    """Last case number issued per year (``KDR-2026-000123``); incremented with an upsert."""

    __tablename__ = "case_number_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class CaseTally(Base):
    """How many cases each (kelurahan, owner, stage) holds, kept with every write that opens a case
    or changes its owner or stage (``cases.operations.scope_sync``). The caseload's stage tabs and
    page count add up a few of these rows instead of counting a million cases (docs/performance.md).
    ``owner_id`` 0: no owner yet."""

    __tablename__ = "case_tallies"

    kelurahan_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    owner_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage, 16), primary_key=True)
    kecamatan_code: Mapped[str] = mapped_column(String(13), index=True)
    n: Mapped[int] = mapped_column(default=0)


class HandoverStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class HandoverJob(Base):
    """A supervisor's request to move a social worker's open cases to another; progress and summary."""

    __tablename__ = "handover_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Which of the worker's open cases: {"stage": ..., "kelurahan_code": ..., "overdue": bool}.
    filters: Mapped[dict] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    status: Mapped[HandoverStatus] = mapped_column(str_enum(HandoverStatus, 16), default=HandoverStatus.QUEUED)
    total: Mapped[int] = mapped_column(default=0)
    moved: Mapped[int] = mapped_column(default=0)
    # Cases that matched when counted but had changed hands or closed by the time their batch ran.
    skipped: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id])
    to_user: Mapped[User] = relationship(foreign_keys=[to_user_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
