"""``flask doctor``: check the configuration and the services it names; exit 1 on any FAIL."""

from __future__ import annotations

import shutil
import zoneinfo
from dataclasses import dataclass, field

import click
from flask import current_app
from flask.cli import with_appcontext

from caseapp.core.crypto import KeyConfigError, Keyring
from caseapp.ops import checks

# Secrets that ship in this repository or in common examples: fine on a laptop, never in production.
KNOWN_SECRETS = {
    "test-secret-key-not-for-production-0123456789", "dev", "development", "secret", "changeme",
    "change-me", "please-change-me", "secret-key", "your-secret-key",
}
RANDOM_VALUE_CMD = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
RANDOM_KEY_CMD = "python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failed: int = 0

    def ok(self, message: str) -> None:
        self.lines.append(f"OK   {message}")

    def warn(self, message: str, fix: str) -> None:
        self.lines.append(f"WARN {message} → {fix}")

    def fail(self, message: str, fix: str) -> None:
        self.failed += 1
        self.lines.append(f"FAIL {message} → {fix}")


def check_secret_key(config, report: Report, production: bool) -> None:
    key = config.get("SECRET_KEY") or ""
    if not key:
        report.fail("SECRET_KEY is not set", f"set SECRET_KEY to a random value: {RANDOM_VALUE_CMD}")
    elif len(key) < 32:
        report.fail("SECRET_KEY is shorter than 32 characters", f"set SECRET_KEY to a random value: {RANDOM_VALUE_CMD}")
    elif key in KNOWN_SECRETS:
        (report.fail if production else report.warn)(
            "SECRET_KEY is a known test/dev value", f"set SECRET_KEY to a random value: {RANDOM_VALUE_CMD}")
    else:
        report.ok("SECRET_KEY set")


def check_keys(config, report: Report) -> None:
    try:
        Keyring.from_config(config.get("ENCRYPTION_KEY"), config.get("BLIND_INDEX_KEY"))
    except KeyConfigError as exc:
        report.fail(f"encryption keys invalid: {exc}",
                    f"set ENCRYPTION_KEY and BLIND_INDEX_KEY to different 32-byte base64 keys: {RANDOM_KEY_CMD}")
    else:
        report.ok("ENCRYPTION_KEY and BLIND_INDEX_KEY valid")


def check_production(config, report: Report) -> None:
    if not config.get("SESSION_COOKIE_SECURE"):
        report.fail("SESSION_COOKIE_SECURE is off in production", "serve over HTTPS with SINERGI_ENV=production")
    else:
        report.ok("session cookie marked Secure")
    if config.get("DEBUG") or current_app.debug:
        report.fail("debug mode is on in production", "unset FLASK_DEBUG and do not run with --debug")
    else:
        report.ok("debug off")
    if (config.get("SQLALCHEMY_DATABASE_URI") or "").startswith("sqlite"):
        report.fail("production uses SQLite", "set DATABASE_URL to PostgreSQL")
    if not config.get("TRUSTED_PROXY_HOPS"):
        report.warn("TRUSTED_PROXY_HOPS is 0: X-Forwarded-* headers are ignored",
                    "behind the nginx of deploy/ set TRUSTED_PROXY_HOPS=1 (client addresses, https links)")
    else:
        report.ok(f"trusting X-Forwarded-* from {config['TRUSTED_PROXY_HOPS']} proxy hop(s)")
    if (config.get("SQLALCHEMY_DATABASE_URI") or "").startswith("postgresql") and not shutil.which("pg_dump"):
        report.warn("pg_dump not found: `flask backup create` cannot run", "apt-get install postgresql-client")
    if not config.get("METRICS_TOKEN"):
        report.fail("METRICS_TOKEN is not set (/metrics answers 404)",
                    f"set METRICS_TOKEN to a random value and give it to Prometheus: {RANDOM_VALUE_CMD}")
    else:
        report.ok("METRICS_TOKEN set")


def check_services(config, report: Report) -> None:
    database = checks.check_database()
    if not database["ok"]:
        report.fail(f"database unreachable ({database['dialect']}: {database['error']})",
                    "check DATABASE_URL and that the server is running")
    else:
        report.ok(f"database reachable ({database['dialect']})")
        migrations = checks.check_migrations()
        if migrations["ok"]:
            report.ok(f"migrations at head ({migrations['head']})")
        else:
            report.fail(f"migrations at {migrations['current']}, head is {migrations['head']}",
                        "run: flask --app wsgi db upgrade")
    if config.get("REDIS_URL"):
        result = checks.check_redis(config["REDIS_URL"], timeout=2)
        if result["ok"]:
            report.ok("Redis reachable")
        else:
            report.fail(f"Redis unreachable ({result['error']})", "check REDIS_URL and that Redis is running")
    else:
        report.ok("no REDIS_URL: embedded mode (in-process tasks)")


def check_timezone(report: Report) -> None:
    try:
        zoneinfo.ZoneInfo("Asia/Jakarta")
    except zoneinfo.ZoneInfoNotFoundError:
        report.fail("timezone data missing (Asia/Jakarta)", "install the tzdata package (pip install tzdata)")
    else:
        report.ok("timezone data available (Asia/Jakarta)")


def check_mail(config, report: Report, production: bool) -> None:
    if not config.get("SMTP_HOST"):
        report.ok("no SMTP_HOST: e-mail notifications are not sent")
        return
    problems = False
    sender = config.get("MAIL_FROM") or ""
    if "@" not in sender:
        problems = True
        report.fail("SMTP_HOST is set but MAIL_FROM is missing", "set MAIL_FROM, e.g. sinergi@kota.go.id")
    elif production and sender.endswith("@localhost"):
        problems = True
        report.fail(f"MAIL_FROM is {sender}", "set MAIL_FROM to an address of your mail domain")
    if not config.get("SMTP_PORT"):
        problems = True
        report.fail("SMTP_HOST is set but SMTP_PORT is missing", "set SMTP_PORT (587 with SMTP_STARTTLS=1, or 25)")
    if config.get("SMTP_USER") and not config.get("SMTP_PASSWORD"):
        problems = True
        report.fail("SMTP_USER is set without SMTP_PASSWORD", "set SMTP_PASSWORD or unset SMTP_USER")
    if not problems:
        report.ok(f"mail settings coherent ({config['SMTP_HOST']}:{config['SMTP_PORT']})")


def run_checks() -> Report:
    config = current_app.config
    production = config.get("ENV_NAME") == "production"
    report = Report()
    check_secret_key(config, report, production)
    check_keys(config, report)
    if production:
        check_production(config, report)
    check_services(config, report)
    check_timezone(report)
    check_mail(config, report, production)
    return report


@click.command("doctor")
@with_appcontext
def doctor_command():
    """Check the configuration and the services it names; exit 1 if anything fails."""
    report = run_checks()
    for line in report.lines:
        click.echo(line)
    if report.failed:
        click.echo(f"{report.failed} problem(s) found.", err=True)
        raise SystemExit(1)
    click.echo("All checks passed.")
