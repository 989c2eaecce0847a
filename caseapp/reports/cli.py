"""``flask reports …``: freeze a quarter, record the extreme-poverty line. Thin: calls operations."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from caseapp.core.errors import DomainError
from caseapp.extensions import db
from caseapp.reports import operations
from caseapp.reports.periods import Quarter

reports_cli = AppGroup("reports", help="Quarterly report snapshots and the extreme-poverty line.")


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    for field, messages in exc.fields.items():
        for message in messages:
            click.echo(f"{field}: {message}", err=True)
    if not exc.fields:
        click.echo(exc.message, err=True)
    raise SystemExit(2)


@reports_cli.command("snapshot")
@click.option("--quarter", "quarter_text", required=True, help="The quarter, e.g. 2026Q3 (must have ended).")
def snapshot_command(quarter_text: str):
    """Freeze a quarter's report figures (once; never changed afterwards)."""
    try:
        quarter = Quarter.parse(quarter_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--quarter") from None
    try:
        snapshot = operations.take_snapshot(db.session, quarter)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"Snapshot {quarter.code}: {len(snapshot.targets)} target households, "
               f"{len(snapshot.figures['kecamatan'])} kecamatan.")


@reports_cli.command("poverty-line")
@click.option("--valid-from", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--rupiah", required=True, help="Rupiah per person per month.")
@click.option("--source", required=True, help="Where the figure comes from (e.g. the BPS release).")
def poverty_line_command(valid_from, rupiah: str, source: str):
    """Record the extreme-poverty line in force from a date (a dated parameter, never a constant)."""
    try:
        line = operations.add_poverty_line(db.session, valid_from=valid_from.date(), rupiah_per_capita_month=rupiah,
                                           source=source)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"Poverty line from {line.valid_from}: Rp{line.rupiah_per_capita_month}/person/month.")


@reports_cli.command("refresh-dashboard")
def refresh_dashboard_command():
    """Recompute the default dashboard figures now (the scheduled task does this every few minutes)."""
    took = operations.refresh_dashboard_figures(db.session)
    db.session.commit()
    click.echo("Dashboard figures refreshed: "
               + ", ".join(f"{scope} {seconds:.1f} s" for scope, seconds in took.items()))
