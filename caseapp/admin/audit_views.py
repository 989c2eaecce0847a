"""The audit log for admins: filter by who, what, when and which record; export the filtered rows as CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, func, select

from caseapp.admin.common import template_helpers
from caseapp.auth.models import User
from caseapp.auth.permissions import Permission, requires
from caseapp.core.audit import AccessKind, AuditEvent, record_access
from caseapp.core.spreadsheet import safe_cell as spreadsheet_cell
from caseapp.extensions import db
from caseapp.notifications.sla import WIB

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit", template_folder="templates")
bp.context_processor(template_helpers)

PER_PAGE = 100
EXPORT_LIMIT = 100_000


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _filters() -> tuple[dict[str, str], dict[str, list[str]]]:
    args = {k: request.args.get(k, "").strip()[:100] for k in ("who", "action", "object_type", "object_id",
                                                               "from", "to")}
    errors: dict[str, list[str]] = {}
    for key in ("from", "to"):
        if args[key] and _date(args[key]) is None:
            errors[key] = [_("Tanggal harus berformat TTTT-BB-HH, mis. 2026-11-28.")]
    if args["object_id"] and not args["object_id"].isdigit():
        errors["object_id"] = [_("ID rekaman harus angka.")]
    return args, errors


def _query(args: dict[str, str]) -> Select:
    actor = User.__table__.alias("actor")
    stmt = (select(AuditEvent, actor.c.email).outerjoin(actor, actor.c.id == AuditEvent.actor_id))
    if args["who"]:
        stmt = stmt.where(func.lower(actor.c.email).like(f"%{args['who'].lower()}%"))
    if args["action"]:
        stmt = stmt.where(AuditEvent.action == args["action"])
    if args["object_type"]:
        stmt = stmt.where(AuditEvent.object_type == args["object_type"])
    if args["object_id"].isdigit():
        stmt = stmt.where(AuditEvent.object_id == int(args["object_id"]))
    start, end = _date(args["from"]), _date(args["to"])
    if start:
        stmt = stmt.where(AuditEvent.occurred_at >= datetime.combine(start, time.min, tzinfo=WIB))
    if end:
        stmt = stmt.where(AuditEvent.occurred_at < datetime.combine(end + timedelta(days=1), time.min, tzinfo=WIB))
    return stmt


def _choices() -> dict:
    return {"actions": list(db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))),
            "object_types": list(db.session.scalars(select(AuditEvent.object_type).distinct()
                                                    .order_by(AuditEvent.object_type)))}


@bp.route("/")
@requires(Permission.ADMIN_AUDIT)
def index():
    args, errors = _filters()
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    rows = [] if errors else db.session.execute(
        _query(args).order_by(AuditEvent.id.desc()).limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).all()
    return render_template("admin/audit.html", rows=rows[:PER_PAGE], has_more=len(rows) > PER_PAGE, page=page,
                           args=args, errors=errors, **_choices()), 422 if errors else 200


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (CWE-1236): prefix such text with '."""
    return spreadsheet_cell("" if value is None else str(value))


@bp.route("/export.csv")
@requires(Permission.ADMIN_AUDIT)
def export():
    args, errors = _filters()
    if errors:
        return Response("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), status=422,
                        mimetype="text/plain")
    rows = db.session.execute(_query(args).order_by(AuditEvent.id).limit(EXPORT_LIMIT)).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "occurred_at", "actor", "action", "object_type", "object_id", "case_id", "before",
                     "after", "comment", "ip_address"])
    for event, email in rows:
        writer.writerow([safe_cell(v) for v in (
            event.id, event.occurred_at.astimezone(WIB).isoformat(timespec="seconds"), email, event.action,
            event.object_type, event.object_id, event.case_id, _json(event.before), _json(event.after),
            event.comment, event.ip_address)])
    record_access(db.session, user_id=current_user.id, kind=AccessKind.EXPORT, object_type="audit_events",
                  detail={"filters": {k: v for k, v in args.items() if v}}, row_count=len(rows))
    db.session.commit()
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit-log.csv"})


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
