"""Structured logs and the correlation id (issue #9).

One process-wide handler on the root logger writes every record as one JSON object per line
(``LOG_FORMAT=json``, the production default) or as readable text (``LOG_FORMAT=text``, the default
elsewhere). Every record carries the current *correlation id*: the web request's id (the one error
pages show, ``X-Request-ID``), or inside a Celery task the id of the request that caused it (sent in
the task message's ``sinergi_correlation_id`` header).

No personal data: callers log ids, never names or identity numbers; as a second line of defence
every 16-digit run (a NIK or KK number) in a message is masked before it is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime

_correlation: ContextVar[str | None] = ContextVar("sinergi_correlation_id", default=None)

# The Celery message header. Not "correlation_id": Celery uses that name for the AMQP property
# (set to the task id) and overwrites a header of that name in the worker.
HEADER = "sinergi_correlation_id"
_MARK = "_sinergi_handler"          # marks the handler this module installed
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is emitted.
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message", "asctime", "correlation_id", "taskName",
}


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def get_correlation_id() -> str | None:
    return _correlation.get()


def set_correlation_id(value: str | None) -> Token:
    return _correlation.set(value)


def reset_correlation_id(token: Token) -> None:
    try:
        _correlation.reset(token)
    except ValueError:  # a token from another context (signals may cross threads): just clear
        _correlation.set(None)


def mask_identifiers(text: str) -> str:
    """``3571********0001`` for every run of exactly 16 digits."""
    return _SIXTEEN_DIGITS.sub(lambda m: f"{m.group(1)}{'*' * 8}{m.group(2)}", text)


def _extras(record: logging.LogRecord):
    """The record's ``extra=`` fields; Celery's ``data`` (task args and return values) is left out:
    the message already names the task and its id, and arguments are not for logs."""
    celery = record.name.startswith("celery")
    for key, value in record.__dict__.items():
        if key not in _STANDARD and not key.startswith("_") and not (celery and key == "data"):
            yield key, value


def _correlation_of(record: logging.LogRecord) -> str | None:
    return getattr(record, "correlation_id", None) or _correlation.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, correlation_id, then any ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_identifiers(record.getMessage()),
            "correlation_id": _correlation_of(record),
        }
        for key, value in _extras(record):
            if key not in entry:
                entry[key] = value if isinstance(value, int | float | bool | type(None)) else mask_identifiers(
                    str(value))
        if record.exc_info:
            entry["exc"] = mask_identifiers(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-11-28 16:30:00,123 INFO sinergi.request [<correlation id>] request method=GET …``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = "".join(f" {key}={value}" for key, value in _extras(record))
        text = (f"{self.formatTime(record)} {record.levelname} {record.name} "
                f"[{_correlation_of(record) or '-'}] {record.getMessage()}{fields}")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return mask_identifiers(text)


def log_format(config) -> str:
    chosen = (config.get("LOG_FORMAT") or "").lower()
    if chosen in ("json", "text"):
        return chosen
    return "json" if config.get("ENV_NAME") == "production" else "text"


def configure_logging(config, *, force: bool = False) -> None:
    """Install the Sinergi handler on the root logger.

    Without *force* this only happens when nobody configured logging yet (a test runner's capture
    handlers are left alone). Entry points that own their process (the Celery worker) pass
    ``force=True``: any other root handler is replaced.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if root.handlers and not ours and not force:
        return
    for handler in list(root.handlers):
        if force or getattr(handler, _MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if log_format(config) == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel((config.get("LOG_LEVEL") or "INFO").upper())
