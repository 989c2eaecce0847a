"""Reference data: Kemendagri regions, agencies (OPD and kelurahan desks), programmes, referral sources."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.core.models import Base, TimestampMixin, str_enum, utcnow


class RegionLevel(StrEnum):
    PROVINSI = "provinsi"
    KOTA = "kota"
    KECAMATAN = "kecamatan"
    KELURAHAN = "kelurahan"


class AgencyKind(StrEnum):
    PLANNING = "planning"
    SOCIAL = "social"
    HEALTH = "health"
    HOUSING = "housing"
    EDUCATION = "education"
    ECONOMY = "economy"
    CIVIL_REGISTRY = "civil_registry"
    KELURAHAN = "kelurahan"


class Strategy(StrEnum):
    """The three strategies of Inpres 4/2022; every intervention carries one."""

    REDUCE_BURDEN = "reduce_burden"
    RAISE_INCOME = "raise_income"
    REDUCE_POCKETS = "reduce_pockets"


class ProgrammeTarget(StrEnum):
    HOUSEHOLD = "household"
    PERSON = "person"


class BudgetTag(StrEnum):
    """PMK 97/2023 tagging of extreme-poverty spending."""

    DIRECT = "direct"
    INDIRECT = "indirect"
    SUPPORTING = "supporting"


class Region(Base):
    """A Kemendagri region; the code (``35.71.01.1001``) is the key because it is national and stable."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[RegionLevel] = mapped_column(str_enum(RegionLevel, 16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)

    parent: Mapped[Region | None] = relationship(remote_side=[code])


class Agency(TimestampMixin, Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[AgencyKind] = mapped_column(str_enum(AgencyKind, 24), index=True)
    # Kelurahan desks belong to one kelurahan; city agencies serve the whole city.
    kelurahan_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    active: Mapped[bool] = mapped_column(default=True)


class Programme(TimestampMixin, Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    strategy: Mapped[Strategy] = mapped_column(str_enum(Strategy, 24))
    target: Mapped[ProgrammeTarget] = mapped_column(str_enum(ProgrammeTarget, 16))
    budget_tag: Mapped[BudgetTag] = mapped_column(str_enum(BudgetTag, 16), default=BudgetTag.DIRECT)
    sla_days: Mapped[int] = mapped_column(default=30)
    # Ordered milestone codes checked off while in progress, e.g. RTLH's survey … handover.
    milestones: Mapped[list] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)

    agency: Mapped[Agency] = relationship()


class ReferralSource(Base):
    __tablename__ = "referral_sources"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


class AgencyKindSections(Base):
    """Which data sections an agency kind may read (DESIGN.md §1), as the admins set it.

    Seeded with the defaults in ``caseapp.households.policy``; section names are plain strings here
    because the sections belong to the households domain, which sits above this one.
    """

    __tablename__ = "agency_kind_sections"

    kind: Mapped[AgencyKind] = mapped_column(str_enum(AgencyKind, 24), primary_key=True)
    sections: Mapped[list] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
