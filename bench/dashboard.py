"""Dashboard timing on whatever data the configured database holds (issue #6).

    SINERGI_INSTANCE=/tmp/rep-inst .venv/bin/python bench/dashboard.py [--runs 5]
    DATABASE_URL=postgresql://… .venv/bin/python bench/dashboard.py

Prints, for the default dashboard filters (1 January → today, city-wide): the number of SQL
statements, the raw SQL time of those statements (cursor execute → result), the time of
``compute_figures`` (SQL + building the dict), and the whole HTTP request of a logged-in viewer
(permission check, session, suppression, template, charts). Median of --runs after one warm-up.
The 1,000,000-case figure needs the set-based loader of another issue; this script measures
whatever is loaded.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from caseapp import create_app
from caseapp.cases.models import Case
from caseapp.extensions import db
from caseapp.households.models import Household
from caseapp.reports.forms import default_filters
from caseapp.reports.queries import Scope, compute_figures

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--email", default="viewer@sinergi.test")
    parser.add_argument("--password", default="sinergi-demo-2025")
    args = parser.parse_args()
    app = create_app()
    app.config["RATELIMIT_ENABLED"] = False
    with app.app_context():
        engine = db.engine
        cases = db.session.scalar(select(func.count(Case.id)))
        households = db.session.scalar(select(func.count(Household.id)))
        timings: list[float] = []
        started: dict[int, float] = {}

        def before(conn, cursor, statement, parameters, context, executemany):
            started[id(cursor)] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):
            timings.append(time.perf_counter() - started.pop(id(cursor), time.perf_counter()))

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        filters = default_filters()
        compute_figures(Scope(None), filters)  # warm-up
        sql_ms, figures_ms, statements = [], [], 0
        for _ in range(args.runs):
            timings.clear()
            t = time.perf_counter()
            compute_figures(Scope(None), filters)
            figures_ms.append((time.perf_counter() - t) * 1000)
            sql_ms.append(sum(timings) * 1000)
            statements = len(timings)
            db.session.rollback()
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)

    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"email": args.email, "password": args.password,
                                "csrf_token": CSRF.search(page.text).group(1)})
    assert client.get("/reports/dashboard").status_code == 200, "log-in failed (an MFA role? use a viewer)"
    http_ms, http_statements = [], 0
    with app.app_context():
        counted: list[str] = []
        listener = lambda *a: counted.append(a[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        for _ in range(args.runs):
            counted.clear()
            t = time.perf_counter()
            response = client.get("/reports/dashboard")
            http_ms.append((time.perf_counter() - t) * 1000)
            http_statements = len(counted)
            assert response.status_code == 200
        event.remove(db.engine, "before_cursor_execute", listener)

    print(f"database: {engine.url.render_as_string(hide_password=True)}")
    print(f"data: {households} households, {cases} cases; filters {filters.date_from} → {filters.date_to}")
    print(f"compute_figures: {statements} statements, raw SQL {statistics.median(sql_ms):.1f} ms, "
          f"total {statistics.median(figures_ms):.1f} ms (median of {args.runs})")
    print(f"GET /reports/dashboard as {args.email}: {http_statements} statements, "
          f"{statistics.median(http_ms):.1f} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
