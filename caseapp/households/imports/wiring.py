"""Hooks the import into the app: the in-process job handler (embedded mode) and ``flask import households``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from caseapp.core.crypto import keyring
from caseapp.core.jobs import register_local_handler
from caseapp.extensions import db
from caseapp.households.imports.engine import error_report_csv, run_import
from caseapp.households.imports.jobs import TASK, run_job

import_cli = AppGroup("import", help="Import data files.")


class _Bar:
    """A terminal progress bar on stderr: rows, errors, rows/s."""

    def __init__(self, width: int = 30) -> None:
        self.width, self.started, self.last = width, time.monotonic(), 0.0

    def __call__(self, rows: int, errors: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and rows != total:
            return
        self.last = now
        share = min(rows / total, 1.0) if total else 0.0
        filled = int(share * self.width)
        rate = rows / max(now - self.started, 1e-6)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} {rows:,} baris, "
                         f"{errors:,} galat, {rate:,.0f} baris/detik ")
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")


@import_cli.command("households")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count everything, write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid households, report the rest.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the error report (default: PATH.errors.csv when there are errors).")
@click.option("--workers", type=int, default=None, help="Validation processes (default: one per core).")
def import_households_command(path: Path, dry_run: bool, skip_invalid: bool, report: Path | None,
                              workers: int | None):
    """Import a DTSEN-style household list (CSV or XLSX; see docs/import-format.md)."""
    bar = _Bar()
    result = run_import(db.session.connection(), path, keyring=keyring(), dry_run=dry_run,
                        skip_invalid=skip_invalid, workers=workers, progress=bar)
    bar.done()
    if result.merged:
        db.session.commit()
    else:
        db.session.rollback()
    if result.errors:
        target = report or path.with_name(path.name + ".errors.csv")
        target.write_text(error_report_csv(result.errors), encoding="utf-8-sig")
        click.echo(f"Laporan galat: {target} ({result.error_count} galat)", err=True)
        for row, column, value, message in result.errors[:10]:
            click.echo(f"  baris {row}, {column or '-'} = {value!r}: {message}", err=True)
    summary = result.summary
    click.echo(", ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, dict | list)))
    if result.seconds:
        click.echo("waktu (detik): " + ", ".join(f"{k}={v}" for k, v in result.seconds.items()))
    if not result.ok:
        click.echo("Tidak ada yang diimpor: perbaiki galat di laporan, atau pakai --skip-invalid.", err=True)
        raise SystemExit(1)
    click.echo("Uji coba: tidak ada yang ditulis." if dry_run else "Selesai.")


def _in_process(job_id: int) -> None:
    with Session(bind=db.session.get_bind(), join_transaction_mode="create_savepoint") as session:
        run_job(session, job_id)
        session.commit()


def init_imports(app: Flask) -> None:
    register_local_handler(app, TASK, _in_process)
    app.cli.add_command(import_cli)
