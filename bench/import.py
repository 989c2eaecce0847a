"""DTSEN import throughput beside a bare PostgreSQL COPY of the same file, and search at 1 M persons.

``make bench-import`` (not part of ``make test``). Needs PostgreSQL (``BENCH_POSTGRES_URL``, default the
local server); builds a scratch database and drops it afterwards.

1. Generates a DTSEN-style CSV of BENCH_HOUSEHOLDS households (default 100,000; ~400,000 person rows).
2. COPY     — the same file into an unindexed table of text columns (``COPY … FROM STDIN (FORMAT csv)``):
              the yardstick.
3. import   — ``run_import`` as ``flask import households`` runs it: parse, validate, encrypt (worker
              processes, one per core), COPY into the staging table, set-based checks and merge into the
              indexed register, commit. Timed end to end; stage times from the import's own counters
              (parse_validate and encrypt: seconds inside the worker processes, summed; CPU seconds of
              this process and of the workers printed beside them).
4. re-import — the same file again (nothing changes: idempotent), timed.
5. search   — the register is topped up set-based to BENCH_PERSONS persons (default 1,000,000); then
              exact NIK search (blind index) and a misspelt-name search (pg_trgm) as the list page runs
              them (count + first page), median and p95 of BENCH_SEARCH_RUNS runs.

Prints every figure and writes bench/results-import.json.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import psycopg
from flask_migrate import upgrade
from sqlalchemy import func, make_url, select, text

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from caseapp import create_app  # noqa: E402
from caseapp.auth.models import User  # noqa: E402
from caseapp.core.crypto import keyring  # noqa: E402
from caseapp.core.identifiers import seal_number  # noqa: E402
from caseapp.demo.loader import load_demo  # noqa: E402
from caseapp.extensions import db  # noqa: E402
from caseapp.households import operations as ops  # noqa: E402
from caseapp.households.identity import build_kk, build_nik  # noqa: E402
from caseapp.households.imports.engine import run_import  # noqa: E402
from caseapp.households.imports.sample import HEADER, generate  # noqa: E402
from caseapp.households.models import Household, Person  # noqa: E402
from caseapp.households.queries import filtered_households, page_of_ids  # noqa: E402

HOUSEHOLDS = int(os.environ.get("BENCH_HOUSEHOLDS", "100000"))
PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
SEARCH_RUNS = int(os.environ.get("BENCH_SEARCH_RUNS", "30"))
RESULTS = PROJECT_DIR / "bench" / "results-import.json"


def admin_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bare_copy(database_url: str, path: Path) -> tuple[int, float]:
    """COPY the file into an unindexed table of text columns; returns (rows, seconds)."""
    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with psycopg.connect(make_url(database_url).render_as_string(hide_password=False)
                         .replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute(f"CREATE TABLE bench_copy ({columns})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            with cursor.copy("COPY bench_copy FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    copy.write(block)
            rows = cursor.rowcount
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
        conn.commit()
    return rows, seconds


def cpu_seconds() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def timed_import(path: Path) -> tuple[dict, float]:
    load_before, cpu_before = os.getloadavg()[0], cpu_seconds()
    started = time.perf_counter()
    result = run_import(db.session.connection(), path, keyring=keyring())
    if not result.merged:
        raise SystemExit(f"import failed: {result.errors[:5]}")
    db.session.commit()
    seconds = time.perf_counter() - started
    cpu_after = cpu_seconds()
    result.summary["cpu_s"] = {"main": round(cpu_after[0] - cpu_before[0], 2),
                               "workers": round(cpu_after[1] - cpu_before[1], 2)}
    result.summary["load_average"] = (round(load_before, 2), round(os.getloadavg()[0], 2))
    return result, seconds


def top_up_persons(target: int) -> dict:
    """Add households of four people set-based until the register holds *target* persons."""
    have = db.session.scalar(select(func.count()).select_from(Person))
    missing_households = max((target - have) // 4, 0)
    started = time.perf_counter()
    if missing_households:
        db.session.execute(text("""
            INSERT INTO households (kk_hash, kk_masked, kelurahan_code, rw, rt, address, desil, desil_release,
                                    status, version, created_at, updated_at)
            WITH kel AS (SELECT array_agg(code ORDER BY code) AS a FROM regions WHERE level = 'kelurahan')
            SELECT md5('bench-kk-' || g) || md5('kk-' || g), '3571********' || lpad((g % 10000)::text, 4, '0'),
                   kel.a[1 + g % array_length(kel.a, 1)],
                   1 + g % 9, 1 + g % 15, 'Jl. Bench ' || g, 1 + g % 10, 'DTSEN-2025-Q2', 'active', 1, now(), now()
            FROM generate_series(1, :n) AS g, kel"""), {"n": missing_households})
        db.session.execute(text("""
            WITH first AS (SELECT ARRAY['Siti','Budi','Sri','Agus','Dewi','Joko','Rina','Eko','Wahyu','Nur',
                   'Ahmad','Yuli','Bambang','Tri','Indah','Hadi','Lestari','Rudi','Ani','Slamet','Putri',
                   'Dian','Fajar','Gita','Hendra','Irma','Kurnia','Lina','Mulyadi','Novi','Oki','Prima',
                   'Ratna','Sigit','Teguh','Umi','Vina','Winarno','Yanti','Zainal'] AS a),
                 middle AS (SELECT ARRAY['','Nur ','Dwi ','Eka ','Tri ','Ayu ','Adi ','Sri ','Wahyu ','Putra ',
                   'Putri ','Dewi ','Indra ','Rahma ','Budi ','Cahya ','Surya ','Bayu ','Intan ','Mega '] AS a),
                 last AS (SELECT ARRAY['Rahayu','Santoso','Wulandari','Prasetyo','Lestari','Susanto',
                   'Handayani','Saputra','Wijaya','Hidayat','Kusuma','Purnomo','Setiawan','Utami','Nugroho',
                   'Wibowo','Suryani','Hartono','Maharani','Firmansyah','Gunawan','Anggraini','Pratama',
                   'Ramadhani','Hakim','Sulistyo','Yulianto','Permata','Kurniawan','Safitri','Syahputra',
                   'Haryanto','Astuti','Fitriani','Iskandar','Mardiana','Nuraini','Oktaviani','Puspita',
                   'Subekti'] AS a)
            INSERT INTO persons (household_id, kelurahan_code, nik_hash, nik_masked, name, sex, birth_date,
                                 relation, codelist_version, active, created_at, updated_at)
            SELECT h.id, h.kelurahan_code, md5('bench-nik-' || h.id || '-' || m) || md5('nik-' || h.id || '-' || m),
                   '3571********' || lpad(((h.id * 4 + m) % 10000)::text, 4, '0'),
                   first.a[1 + (h.id * 7 + m * 13) % 40] || ' ' || middle.a[1 + (h.id * 3 + m) % 20]
                     || last.a[1 + (h.id * 11 + m * 5) % 40],
                   CASE WHEN m % 2 = 0 THEN 'L' ELSE 'P' END,
                   DATE '1950-01-01' + ((h.id * 31 + m * 977) % 25000),
                   CASE m WHEN 0 THEN 'head' WHEN 1 THEN 'spouse' ELSE 'child' END, 'REGSOSEK-2022', true,
                   now(), now()
            FROM households h CROSS JOIN generate_series(0, 3) AS m, first, middle, last
            WHERE h.address LIKE 'Jl. Bench %'"""))
        db.session.commit()
    db.session.execute(text("ANALYZE households"))
    db.session.execute(text("ANALYZE persons"))
    db.session.commit()
    total = db.session.scalar(select(func.count()).select_from(Person))
    return {"persons": total, "added_households": missing_households,
            "seconds": round(time.perf_counter() - started, 1)}


def timings(action, runs: int) -> dict:
    action()   # warm the cache: the figure is for a register in use
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 2),
            "max_ms": round(samples[-1], 2)}


def search_bench() -> dict:
    # A real, sealed probe person among the synthetic ones: found through the real code path.
    nik = build_nik(35, 71, "02", date(1984, 3, 9), "L", 9871)
    sealed_nik = seal_number(nik, "nik")
    kk = build_kk(35, 71, "02", date(2019, 6, 2), 9871)
    sealed_kk = seal_number(kk, "kk")
    household = Household(kelurahan_code="35.71.02.1001", rw=3, rt=4, address="Jl. Probe 1",
                          kk_ciphertext=sealed_kk.ciphertext, kk_hash=sealed_kk.blind_index,
                          kk_masked=sealed_kk.masked)
    db.session.add(household)
    db.session.flush()
    db.session.add(Person(household_id=household.id, nik_ciphertext=sealed_nik.ciphertext,
                          nik_hash=sealed_nik.blind_index, nik_masked=sealed_nik.masked,
                          name="Sulistyowati Kusumaningrum", sex="P", birth_date=date(1984, 3, 9),
                          relation="head", codelist_version="REGSOSEK-2022", active=True))
    db.session.commit()
    users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
    admin, worker = users["admin"], users["worker"]

    def by_nik():
        assert ops.find_by_number(db.session, nik).id == household.id
        db.session.rollback()

    def by_kk():
        assert ops.find_by_number(db.session, kk).id == household.id
        db.session.rollback()

    def page(user, q):
        # As the list page runs a name search: the matching ids once (counted up to 1,000), then page 1.
        def run():
            found = page_of_ids(filtered_households(user, q=q), 1, 25)
            rows = db.session.scalars(select(Household).where(Household.id.in_(found.ids))
                                      .order_by(Household.id.desc())).all()
            db.session.rollback()
            return (f"{found.total}+" if found.more else found.total), rows
        return run

    misspelt = "Sulistyowati Kusumaningrun"
    if os.environ.get("BENCH_EXPLAIN"):
        stmt = filtered_households(admin, q=misspelt).with_only_columns(Household.id) \
            .order_by(Household.id.desc()).limit(1001)
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        with db.session.connection().connection.driver_connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + str(compiled).replace("%%", "%"))
            for line in cursor.fetchall():
                print(line[0])
        db.session.rollback()
    found_total, found_rows = page(admin, misspelt)()
    assert household.id in [h.id for h in found_rows], "misspelt name search did not find the probe"
    common_total, _rows = page(admin, "Siti Rahayou")()
    return {
        "nik_exact": timings(by_nik, SEARCH_RUNS),
        "kk_exact": timings(by_kk, SEARCH_RUNS),
        "name_misspelt_admin": {**timings(page(admin, misspelt), SEARCH_RUNS), "query": misspelt,
                                "matches": found_total},
        "name_misspelt_common_admin": {**timings(page(admin, "Siti Rahayou"), SEARCH_RUNS),
                                       "query": "Siti Rahayou", "matches": common_total},
        "name_misspelt_worker_scope": {**timings(page(worker, "Siti Rahayou"), SEARCH_RUNS),
                                       "query": "Siti Rahayou", "matches": page(worker, "Siti Rahayou")()[0]},
    }


def main() -> None:
    server = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL") or \
        "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"{os.environ.get('BENCH_DB_PREFIX', 'sinergi_bench_import_')}{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(admin_conninfo(server), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    database_url = make_url(server).set(database=name).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="sinergi-bench-import-"))
    os.environ.update({"SINERGI_ENV": "testing", "TEST_DATABASE_URL": database_url, "SINERGI_INSTANCE": str(tmp)})
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform()}}
    try:
        app = create_app("testing")
        with app.app_context():
            upgrade(directory=str(PROJECT_DIR / "migrations"))
            load_demo(db.session, households=0, progress=lambda _msg: None)
            db.session.commit()
            results["postgres"] = db.session.scalar(text("SHOW server_version"))
            kelurahan = list(db.session.scalars(text("SELECT code FROM regions WHERE level = 'kelurahan' "
                                                     "ORDER BY code")))
        path = tmp / "dtsen.csv"
        started = time.perf_counter()
        rows = generate(path, HOUSEHOLDS, kelurahan)
        print(f"generated {HOUSEHOLDS:,} households / {rows:,} person rows, {path.stat().st_size / 1e6:.1f} MB "
              f"in {time.perf_counter() - started:.1f} s")
        results["file"] = {"households": HOUSEHOLDS, "rows": rows, "mb": round(path.stat().st_size / 1e6, 1)}

        copy_rows, copy_seconds = bare_copy(database_url, path)
        copy_rate = copy_rows / copy_seconds
        print(f"COPY (unindexed table):   {copy_rows:,} rows in {copy_seconds:.2f} s = {copy_rate:,.0f} rows/s")

        with app.app_context():
            rss_before = rss_mb()
            result, seconds = timed_import(path)
            rate = result.rows / seconds
            print(f"import (whole):           {result.rows:,} rows in {seconds:.2f} s = {rate:,.0f} rows/s "
                  f"= {rate / copy_rate:.1%} of COPY")
            print("  stages (s): " + ", ".join(f"{k}={v}" for k, v in result.seconds.items()))
            print(f"  workers={result.summary['workers']}, peak RSS main={rss_mb()} MB (before import "
                  f"{rss_before} MB), largest worker={result.summary['peak_rss_mb']} MB")
            print(f"  CPU s (this process, worker processes): {result.summary['cpu_s']}, batches="
                  f"{result.summary.get('batches', '-')}, 1-min load average before/after: "
                  f"{result.summary['load_average']}")
            print("  " + ", ".join(f"{k}={v}" for k, v in result.summary.items()
                                   if k.startswith(("households_", "persons_"))))
            print("  merge steps (s): " + ", ".join(f"{k}={v}" for k, v in result.summary["merge_steps"].items()))
            again, again_seconds = timed_import(path)
            changed = {k: v for k, v in again.summary.items()
                       if k.startswith(("households_", "persons_")) and k != "households_in_file" and v}
            print(f"re-import (same file):    {again_seconds:.2f} s = {again.rows / again_seconds:,.0f} rows/s, "
                  f"changes: {changed or 'none'}")
            print("  stages (s): " + ", ".join(f"{k}={v}" for k, v in again.seconds.items()))
            print(f"  CPU s (this process, worker processes): {again.summary['cpu_s']}, 1-min load average "
                  f"before/after: {again.summary['load_average']}")
            print("  merge steps (s): " + ", ".join(f"{k}={v}" for k, v in again.summary["merge_steps"].items()))
            results["copy"] = {"rows": copy_rows, "seconds": round(copy_seconds, 3), "rows_per_s": round(copy_rate)}
            results["import"] = {"rows": result.rows, "seconds": round(seconds, 3), "rows_per_s": round(rate),
                                 "ratio_to_copy": round(rate / copy_rate, 4), "stages_s": result.seconds,
                                 "workers": result.summary["workers"], "peak_rss_main_mb": rss_mb(),
                                 "rss_before_import_mb": rss_before,
                                 "peak_rss_children_mb": result.summary["peak_rss_mb"],
                                 "cpu_s": result.summary["cpu_s"], "load_average": result.summary["load_average"],
                                 "batches": result.summary.get("batches"),
                                 "summary": {k: v for k, v in result.summary.items()
                                             if k.startswith(("households_", "persons_"))}}
            results["reimport"] = {"seconds": round(again_seconds, 3), "stages_s": again.seconds,
                                   "load_average": again.summary["load_average"],
                                   "rows_per_s": round(again.rows / again_seconds), "changes": changed}

            topped = top_up_persons(PERSONS)
            print(f"register topped up to {topped['persons']:,} persons in {topped['seconds']} s")
            search = search_bench()
            for key, figures in search.items():
                print(f"search {key:28s} median {figures['median_ms']:7.2f} ms, p95 {figures['p95_ms']:7.2f} ms"
                      + (f" ({figures['matches']} matches)" if "matches" in figures else ""))
            results["search"] = {"persons": topped["persons"], **search}
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(PROJECT_DIR)}")
    finally:
        with create_app("testing").app_context():
            db.engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        for child in tmp.iterdir():
            child.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
