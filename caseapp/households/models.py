"""Households and their members.

Field classification (DESIGN.md §1): every column that is not ``general`` carries
``info={"section": ...}`` so policies and exports can filter by section from one place.
NIK and KK are never stored in clear: ciphertext + blind index + masked form.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, event, inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from caseapp.core.models import Base, TimestampMixin, str_enum, utcnow
from caseapp.core.types import Ciphertext


class Section(StrEnum):
    """Data sections; ``specific`` ones are sensitive personal data under UU PDP."""

    GENERAL = "general"
    HEALTH = "health"
    DISABILITY = "disability"
    CHILDREN = "children"
    FINANCE = "finance"
    HOUSING = "housing"


def section(name: Section) -> dict:
    return {"section": name}


class HouseholdStatus(StrEnum):
    ACTIVE = "active"
    MOVED_OUT = "moved_out"
    DISSOLVED = "dissolved"
    ANONYMISED = "anonymised"


class Sex(StrEnum):
    MALE = "L"
    FEMALE = "P"


class Relation(StrEnum):
    """Relation to the head of the family (KK's *status hubungan dalam keluarga*)."""

    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    CHILD_IN_LAW = "child_in_law"
    GRANDCHILD = "grandchild"
    PARENT = "parent"
    PARENT_IN_LAW = "parent_in_law"
    OTHER_RELATIVE = "other_relative"
    HOUSEHOLD_HELP = "household_help"
    OTHER = "other"


class Household(TimestampMixin, Base):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Current KK. Never the key: a KK changes when the family moves, splits or the head dies.
    kk_ciphertext: Mapped[bytes | None] = mapped_column(Ciphertext)
    kk_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    kk_masked: Mapped[str | None] = mapped_column(String(16))
    kelurahan_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    rw: Mapped[int | None]
    rt: Mapped[int | None]
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    # Desil is read-only input from BPS (DTSEN): the city cannot set it, only record a release.
    desil: Mapped[int | None] = mapped_column(index=True)
    desil_release: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[HouseholdStatus] = mapped_column(
        str_enum(HouseholdStatus, 16), default=HouseholdStatus.ACTIVE
    )
    version: Mapped[int] = mapped_column(default=1)

    members: Mapped[list[Person]] = relationship(
        back_populates="household", order_by="Person.id", cascade="all, delete-orphan"
    )
    kk_history: Mapped[list[HouseholdKK]] = relationship(
        order_by="HouseholdKK.valid_from", cascade="all, delete-orphan"
    )
    desil_history: Mapped[list[DesilRecord]] = relationship(
        order_by="DesilRecord.recorded_at", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("desil IS NULL OR (desil BETWEEN 1 AND 10)", name="desil_range"),
        # Name search (0005d): a worker's kelurahan's household ids from the index alone.
        Index("ix_households_kelurahan_id", "kelurahan_code", "id"),
    )

    @property
    def head(self) -> Person | None:
        return next((m for m in self.members if m.relation == Relation.HEAD), None)


class HouseholdKK(Base):
    """One KK number a household held, with its validity period."""

    __tablename__ = "household_kk_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    kk_ciphertext: Mapped[bytes] = mapped_column(Ciphertext)
    kk_hash: Mapped[str] = mapped_column(String(64), index=True)
    kk_masked: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    reason: Mapped[str | None] = mapped_column(String(64))


class DesilRecord(Base):
    """A desil as published in one DTSEN release (history kept, never edited)."""

    __tablename__ = "household_desil_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    desil: Mapped[int]
    release: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(TimestampMixin, Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # Always the household's kelurahan (migration 0005d): lets the name search apply the user's area
    # inside its index. The ORM events below keep it equal; set-based writers set it themselves.
    kelurahan_code: Mapped[str] = mapped_column(String(13))
    nik_ciphertext: Mapped[bytes | None] = mapped_column(Ciphertext)
    # Unique: one person, one NIK, one row in the register (NULLs allowed: missing documents).
    nik_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    nik_masked: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[Sex] = mapped_column(str_enum(Sex, 1))
    birth_date: Mapped[date | None]
    relation: Mapped[Relation] = mapped_column(str_enum(Relation, 24))
    marital_status: Mapped[str | None] = mapped_column(String(16))
    # Code lists change between survey years: the version travels with the answers.
    codelist_version: Mapped[str | None] = mapped_column(String(16))
    school_participation: Mapped[str | None] = mapped_column(String(24), info=section(Section.CHILDREN))
    education_level: Mapped[str | None] = mapped_column(String(24))
    work_status: Mapped[str | None] = mapped_column(String(24), info=section(Section.FINANCE))
    work_sector: Mapped[str | None] = mapped_column(String(32), info=section(Section.FINANCE))
    monthly_income: Mapped[int | None] = mapped_column(info=section(Section.FINANCE))
    disability_types: Mapped[list | None] = mapped_column(info=section(Section.DISABILITY))
    chronic_illness: Mapped[bool | None] = mapped_column(info=section(Section.HEALTH))
    pregnant: Mapped[bool | None] = mapped_column(info=section(Section.HEALTH))
    health_note: Mapped[bytes | None] = mapped_column(Ciphertext, info=section(Section.HEALTH))
    active: Mapped[bool] = mapped_column(default=True)

    household: Mapped[Household] = relationship(back_populates="members")

    __table_args__ = (
        Index("ix_persons_name", "name"),
        Index("ix_persons_household_relation", "household_id", "relation"),
        # Typo-tolerant name search within an area: a GIN index of kelurahan (btree_gin) and name
        # trigrams on PostgreSQL (migration 0005d), plain on SQLite. Serves the name alone too.
        Index("ix_persons_kelurahan_name_trgm", "kelurahan_code", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
    )


# --- persons.kelurahan_code follows the household, whatever ORM write moves either ---------------

def _kelurahan_of_household(connection: Connection, person: Person) -> str | None:
    household = person.__dict__.get("household")
    if household is not None and household.kelurahan_code is not None:
        return household.kelurahan_code
    return connection.scalar(select(Household.kelurahan_code).where(Household.id == person.household_id))


@event.listens_for(Person, "before_insert")
def _person_kelurahan_on_insert(_mapper: Mapper, connection: Connection, person: Person) -> None:
    person.kelurahan_code = _kelurahan_of_household(connection, person)


@event.listens_for(Person, "before_update")
def _person_kelurahan_on_move(_mapper: Mapper, connection: Connection, person: Person) -> None:
    state = inspect(person)
    if state.attrs.household_id.history.has_changes() or state.attrs.household.history.has_changes():
        person.kelurahan_code = _kelurahan_of_household(connection, person)


@event.listens_for(Household, "after_update")
def _household_kelurahan_moved(_mapper: Mapper, connection: Connection, household: Household) -> None:
    if inspect(household).attrs.kelurahan_code.history.has_changes():
        connection.execute(update(Person.__table__).where(Person.__table__.c.household_id == household.id)
                           .values(kelurahan_code=household.kelurahan_code))


class HousingSurvey(Base):
    """A dated snapshot of the house (RTLH criteria, DOMAIN.md §6); never updated, only added."""

    __tablename__ = "housing_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    surveyed_on: Mapped[date]
    surveyor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    codelist_version: Mapped[str | None] = mapped_column(String(16))
    tenure: Mapped[str | None] = mapped_column(String(24))
    floor_area_m2: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    occupants: Mapped[int | None]
    roof_material: Mapped[str | None] = mapped_column(String(24))
    roof_condition: Mapped[str | None] = mapped_column(String(16))
    wall_material: Mapped[str | None] = mapped_column(String(24))
    wall_condition: Mapped[str | None] = mapped_column(String(16))
    floor_material: Mapped[str | None] = mapped_column(String(24))
    floor_condition: Mapped[str | None] = mapped_column(String(16))
    toilet: Mapped[str | None] = mapped_column(String(24))
    sewage: Mapped[str | None] = mapped_column(String(24))
    water_source: Mapped[str | None] = mapped_column(String(24))
    lighting: Mapped[str | None] = mapped_column(String(24))
    power_va: Mapped[int | None]
    cooking_fuel: Mapped[str | None] = mapped_column(String(24))
    land_proof: Mapped[str | None] = mapped_column(String(24))
    assets: Mapped[list | None] = mapped_column(info=section(Section.FINANCE))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(TimestampMixin, Base):
    """A household-list import (DTSEN style) with its progress and error report."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus, 16), default=ImportStatus.QUEUED)
    dry_run: Mapped[bool] = mapped_column(default=False)
    skip_invalid: Mapped[bool] = mapped_column(default=False)
    total_rows: Mapped[int | None]
    processed_rows: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict | None]
    error_report: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
