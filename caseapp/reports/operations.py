"""Writes of the reports domain: the quarterly snapshot and the dated poverty line.

Operations flush, never commit: the view or command that calls them owns the transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from caseapp.agencies.models import Region, RegionLevel
from caseapp.auth.models import User
from caseapp.core.audit import record_audit_event
from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.core.models import utcnow
from caseapp.reports.models import PovertyLine, ReportSnapshot
from caseapp.reports.pages import REGISTER_KEY, count_register, dashboard_key, quarter_filters, snapshot_for
from caseapp.reports.periods import Quarter, today
from caseapp.reports.queries import FIGURES_SCHEMA, Scope, compute_figures
from caseapp.reports.targets import target_entries


def take_snapshot(session: Session, quarter: Quarter, *, actor: User | None = None) -> ReportSnapshot:
    """Freeze *quarter*'s report: figures for the city and for each kecamatan, and the target list
    (ids and facts, no names). Only once the quarter has ended, and only once (``Conflict`` after)."""
    if not quarter.has_ended(today()):
        raise ValidationFailed({"quarter": [_("Triwulan %(q)s belum berakhir; angka baru dikunci setelah "
                                              "triwulan selesai.", q=quarter.code)]})
    if snapshot_for(quarter) is not None:
        raise Conflict(_("Triwulan %(q)s sudah dikunci; angkanya tidak dapat diubah lagi.", q=quarter.code))
    filters = quarter_filters(quarter)
    kecamatan = session.scalars(select(Region.code).where(Region.level == RegionLevel.KECAMATAN)
                                .order_by(Region.code)).all()
    figures = {
        "city": compute_figures(Scope(None), filters),
        "kecamatan": {code: compute_figures(Scope(code), filters) for code in kecamatan},
    }
    snapshot = ReportSnapshot(
        year=quarter.year, quarter=quarter.number, period_from=filters.date_from, period_to=filters.date_to,
        schema_version=FIGURES_SCHEMA, figures=figures, targets=target_entries(Scope(None), filters),
        taken_at=utcnow(), taken_by_id=actor.id if actor else None,
    )
    session.add(snapshot)
    session.flush()
    record_audit_event(session, actor_id=actor.id if actor else None, action="take_report_snapshot",
                       object_type="report_snapshot", object_id=snapshot.id,
                       after={"quarter": quarter.code, "targets": len(snapshot.targets)})
    return snapshot


def add_poverty_line(session: Session, *, valid_from: date, rupiah_per_capita_month: Decimal | str | int,
                     source: str, actor: User | None = None) -> PovertyLine:
    """Record the extreme-poverty line (Rupiah per person per month) in force from *valid_from*."""
    errors: dict[str, list[str]] = {}
    try:
        amount = Decimal(str(rupiah_per_capita_month))
    except InvalidOperation:
        amount = Decimal(-1)
    if amount <= 0 or amount > Decimal("100000000"):
        errors["rupiah_per_capita_month"] = [_("Isi garis kemiskinan dalam rupiah per orang per bulan.")]
    if not (source or "").strip():
        errors["source"] = [_("Sebutkan sumbernya (misalnya rilis BPS dan tanggalnya).")]
    if session.scalar(select(PovertyLine.id).where(PovertyLine.valid_from == valid_from)) is not None:
        errors["valid_from"] = [_("Sudah ada garis kemiskinan yang berlaku mulai tanggal ini.")]
    if errors:
        raise ValidationFailed(errors)
    line = PovertyLine(valid_from=valid_from, rupiah_per_capita_month=amount, source=source.strip()[:300],
                       created_by_id=actor.id if actor else None, created_at=utcnow())
    session.add(line)
    session.flush()
    record_audit_event(session, actor_id=actor.id if actor else None, action="add_poverty_line",
                       object_type="poverty_line", object_id=line.id,
                       after={"valid_from": valid_from.isoformat(), "rupiah": str(amount)})
    return line


def refresh_dashboard_figures(session: Session) -> dict[str, float]:
    """Recompute the default dashboard (1 January → today) of the city and of every kecamatan a
    supervisor is limited to, and the register's totals (the viewers' home page), and replace the
    stored figures (scheduled; see ``DashboardFigures``). Returns the seconds each took."""
    import time

    from caseapp.auth.models import Role
    from caseapp.reports.forms import default_filters
    from caseapp.reports.models import DashboardFigures

    filters = default_filters()
    kecamatan = session.scalars(select(User.kecamatan_code).where(
        User.role == Role.SUPERVISOR, User.active.is_(True), User.kecamatan_code.is_not(None)).distinct()).all()
    took: dict[str, float] = {}
    rows = []
    for scope in [Scope(None), *(Scope(code) for code in sorted(kecamatan))]:
        started = time.perf_counter()
        figures = compute_figures(scope, filters)
        took[scope.kecamatan or "city"] = round(time.perf_counter() - started, 2)
        rows.append(DashboardFigures(key=dashboard_key(scope, filters), figures=figures, computed_at=filters.now,
                                     seconds=took[scope.kecamatan or "city"]))
    started = time.perf_counter()
    register = count_register()
    took["register"] = round(time.perf_counter() - started, 2)
    rows.append(DashboardFigures(key=REGISTER_KEY, figures=register, computed_at=filters.now,
                                 seconds=took["register"]))
    session.execute(delete(DashboardFigures))
    session.add_all(rows)
    session.flush()
    return took
