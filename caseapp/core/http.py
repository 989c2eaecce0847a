"""Request plumbing shared by every blueprint: correlation ids, security headers, error answers."""

from __future__ import annotations

import logging
import time

from flask import Flask, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from caseapp.core.errors import DomainError
from caseapp.core.logging import new_correlation_id, reset_correlation_id, set_correlation_id

log = logging.getLogger("sinergi.http")
request_log = logging.getLogger("sinergi.request")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """The API error shape of DESIGN.md §6."""
    return {"error": code, "message": message, "fields": fields or {}}


def _assign_request_id() -> None:
    """The correlation id: on the error pages, in ``X-Request-ID``, in every log line of this request
    and in every Celery task it causes (``caseapp.core.jobs``)."""
    g.request_started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    # Accept a proxy's id only when it looks like one; never echo arbitrary text into logs.
    valid = 8 <= len(incoming) <= 36 and incoming.replace("-", "").isalnum()
    g.request_id = incoming if valid else new_correlation_id()
    g.correlation_token = set_correlation_id(g.request_id)


def _user_id() -> int | None:
    # Only a user this request already loaded: logging must not cost a query.
    user = g.get("_login_user")
    return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None


def _log_request(response):
    """One line per request: the route template (never the raw path or its query string)."""
    started = g.get("request_started")
    if started is not None and not request.path.startswith("/static/"):
        request_log.info(
            "request", extra={
                "method": request.method,
                "path": request.url_rule.rule if request.url_rule is not None else "<unmatched>",
                "endpoint": request.endpoint or "",
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": _user_id(),
                "correlation_id": g.get("request_id"),
            })
    return response


def _clear_correlation(_exc=None) -> None:
    token = g.pop("correlation_token", None)
    if token is not None:
        reset_correlation_id(token)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if not request.path.startswith("/static/"):
        # Pages carry personal data: never keep them in a shared or browser cache.
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


MESSAGES = {
    400: _l("Permintaan tidak dapat diproses."),
    401: _l("Silakan masuk terlebih dahulu."),
    403: _l("Anda tidak punya izin untuk tindakan ini."),
    404: _l("Halaman atau data yang Anda cari tidak ditemukan."),
    405: _l("Metode tidak diizinkan."),
    409: _l("Data sudah diubah orang lain. Muat ulang halaman lalu coba lagi."),
    413: _l("Berkas terlalu besar."),
    422: _l("Periksa isian yang ditandai."),
    429: _l("Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi."),
    500: _l("Terjadi kesalahan di server. Tim TI sudah tercatat dengan kode di bawah."),
}

ERROR_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 422: "validation_failed", 429: "too_many_requests",
    500: "server_error",
}


def render_error(status: int, message: str | None = None, code: str | None = None, fields: dict | None = None):
    message = str(message or MESSAGES.get(status, MESSAGES[500]))
    if wants_json():
        body = error_body(code or ERROR_CODES.get(status, "error"), message, fields)
        body["request_id"] = g.get("request_id")
        return jsonify(body), status
    template = f"errors/{status}.html" if status in (403, 404, 500) else "errors/generic.html"
    return render_template(template, status=status, message=message, request_id=g.get("request_id")), status


def _validation_fields(exc: HTTPException) -> dict | None:
    """Field messages from webargs (API bodies and query strings), flattened to {field: [msg]}."""
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if not isinstance(messages, dict):
        return None
    fields: dict[str, list[str]] = {}
    for location in messages.values():
        for name, errors in (location.items() if isinstance(location, dict) else []):
            fields[str(name)] = [str(e) for e in errors] if isinstance(errors, list) else [str(errors)]
    return fields


def _handle_http_exception(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    return render_error(exc.code, MESSAGES.get(exc.code, exc.description), fields=_validation_fields(exc))


def _handle_csrf_error(exc: CSRFError):
    return render_error(
        400,
        str(_l("Formulir sudah kedaluwarsa atau tidak lengkap. Muat ulang halaman lalu kirim lagi.")),
        code="csrf_failed",
    )


def _handle_domain_error(exc: DomainError):
    return render_error(exc.status_code, exc.message or None, exc.code, exc.fields)


def _handle_unexpected(exc: Exception):
    # The traceback goes to the log with the correlation id; the user sees only the id.
    log.exception("unhandled error", extra={"request_id": g.get("request_id")})
    return render_error(500)


class RecordIdConverter(IntegerConverter):
    """``<int:...>`` bounded to what a database integer column holds: a larger number in a URL is a
    404 like any unknown id, not a database error (PostgreSQL refuses to compare it: a 500)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def init_http(app: Flask) -> None:
    app.url_map.converters["int"] = RecordIdConverter   # before any blueprint adds its routes
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        # Behind nginx: trust X-Forwarded-For/-Proto/-Host/-Port from exactly that many proxies, so
        # rate limits see the client's address and url_for/HSTS see https. Never more than are there.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    # First of all hooks, so every log line of the request (denials included) carries the id.
    app.before_request_funcs.setdefault(None, []).insert(0, _assign_request_id)
    app.after_request(_security_headers)
    app.after_request(_log_request)  # after-request hooks run last-registered first: this one early
    app.teardown_request(_clear_correlation)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(DomainError, _handle_domain_error)
    if not app.testing:
        app.register_error_handler(Exception, _handle_unexpected)
