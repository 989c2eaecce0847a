"""Exports of filtered lists (CSV and XLSX): cells neutralised, numbers masked, every export logged.

The rows come from the scoped queries of the calling domain (what the user may see, nothing more);
this module only writes them. A full NIK/KK goes into a file only for a role that may reveal
identity numbers and only when asked for (``identity=full``); the access log records who, when,
which filter and how many rows, and a full-number export is logged as a reveal too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from flask import Response
from sqlalchemy.orm import Session

from caseapp.core.audit import AccessKind, record_access
from caseapp.core.spreadsheet import safe_cell

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")



def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return ""
    if hasattr(value, "value") and isinstance(value.value, str):   # StrEnum → its code
        return value.value
    return value


def render(fmt: str, header: Sequence[str], rows: Iterable[Sequence[object]], name: str) -> Response:
    """A CSV (``;``, UTF-8 with BOM for Excel) or XLSX attachment of *rows*."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Data")
        sheet.append(list(header))
        for row in rows:
            sheet.append([safe_cell(_plain(v)) for v in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        body, mimetype = buffer.getvalue(), XLSX_MIMETYPE
    else:
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, delimiter=";")
        writer.writerow(header)
        for row in rows:
            writer.writerow([safe_cell(_plain(v)) for v in row])
        body, mimetype = out.getvalue().encode(), "text/csv; charset=utf-8"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def log_export(session: Session, *, user_id: int, what: str, filters: dict, row_count: int, fmt: str,
               full_identity: bool) -> None:
    """Access log: an export (and a reveal when full numbers went into the file)."""
    detail = {"list": what, "format": fmt, "filters": {k: v for k, v in filters.items() if v not in (None, "")},
              "identity": "full" if full_identity else "masked"}
    record_access(session, user_id=user_id, kind=AccessKind.EXPORT, object_type=what, detail=detail,
                  row_count=row_count)
    if full_identity:
        record_access(session, user_id=user_id, kind=AccessKind.REVEAL, object_type=what,
                      detail={"field": "nik,kk", "export": True, **detail}, row_count=row_count)
