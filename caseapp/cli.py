"""Command-line interface (``flask --app wsgi …``): users, demo data. Thin: calls operations."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from caseapp.auth import operations as auth_ops
from caseapp.auth.models import Role
from caseapp.core.audit import verify_chain
from caseapp.core.crypto import DecryptionError
from caseapp.core.errors import ValidationFailed
from caseapp.core.identifiers import rotate_all
from caseapp.demo.loader import load_demo
from caseapp.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data (never on a production database).")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--agency", "agency_code", help="Agency code, e.g. DINKES (required for agency_officer).")
@click.option("--name", "full_name", default="", help="Full name (defaults to the e-mail).")
@click.option("--kecamatan", "kecamatan_code", help="Scope: kecamatan code, e.g. 35.71.01.")
@click.option("--kelurahan", "kelurahan_code", help="Scope: kelurahan code, e.g. 35.71.01.1001.")
@click.option("--password", help="Leave out to be asked (hidden input).")
def create_user_command(email, role, agency_code, full_name, kecamatan_code, kelurahan_code, password):
    """Create a user account."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = auth_ops.create_user(
            db.session, email=email, full_name=full_name or email, role=role, password=password,
            agency_code=agency_code, kecamatan_code=kecamatan_code, kelurahan_code=kelurahan_code,
        )
    except ValidationFailed as exc:
        db.session.rollback()
        for field, messages in exc.fields.items():
            for message in messages:
                click.echo(f"--{field}: {message}", err=True)
        raise SystemExit(2) from None
    db.session.commit()
    click.echo(f"Created user {user.id} <{user.email}> ({user.role}).")


@demo_cli.command("load")
@click.option("--households", default=300, show_default=True, type=click.IntRange(0, 20_000_000))
@click.option("--bulk", is_flag=True, help="PostgreSQL load tests: COPY households and cases set-based "
              "(default above 20,000 households on PostgreSQL).")
@click.option("--case-share", default=1.0, show_default=True, type=click.FloatRange(0, 1),
              help="With --bulk: share of the new households that get a case.")
def demo_load_command(households: int, bulk: bool, case_share: float):
    """Load regions, agencies, programmes, demo users and N synthetic households (idempotent)."""
    if current_app.config["ENV_NAME"] == "production" and not click.confirm(
        "This is a production configuration. Load demo users with a known password?", default=False
    ):
        raise SystemExit(1)
    bulk = bulk or (households > 20_000 and db.engine.dialect.name == "postgresql")
    summary = load_demo(db.session, households=households, progress=click.echo, bulk=bulk, case_share=case_share)
    click.echo("Demo data: " + ", ".join(f"{k}={v}" for k, v in summary.items()))


@demo_cli.command("replicate")
@click.option("--copies", default=9, show_default=True, type=click.IntRange(1, 15))
@click.option("--first", default=1, show_default=True, type=click.IntRange(1, 15),
              help="Resume: copies before this one are already stored.")
def demo_replicate_command(copies: int, first: int):
    """PostgreSQL load tests: append COPIES copies of the stored households and cases (new NIK/KK)."""
    from caseapp.demo.bulk import replicate

    if current_app.config["ENV_NAME"] == "production":
        raise SystemExit("Not on a production configuration.")
    summary = replicate(db.session, copies, first=first, progress=click.echo)
    click.echo("Replicated: " + ", ".join(f"{k}={v}" for k, v in summary.items()))


audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def audit_verify_command():
    """Recompute the audit hash chain; exit 1 at the first event changed or removed."""
    report = verify_chain(db.session)
    if report.ok:
        click.echo(f"Audit trail intact: {report.checked} events checked.")
        return
    click.echo(f"AUDIT TRAIL BROKEN at event {report.first_bad_id} after {report.checked} good events: "
               f"{report.problem}.", err=True)
    raise SystemExit(1)


keys_cli = AppGroup("keys", help="Encryption keys of NIK/KK, health notes and TOTP secrets.")


@keys_cli.command("rotate")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def keys_rotate_command(batch_size: int):
    """Re-encrypt under the first ENCRYPTION_KEY and recompute blind indexes (resumable; docs/security.md)."""
    def report(progress):
        click.echo(f"  {progress.table}.{progress.column}: {progress.checked} checked, "
                   f"{progress.reencrypted} re-encrypted, {progress.rehashed} re-indexed")

    try:
        results = rotate_all(db.session, batch_size=batch_size, on_batch=report)
    except DecryptionError as exc:
        db.session.rollback()
        click.echo(f"Stopped: {exc}. Keep every old key in ENCRYPTION_KEY until this command has finished; "
                   "batches already done stay done, run it again.", err=True)
        raise SystemExit(1) from None
    for progress in results:
        click.echo(f"{progress.table}.{progress.column}: {progress.checked} rows, {progress.reencrypted} "
                   f"re-encrypted, {progress.rehashed} blind indexes recomputed.")
    click.echo("Done: every ciphertext is under the first ENCRYPTION_KEY; older keys may now be removed.")


cases_cli = AppGroup("cases", help="Cases.")


@cases_cli.command("recount")
@click.option("--check", is_flag=True, help="Only report; change nothing (exit 1 if anything differs).")
def cases_recount_command(check: bool):
    """Compare the steps' copies of their case's scope and the case tallies with the cases; repair them."""
    from caseapp.cases.operations import scope_sync

    found = scope_sync.drift(db.session)
    click.echo(f"Steps whose scope copy differs: {found['steps']}; case tallies that differ: {found['tallies']}")
    if check:
        raise SystemExit(1 if any(found.values()) else 0)
    if any(found.values()):
        scope_sync.rebuild(db.session)
        db.session.commit()
        click.echo("Recounted from the cases.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(cases_cli)
