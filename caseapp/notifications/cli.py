"""``flask notifications …``: retry failed deliveries, and run the periodic jobs by hand or from cron."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from caseapp.extensions import db
from caseapp.notifications.delivery import retry_deliveries
from caseapp.notifications.relay import relay_outbox
from caseapp.notifications.sla import scan_sla, send_digest

notifications_cli = AppGroup("notifications", help="Notification outbox: retry, relay, SLA scan, digest.")


@notifications_cli.command("retry")
@click.option("--id", "ids", type=int, multiple=True, help="A failed delivery's id (repeatable).")
@click.option("--all-failed", is_flag=True, help="Every failed delivery.")
def retry_command(ids: tuple[int, ...], all_failed: bool) -> None:
    """Queue failed e-mail/webhook deliveries again, with fresh attempts."""
    if bool(ids) == all_failed:
        raise click.UsageError("Give either --id N (repeatable) or --all-failed.")
    retried = retry_deliveries(db.session, actor=None, ids=ids, all_failed=all_failed)
    db.session.commit()
    click.echo(f"Queued again: {len(retried)} deliver{'y' if len(retried) == 1 else 'ies'}"
               + (f" ({', '.join(map(str, retried[:20]))}{' …' if len(retried) > 20 else ''})" if retried else "."))


@notifications_cli.command("relay")
def relay_command() -> None:
    """Publish rows still pending (what the beat does every NOTIFY_RELAY_INTERVAL seconds)."""
    counts = relay_outbox(db.session)
    db.session.commit()
    click.echo("Relayed: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@notifications_cli.command("scan-sla")
def scan_sla_command() -> None:
    """Write due-soon, due-today, overdue and escalation reminders (idempotent)."""
    created = scan_sla(db.session)
    db.session.commit()
    click.echo(f"SLA reminders written: {created}")


@notifications_cli.command("digest")
def digest_command() -> None:
    """Write today's digest of open work for every user who has some (once per day)."""
    created = send_digest(db.session)
    db.session.commit()
    click.echo(f"Digests written: {created}")
