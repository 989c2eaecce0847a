"""One import from start to end: open → stage (validated, sealed) → household checks → merge or not.

Runs on one connection inside the caller's transaction: the caller commits (a real import) or rolls
back (a dry run, or a file with errors when ``skip_invalid`` is off). Nothing is half written: the
merge is all in that transaction, and a household with any error is left out whole.
"""

from __future__ import annotations

import csv
import io
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, select

from caseapp.agencies.models import Region, RegionLevel
from caseapp.core.crypto import Keyring
from caseapp.core.models import utcnow
from caseapp.households.imports import merge as merge_mod
from caseapp.households.imports import stage
from caseapp.households.imports.parse import FileProblem, open_rows
from caseapp.households.imports.validate import Context
from caseapp.households.operations.checks import CODELIST_VERSION, today_jakarta

REPORT_HEADER = ("baris", "kolom", "nilai", "pesan")


@dataclass
class ImportResult:
    ok: bool                       # merged (or, in a dry run, would merge)
    merged: bool                   # written to the register in this transaction
    rows: int = 0
    rows_valid: int = 0
    error_count: int = 0
    errors: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    file_problem: str | None = None

    def report_csv(self) -> str:
        return error_report_csv(self.errors)


def error_report_csv(errors: list) -> str:
    """The error report as CSV (row, column, value, message); cells neutralised against formulas."""
    from caseapp.households.exports import safe_cell

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(REPORT_HEADER)
    for row in errors:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def kelurahan_sets(conn: Connection, allowed: Callable[[Region], bool] | None) -> tuple[frozenset, frozenset | None]:
    from sqlalchemy.orm import Session

    with Session(bind=conn) as session:
        regions = session.scalars(select(Region).where(Region.level == RegionLevel.KELURAHAN)).all()
        codes = frozenset(r.code for r in regions)
        permitted = None if allowed is None else frozenset(r.code for r in regions if allowed(r))
        session.expunge_all()
    return codes, permitted


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def run_import(conn: Connection, path: Path | str, *, keyring: Keyring, dry_run: bool = False,
               skip_invalid: bool = False, allowed: Callable[[Region], bool] | None = None,
               workers: int | None = None, progress: Callable[[int, int, int | None], None] | None = None
               ) -> ImportResult:
    """Import *path* on *conn* (caller owns the transaction; roll back unless ``result.merged``)."""
    started = time.perf_counter()
    try:
        opened = open_rows(path)
    except FileProblem as exc:
        return ImportResult(ok=False, merged=False, error_count=1, errors=[(1, "", "", str(exc))],
                            file_problem=str(exc))
    kelurahan, permitted = kelurahan_sets(conn, allowed)
    context = Context(keyring=keyring, index=opened.index, headers=opened.headers, kelurahan=kelurahan,
                      allowed=permitted, today=today_jakarta(), copy_format=conn.dialect.name == "postgresql")
    stage.create_stage(conn)
    estimated = opened.estimated_rows

    def tick(rows: int, errors: int) -> None:
        if progress is not None:
            position = opened.position()
            total = int(rows * opened.size / position) if position else estimated
            progress(rows, errors, max(total or rows, rows))

    try:
        stats = stage.load(conn, opened, context, workers=workers, progress=tick)
    except FileProblem as exc:
        return ImportResult(ok=False, merged=False, error_count=1, errors=[(1, "", "", str(exc))],
                            file_problem=str(exc))
    if stats.rows == 0:
        message = "Berkas hanya berisi judul kolom, tanpa baris data."
        stage.drop_stage(conn)
        return ImportResult(ok=False, merged=False, error_count=1, errors=[(1, "", "", message)],
                            file_problem=message)
    stage.household_checks(conn, stats, opened.headers)
    valid = conn.exec_driver_sql("SELECT COUNT(*) FROM import_stage WHERE valid").scalar() or 0
    result = ImportResult(ok=stats.error_count == 0 or skip_invalid, merged=False, rows=stats.rows,
                          rows_valid=valid, error_count=stats.error_count, errors=sorted(stats.errors))
    summary: dict = {"rows": stats.rows, "rows_valid": valid, "rows_invalid": stats.rows - valid,
                     "errors": stats.error_count, "workers": stats.workers, "file_kind": opened.kind,
                     "ignored_columns": opened.ignored[:20]}
    if result.ok and valid:
        summary.update(merge_mod.merge(conn, today=context.today, now=utcnow(), codelist_version=CODELIST_VERSION))
        result.merged = not dry_run
    stage.drop_stage(conn)
    seconds = {k: round(v, 3) for k, v in stats.seconds.items()}
    seconds["merge"] = summary.pop("merge_seconds", 0.0)
    seconds["total"] = round(time.perf_counter() - started, 3)
    result.seconds = seconds
    summary["seconds"] = seconds
    summary["peak_rss_mb"] = peak_rss_mb()
    summary["dry_run"] = dry_run
    result.summary = summary
    return result
