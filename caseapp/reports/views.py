"""Dashboard, quarterly reports and their exports (blueprint ``reports``). Thin: queries, policy, present."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import BytesIO

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_date, format_datetime, format_decimal, format_percent
from flask_babel import gettext as _
from flask_login import current_user

from caseapp.auth.permissions import Permission, requires
from caseapp.core.audit import AccessKind, record_access
from caseapp.core.errors import DomainError
from caseapp.extensions import db
from caseapp.reports import labels, operations, targets
from caseapp.reports import pages as report_pages
from caseapp.reports.charts import chart_data
from caseapp.reports.forms import FilterForm, SnapshotForm, default_filters
from caseapp.reports.periods import JAKARTA, Quarter, recent_quarters, today
from caseapp.reports.policy import aggregates_only, can_see_target_list, can_take_snapshot, report_scope
from caseapp.reports.presenters import present
from caseapp.reports.xlsx import XLSX_MIMETYPE, build_workbook

bp = Blueprint("reports", __name__, url_prefix="/reports", template_folder="templates")
PER_PAGE = 100


def _quarter_or_404(year: int, number: int) -> Quarter:
    if not (2000 <= year <= 2100 and 1 <= number <= 4):
        abort(404)
    return Quarter(year, number)


def _scope_name(scope, choices: dict) -> str:
    if scope.kecamatan is None:
        return _("Kota Kediri")
    names = {code: name for code, name, _parent in choices["kecamatan"]}
    return _("Kecamatan %(name)s", name=names.get(scope.kecamatan, scope.kecamatan))


@bp.app_context_processor
def _report_words():
    return {"report_labels": labels}


@bp.app_template_filter("report_number")
def _number(value) -> str:
    return format_decimal(value, "#,##0")


@bp.app_template_filter("report_percent")
def _percent(value) -> str:
    return format_percent(value, "#,##0.0%")


@bp.app_template_filter("report_rupiah")
def _rupiah(value) -> str:
    return "Rp" + format_decimal(value, "#,##0")


@bp.app_template_filter("report_days")
def _days(value) -> str:
    return format_decimal(value, "#,##0.0")


@bp.app_template_filter("report_time")
def _report_time(value: datetime) -> str:
    return format_datetime(value.astimezone(JAKARTA), "d MMM y HH:mm") + " WIB"


@bp.app_template_filter("report_date")
def _as_of_date(value: str | datetime) -> str:
    """The last day covered by an as-of moment (an exclusive end at midnight WIB is the day before)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_date((moment - timedelta(seconds=1)).astimezone(JAKARTA).date(), "medium")


@bp.route("/dashboard")
@requires(Permission.DASHBOARD_VIEW)
def dashboard():
    scope = report_scope(current_user)
    choices = report_pages.filter_choices(scope)
    form = FilterForm(formdata=request.args)
    form.set_choices(choices)
    filters = form.filters() if form.validate() else default_filters()
    figures, computed_at = report_pages.dashboard_figures(scope, filters)
    fig = present(figures, suppress=aggregates_only(current_user))
    return render_template("reports/dashboard.html", form=form, fig=fig, charts=chart_data(fig),
                           scope_name=_scope_name(scope, choices), filters=filters, computed_at=computed_at)


@bp.route("/")
@requires(Permission.REPORT_EXPORT)
def index():
    quarters = recent_quarters(report_pages.first_case_date())
    return render_template("reports/index.html", quarters=quarters, frozen=report_pages.snapshot_list(),
                           today=today(), can_snapshot=can_take_snapshot(current_user),
                           snapshot_form=SnapshotForm())


def _quarter_context(year: int, number: int) -> dict:
    quarter = _quarter_or_404(year, number)
    scope = report_scope(current_user)
    raw, snapshot = report_pages.quarter_figures(scope, quarter)
    fig = present(raw, suppress=aggregates_only(current_user))
    return {"quarter": quarter, "scope": scope, "fig": fig, "snapshot": snapshot}


@bp.route("/<int:year>/q<int:number>")
@requires(Permission.REPORT_EXPORT)
def quarter(year: int, number: int):
    context = _quarter_context(year, number)
    choices = report_pages.filter_choices(context["scope"])
    return render_template("reports/quarter.html", **context, scope_name=_scope_name(context["scope"], choices),
                           can_list=can_see_target_list(current_user),
                           can_snapshot=can_take_snapshot(current_user) and context["snapshot"] is None
                           and context["quarter"].has_ended(today()),
                           snapshot_form=SnapshotForm())


@bp.route("/<int:year>/q<int:number>.xlsx")
@requires(Permission.REPORT_EXPORT)
def quarter_xlsx(year: int, number: int):
    context = _quarter_context(year, number)
    quarter, snapshot = context["quarter"], context["snapshot"]
    listed = targets.all_targets(context["scope"], quarter, snapshot) if can_see_target_list(current_user) else None
    workbook = build_workbook(quarter, context["fig"], listed, snapshot=snapshot)
    record_access(db.session, user_id=current_user.id, kind=AccessKind.EXPORT, object_type="report_quarter",
                  detail={"quarter": quarter.code, "format": "xlsx", "personal_data": listed is not None,
                          "scope": context["scope"].kecamatan},
                  row_count=len(listed) if listed is not None else 0)
    db.session.commit()
    buffer = BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return send_file(buffer, mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"laporan-tkpk-{quarter.code}.xlsx")


@bp.route("/<int:year>/q<int:number>/households")
@requires(Permission.DATA_EXPORT)
def quarter_households(year: int, number: int):
    """The by-name-by-address list of target households (supervisors in scope, admins); logged."""
    if not can_see_target_list(current_user):
        abort(403)
    quarter = _quarter_or_404(year, number)
    scope = report_scope(current_user)
    choices = report_pages.filter_choices(scope)
    kelurahan = request.args.get("kelurahan") or None
    if kelurahan and kelurahan not in {code for code, _name, _parent in choices["kelurahan"]}:
        kelurahan = None
    page = max(1, request.args.get("page", 1, type=int))
    snapshot = report_pages.snapshot_for(quarter)
    entries, total = targets.target_page(scope, quarter, snapshot, kelurahan=kelurahan, page=page, per_page=PER_PAGE)
    record_access(db.session, user_id=current_user.id, kind=AccessKind.EXPORT, object_type="report_quarter",
                  detail={"quarter": quarter.code, "format": "html", "personal_data": True, "page": page,
                          "kelurahan": kelurahan, "scope": scope.kecamatan},
                  row_count=len(entries))
    db.session.commit()
    pages = max(1, -(-total // PER_PAGE))
    return render_template("reports/households.html", quarter=quarter, entries=entries, total=total, page=page,
                           pages=pages, kelurahan=kelurahan, choices=choices, snapshot=snapshot,
                           scope_name=_scope_name(scope, choices))


@bp.route("/<int:year>/q<int:number>/snapshot", methods=["POST"])
@requires(Permission.ADMIN_CONFIG)
def take_snapshot(year: int, number: int):
    quarter = _quarter_or_404(year, number)
    form = SnapshotForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        operations.take_snapshot(db.session, quarter, actor=current_user)
    except DomainError as exc:
        db.session.rollback()
        message = next((m for ms in exc.fields.values() for m in ms), None) or exc.message
        flash(message, "warning")
    else:
        db.session.commit()
        flash(_("Angka Triwulan %(roman)s %(year)s sudah dikunci.", roman=quarter.roman, year=quarter.year),
              "success")
    return redirect(url_for("reports.quarter", year=quarter.year, number=quarter.number))
