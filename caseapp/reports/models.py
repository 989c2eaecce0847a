"""Report parameters and frozen quarterly snapshots.

``PovertyLine`` is the dated extreme-poverty threshold (DOMAIN.md §5: a parameter, never a constant).
``ReportSnapshot`` freezes one quarter's figures so the report of a past quarter never changes after
the fact. It holds aggregates and the ids of the target households, never names, NIK or addresses:
those are read from the register when the by-name list is shown, so erasure and anonymisation of a
household reach old reports too.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caseapp.core.models import Base, utcnow


class PovertyLine(Base):
    """The extreme-poverty line in Rupiah per person per month, in force from ``valid_from``.

    Extreme poverty is spending below US$2.15 PPP (2017) per person per day; BPS publishes the Rupiah
    value. Each new value is a new row, so a report always uses the line in force on its own date.
    """

    __tablename__ = "poverty_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[date] = mapped_column(unique=True)
    rupiah_per_capita_month: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    source: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ReportSnapshot(Base):
    """One quarter's report, frozen: written once, never updated."""

    __tablename__ = "report_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    quarter: Mapped[int]
    period_from: Mapped[date]
    period_to: Mapped[date]
    # Version of the figures layout, so an old snapshot keeps rendering after the layout grows.
    schema_version: Mapped[int] = mapped_column(default=1)
    # {"city": figures, "kecamatan": {code: figures}}; raw counts (suppression is applied on display).
    figures: Mapped[dict]
    # [{"household_id", "kelurahan", "desil", "extreme", "case_number", "stage", "interventions": [...]}]
    targets: Mapped[list]
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (UniqueConstraint("year", "quarter", name="uq_report_snapshots_year_quarter"),)


class DashboardFigures(Base):
    """Pre-computed dashboard figures for the default view (1 January → today, no narrowing filter)
    of one scope, refreshed by the scheduled ``reports.refresh_dashboard`` task (issue #8: at a
    million cases the live statements take seconds). Raw counts; suppression is applied on display.
    Any other filter is computed live. The page shows ``computed_at``."""

    __tablename__ = "dashboard_figures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)   # "city|2026-01-01|2026-11-28"
    figures: Mapped[dict]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    seconds: Mapped[float | None]
