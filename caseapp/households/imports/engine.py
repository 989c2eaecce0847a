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

from sqlalchemy import Connection, select, text

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


SAVEPOINT = "sinergi_import"


def run_import(conn: Connection, path: Path | str, *, keyring: Keyring, dry_run: bool = False,
               skip_invalid: bool = False, allowed: Callable[[Region], bool] | None = None,
               workers: int | None = None, progress: Callable[[int, int, int | None], None] | None = None,
               batched: bool | None = None, batch_rows: int = stage.BATCH_ROWS) -> ImportResult:
    """Import *path* on *conn* (caller owns the transaction; roll back unless ``result.merged``).

    On PostgreSQL without ``skip_invalid`` the file is merged in batches while the next rows are still
    being validated (``batched``, the default there): optimistic, for the clean file it usually is. Should
    the file turn out to have any error, or to be a file whose batches could merge differently from the
    whole (a household's rows far apart, see ``stage.batches_disagree``), everything since a savepoint is
    rolled back and the file is imported again merged whole: the result is always exactly that of the
    whole-file merge. ``skip_invalid`` must know every error before it writes anything: merged whole.
    """
    postgres = conn.dialect.name == "postgresql"
    if batched is None:
        batched = postgres
    options = {"keyring": keyring, "dry_run": dry_run, "skip_invalid": skip_invalid, "allowed": allowed,
               "workers": workers, "progress": progress}
    if not (batched and postgres and not skip_invalid):
        return _run_import(conn, path, batch_rows=None, **options)
    started = time.perf_counter()
    conn.exec_driver_sql(f"SAVEPOINT {SAVEPOINT}")
    result = _run_import(conn, path, batch_rows=batch_rows, **options)
    if result is _WHOLE:
        conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {SAVEPOINT}")
        attempt = round(time.perf_counter() - started, 3)
        result = _run_import(conn, path, batch_rows=None, **options)
        result.seconds["batched_attempt"] = attempt
        result.seconds["total"] = round(time.perf_counter() - started, 3)
        result.summary["batched"] = "rolled back, merged whole"
        return result
    conn.exec_driver_sql(f"RELEASE SAVEPOINT {SAVEPOINT}")
    return result


_CHECKED = "row_no, valid, kk_hash, kk_masked, hh_sig, nik_hash, nik_masked, relation"
_WHOLE = ImportResult(ok=False, merged=False)   # sentinel: the batched attempt must be merged whole instead
_SUMMED = ("households_in_file", "households_new", "households_address_updated", "households_kk_changed",
           "households_desil_updated", "persons_new", "persons_updated", "persons_moved", "merge_seconds")


def _run_import(conn: Connection, path: Path | str, *, keyring: Keyring, dry_run: bool, skip_invalid: bool,
                allowed: Callable[[Region], bool] | None, workers: int | None,
                progress: Callable[[int, int, int | None], None] | None, batch_rows: int | None) -> ImportResult:
    started = time.perf_counter()
    try:
        opened = open_rows(path)
    except FileProblem as exc:
        return ImportResult(ok=False, merged=False, error_count=1, errors=[(1, "", "", str(exc))],
                            file_problem=str(exc))
    kelurahan, permitted = kelurahan_sets(conn, allowed)
    context = Context(keyring=keyring, index=opened.index, headers=opened.headers, kelurahan=kelurahan,
                      allowed=permitted, today=today_jakarta(), copy_format=conn.dialect.name == "postgresql")
    stage.create_stage(conn, batches=batch_rows is not None)
    estimated = opened.estimated_rows
    now = utcnow()
    batches: dict = {"merged": 0, "open": True, "summary": dict.fromkeys(_SUMMED, 0), "steps": {}}

    def tick(rows: int, errors: int) -> None:
        if progress is not None:
            position = opened.position()
            total = int(rows * opened.size / position) if position else estimated
            progress(rows, errors, max(total or rows, rows))

    def on_batch(stats: stage.StageStats, final: bool) -> None:
        """Merge the rows of ``import_batch`` unless an error was seen; then move them to ``import_stage``.

        The household of the batch's last row may go on in the next rows: unless this is the last batch,
        its rows are held back and go into the next batch (a batch ends where a household ends).
        """
        if final and not conn.execute(text("SELECT EXISTS (SELECT 1 FROM import_batch)")).scalar():
            return
        if not final:
            conn.execute(text(
                "WITH held AS (DELETE FROM import_batch WHERE kk_hash = (SELECT kk_hash FROM import_batch "
                "ORDER BY row_no DESC LIMIT 1) RETURNING *) INSERT INTO import_hold SELECT * FROM held"))
        if batches["open"] and (stats.error_count or stage.batch_has_duplicates(conn)
                                or stage.register_clashes(conn, opened.headers, "import_batch")):
            batches["open"] = False      # not a clean file: no more batches merged (the end decides)
        if batches["open"]:
            part = merge_mod.merge(conn, today=context.today, now=now, codelist_version=CODELIST_VERSION,
                                   stage="import_batch")
            for key in _SUMMED:
                batches["summary"][key] += part[key]
            for key, seconds in part["merge_steps"].items():
                batches["steps"][key] = round(batches["steps"].get(key, 0.0) + seconds, 3)
            conn.execute(text("INSERT INTO import_hh_all SELECT * FROM import_hh"))
            conn.execute(text("TRUNCATE import_hh"))
            batches["merged"] += 1
        if batches["merged"]:
            # Merged: the final checks across the file need these columns only.
            conn.execute(text(f"INSERT INTO import_stage ({_CHECKED}) SELECT {_CHECKED} FROM import_batch"))  # noqa: S608  # nosec B608
        else:
            conn.execute(text("INSERT INTO import_stage SELECT * FROM import_batch"))
        conn.execute(text("TRUNCATE import_batch"))
        if not final:
            conn.execute(text("INSERT INTO import_batch SELECT * FROM import_hold"))
            conn.execute(text("TRUNCATE import_hold"))

    try:
        stats = stage.load(conn, opened, context, workers=workers, progress=tick,
                           on_batch=on_batch if batch_rows is not None else None,
                           batch_rows=batch_rows or stage.BATCH_ROWS)
    except FileProblem as exc:
        return ImportResult(ok=False, merged=False, error_count=1, errors=[(1, "", "", str(exc))],
                            file_problem=str(exc))
    if stats.rows == 0:
        message = "Berkas hanya berisi judul kolom, tanpa baris data."
        stage.drop_stage(conn)
        return ImportResult(ok=False, merged=False, error_count=1, errors=[(1, "", "", message)],
                            file_problem=message)
    stage.household_checks(conn, stats, opened.headers, clashes=not batches["merged"])
    if batches["merged"] and (stats.error_count or stage.batches_disagree(conn)):
        return _WHOLE
    valid = conn.exec_driver_sql("SELECT COUNT(*) FROM import_stage WHERE valid").scalar() or 0
    result = ImportResult(ok=stats.error_count == 0 or skip_invalid, merged=False, rows=stats.rows,
                          rows_valid=valid, error_count=stats.error_count, errors=sorted(stats.errors))
    summary: dict = {"rows": stats.rows, "rows_valid": valid, "rows_invalid": stats.rows - valid,
                     "errors": stats.error_count, "workers": stats.workers, "file_kind": opened.kind,
                     "ignored_columns": opened.ignored[:20]}
    if batches["merged"]:
        summary.update(batches["summary"])
        summary["merge_seconds"] = round(summary["merge_seconds"], 3)
        summary["merge_steps"] = batches["steps"]
        summary["batches"] = batches["merged"]
        result.merged = not dry_run
    elif result.ok and valid:
        summary.update(merge_mod.merge(conn, today=context.today, now=now, codelist_version=CODELIST_VERSION))
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
