"""Opt-in ``Server-Timing`` header for benchmarks (issue #8): request time, SQL time and count.

Off by default and never in production (``ProdConfig`` forces it off). With ``SERVER_TIMING`` on
(environment ``SINERGI_SERVER_TIMING=1``) every response carries

    Server-Timing: app;dur=12.34, db;dur=3.21;desc="7 queries"

``app`` is the time from the first ``before_request`` to ``after_request`` (view, queries and
template; not the WSGI server), ``db`` the summed cursor-execute time of the request's SQL
statements and how many there were. ``bench/pages.py`` reads it.
"""

from __future__ import annotations

import time

from flask import Flask, g, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

_KEY = "_server_timing"


def _before_cursor(conn, cursor, statement, parameters, context, executemany):
    if has_app_context() and (timing := g.get(_KEY)) is not None:
        timing["started"] = time.perf_counter()


def _after_cursor(conn, cursor, statement, parameters, context, executemany):
    if has_app_context() and (timing := g.get(_KEY)) is not None and "started" in timing:
        timing["db"] += time.perf_counter() - timing.pop("started")
        timing["count"] += 1


def init_server_timing(app: Flask) -> None:
    if not app.config.get("SERVER_TIMING"):
        return
    if not event.contains(Engine, "before_cursor_execute", _before_cursor):
        event.listen(Engine, "before_cursor_execute", _before_cursor)
        event.listen(Engine, "after_cursor_execute", _after_cursor)

    @app.before_request
    def _start_timing():
        setattr(g, _KEY, {"t0": time.perf_counter(), "db": 0.0, "count": 0})

    @app.after_request
    def _add_header(response):
        timing = g.get(_KEY)
        if timing is not None:
            total = (time.perf_counter() - timing["t0"]) * 1000
            response.headers["Server-Timing"] = (
                f'app;dur={total:.2f}, db;dur={timing["db"] * 1000:.2f};desc="{timing["count"]} queries"')
        return response
