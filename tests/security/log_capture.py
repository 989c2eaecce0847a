"""Session-wide capture of every log record and every audit/access-log row the suite writes.

Loaded from ``tests/conftest.py`` (``pytest_plugins``). At the start of the run a handler is put on
the root logger (root at INFO as in production, the application's ``sinergi.*`` loggers at DEBUG;
Flask's ``app.logger`` and Werkzeug's request lines included), and an engine-level
SQLAlchemy listener records the parameters of every INSERT into ``audit_events`` and
``access_logs`` (also the rows whose test transaction is rolled back afterwards). API tokens issued
during the run are collected as they are created.

At the end of the run (``pytest_sessionfinish``) every record and row is searched for the secrets
the suite knows: the demo password and TOTP secret, the planted values of
``tests/security/test_log_secrets.py``, every API token issued, and any 16-digit number (the shape of
every NIK and KK the tests use). One hit fails the run. Records of the test tooling itself
(factory_boy's DEBUG lines print the factories' arguments) are not the application's logs and are
left out.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

AUDIT_TABLES = re.compile(r"^\s*INSERT\s+INTO\s+\"?(audit_events|access_logs)\"?", re.IGNORECASE)
IDENTITY_SHAPE = re.compile(r"(?<![0-9A-Za-z])\d{16}(?![0-9A-Za-z])")


@dataclass
class Capture:
    records: list[str] = field(default_factory=list)
    audit_rows: list[str] = field(default_factory=list)
    # Known secrets: value -> what it is (for the failure message).
    secrets: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plant(self, value: str, kind: str) -> None:
        if value:
            with self.lock:
                self.secrets[str(value)] = kind

    def texts(self):
        yield from (("log", text) for text in self.records)
        yield from (("audit", text) for text in self.audit_rows)

    def findings(self) -> list[str]:
        found = []
        planted = re.compile("|".join(sorted(map(re.escape, self.secrets), key=len, reverse=True)))
        for where, text in self.texts():
            for secret in set(planted.findall(text)):
                found.append(f"{self.secrets[secret]} in {where}: {text[:300]!r}")
            for number in IDENTITY_SHAPE.findall(text):
                found.append(f"16-digit number {number[:4]}… in {where}: {text[:300]!r}")
        return found


CAPTURE = Capture()


TOOLING_LOGGERS = ("factory", "faker", "hypothesis")


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in TOOLING_LOGGERS:
            return
        try:
            text = f"{record.name} {record.levelname} {record.getMessage()}"
        except Exception:  # a broken format string is still a record: keep what it holds
            text = f"{record.name} {record.levelname} {record.msg!r} {record.args!r}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extra:
            text += f" {extra!r}"
        with CAPTURE.lock:
            CAPTURE.records.append(text)


_STANDARD = set(logging.LogRecord("x", 0, "x", 0, "x", None, None).__dict__) | {"message", "asctime"}
_HANDLER = _Handler(level=logging.DEBUG)
_previous_level: int | None = None


def _on_execute(conn, cursor, statement, parameters, context, executemany):
    if AUDIT_TABLES.match(statement):
        with CAPTURE.lock:
            CAPTURE.audit_rows.append(f"{statement} {parameters!r}")


def _wrap_token_issuer() -> None:
    """Remember every API token the app hands out (the values a log line must never show)."""
    from caseapp.auth import operations

    original = operations.issue_api_token
    if getattr(original, "_captured", False):
        return

    def issue_api_token(*args, **kwargs):
        token = original(*args, **kwargs)
        CAPTURE.plant(token, "API token")
        return token

    issue_api_token._captured = True
    operations.issue_api_token = issue_api_token


def _install() -> None:
    """Production logs at INFO (create_app's basicConfig); the application's own loggers at DEBUG."""
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    logging.getLogger("sinergi").setLevel(logging.DEBUG)
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)


def pytest_configure(config):
    global _previous_level
    _previous_level = logging.getLogger().level
    _install()
    event.listen(Engine, "before_cursor_execute", _on_execute)
    _wrap_token_issuer()
    from tests.helpers import DEMO_PASSWORD, DEMO_TOTP_SECRET

    CAPTURE.plant(DEMO_PASSWORD, "demo password")
    CAPTURE.plant(DEMO_TOTP_SECRET, "TOTP secret")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    # Running the migrations (the ``app`` fixtures) applies alembic.ini's logging configuration,
    # which replaces the root logger's handlers and sets it to WARN: put the capture back.
    try:
        return (yield)
    finally:
        _install()


def _scan_and_report(session, terminal) -> None:
    findings = CAPTURE.findings()
    line = (f"log and audit scan: {len(CAPTURE.records)} log records, {len(CAPTURE.audit_rows)} audit/access rows, "
            f"{len(CAPTURE.secrets)} planted secrets + any 16-digit number; found: {len(findings)}")
    if terminal is not None:
        terminal.write_sep("=", "secrets in logs")
        terminal.write_line(line)
        for finding in findings[:20]:
            terminal.write_line(f"  {finding}")
    else:
        print(line)
    if findings and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    root = logging.getLogger()
    root.removeHandler(_HANDLER)
    if _previous_level is not None:
        root.setLevel(_previous_level)
    if event.contains(Engine, "before_cursor_execute", _on_execute):
        event.remove(Engine, "before_cursor_execute", _on_execute)
    if session.config.option.collectonly:
        return
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    _scan_and_report(session, terminal)
