"""Smoke run of the page benchmark (``make bench``): 10,000 cases, a few requests per page.

Uses its own database ``sinergi_benchsmoke_10k`` (loaded with the benchmark's fixed keys): reused when
present (seconds), otherwise created and bulk-loaded first (a minute or two). Runs ``bench/pages.py``
as ``make bench`` does: gunicorn on 127.0.0.1, PostgreSQL, Redis, the opt-in Server-Timing header.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_run_reports_every_page(tmp_path):
    output = tmp_path / "results.json"
    env = {**os.environ, "BENCH_POSTGRES_URL": os.environ["TEST_POSTGRES_URL"],
           "BENCH_REDIS_URL": os.environ["TEST_REDIS_URL"], "BENCH_DB_PREFIX": "sinergi_benchsmoke_"}
    for name in ("BENCH_ENCRYPTION_KEY", "BENCH_BLIND_INDEX_KEY"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "bench/pages.py", "--sizes", "10k", "--requests", "5", "--no-load-test", "--no-docs",
         "--output", str(output)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(output.read_text())["sizes"]["10k"]
    assert figures["data"]["cases"] >= 10_000
    sys.path.insert(0, str(ROOT / "bench"))
    from pages import PAGES

    for page in PAGES:
        row = figures["pages"][page.name]
        assert 0 < row["p50"] <= row["p95"] <= row["p99"], (page.name, row)
        assert 0 < row["sql_p50"] <= row["p99"], (page.name, row)   # SQL time is part of the server time
        assert row["queries"] and max(row["queries"]) < 30, (page.name, row)
    # The printed table names every page with its figures.
    for page in PAGES:
        assert f"[10k] {page.name}" in result.stdout
