"""Page benchmark at province scale (issue #8, and the dashboard figure of issue #6).

    .venv/bin/python bench/pages.py                       # 10k, 100k and 1M cases (make bench)
    .venv/bin/python bench/pages.py --sizes 10k --requests 20 --no-load-test   # smoke run

For each size it uses (or creates and bulk-loads) the PostgreSQL database ``sinergi_bench_<size>``
(``flask demo load --households N --bulk``: N households, one case each), runs ``flask db upgrade``,
starts the app under gunicorn (127.0.0.1, Redis db 13 unless BENCH_REDIS_URL) with the opt-in
``Server-Timing`` header (``SINERGI_SERVER_TIMING=1``, see ``caseapp/core/timing.py``), logs in the demo
users and requests every page in :data:`PAGES` one at a time. Per page it prints p50/p95/p99 of the
server time (``app`` in Server-Timing: view + SQL + template), the summed SQL time of the page's
statements (``db``: cursor execute → result, same requests) and the statements per request. Then
requests/s of case detail with 16 concurrent clients beside a bare Flask endpoint served by the same
gunicorn settings. Results: ``bench/results.json`` and the table in ``docs/performance.md``.

A new page is one line in :data:`PAGES`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess  # nosec B404 - starts our own gunicorn and flask CLI
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# One database per size: <prefix><size> (the smoke test uses its own prefix).
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "sinergi_bench_")


def _bench_key(label: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"sinergi-bench-{label}".encode()).digest()).decode()


# The keys the benchmark databases are loaded and read with. Synthetic data only, so fixed,
# benchmark-only keys make a loaded database reusable from any checkout (a checkout's instance/
# dev keys differ). BENCH_ENCRYPTION_KEY / BENCH_BLIND_INDEX_KEY reuse data loaded under other keys.
BENCH_KEYS = {
    "SECRET_KEY": _bench_key("secret"),
    "ENCRYPTION_KEY": os.environ.get("BENCH_ENCRYPTION_KEY") or _bench_key("encryption"),
    "BLIND_INDEX_KEY": os.environ.get("BENCH_BLIND_INDEX_KEY") or _bench_key("blind-index"),
}
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
# Sizes built from a smaller one (copy of its database + `flask demo replicate --copies N`).
REPLICATED = {"1m": ("100k", 9)}
PASSWORD = "sinergi-demo-2025"  # noqa: S105 - the documented demo password
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"  # noqa: S105 - the documented demo secret
MFA = {"admin", "supervisor"}
GUNICORN = ["--workers", "4", "--threads", "1", "--worker-class", "sync", "--backlog", "256",
            "--timeout", "120", "--log-level", "warning"]
# Requests before measuring a page: each gunicorn worker compiles its templates and fills its
# connection pool on the first requests it happens to receive.
WARMUP = 12
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
TIMING = re.compile(r'app;dur=([\d.]+), db;dur=([\d.]+);desc="(\d+) queries"')


@dataclass(frozen=True)
class Page:
    """One measured page: who asks, how, and what (``{case}``, ``{nik}``, ``{name}`` are filled from
    the loaded data; ``form`` is POSTed with a CSRF token)."""

    name: str
    user: str
    path: str
    form: dict | None = None
    expect: tuple[int, ...] = (200,)
    goal_ms: float | None = None


# The pages of issue #8 (goals: p95 at 1M; every page also ≤ 1.5 × its p95 at 10k).
PAGES = (
    Page("caseload p1", "supervisor", "/cases/?stage=verification&sort=due&per_page=10&page=1", goal_ms=50),
    Page("caseload p200", "supervisor", "/cases/?stage=verification&sort=due&per_page=10&page=200", goal_ms=50),
    Page("case detail", "supervisor", "/cases/{case}", goal_ms=50),
    Page("my work", "worker", "/cases/my-work", goal_ms=50),
    Page("approval queue", "supervisor", "/cases/approvals"),
    Page("search NIK", "worker", "/households/search", form={"number": "{nik}"}, expect=(302,), goal_ms=50),
    Page("search name", "worker", "/households/?q={name}", goal_ms=50),
    Page("dashboard", "viewer", "/reports/dashboard", goal_ms=300),
)


# --- a small HTTP client (stdlib only) -------------------------------------------------------------

@dataclass
class Client:
    port: int
    cookies: dict = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def csrf(self, path: str) -> str:
        status, _, text = self.request("GET", path)
        match = CSRF.search(text)
        if not match:
            raise RuntimeError(f"no CSRF token on {path} (status {status})")
        return match.group(1)


def totp_now(secret: str = TOTP_SECRET) -> str:
    import base64

    key = base64.b32decode(secret)
    counter = struct.pack(">Q", int(time.time()) // 30)
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def login(port: int, user: str) -> Client:
    client = Client(port)
    status, headers, _ = client.request("POST", "/login", {"email": f"{user}@sinergi.test", "password": PASSWORD,
                                                          "csrf_token": client.csrf("/login")})
    if user in MFA and status == 302 and "/login/totp" in headers.get("location", ""):
        status, headers, _ = client.request("POST", "/login/totp", {"code": totp_now(),
                                                                   "csrf_token": client.csrf("/login/totp")})
    if status != 302:
        raise RuntimeError(f"log-in of {user} failed ({status})")
    return client


# --- servers and data ------------------------------------------------------------------------------

def database_url(size: str) -> str:
    return POSTGRES.rsplit("/", 1)[0] + f"/{DB_PREFIX}{size}"


def app_env(size: str, **extra) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url(size), "REDIS_URL": REDIS, "SINERGI_ENV": "development",
           "SINERGI_SERVER_TIMING": "1", "PYTHONPATH": str(ROOT), **BENCH_KEYS, **extra}
    return env


def flask(size: str, *args: str) -> str:
    result = subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=app_env(size),  # noqa: S603  # nosec B603
                            capture_output=True, text=True, check=True)
    return result.stdout


def psql_scalar(size: str | None, sql: str) -> str:
    import psycopg

    url = database_url(size) if size else POSTGRES
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


def ensure_data(size: str, log) -> dict:
    """Create/migrate/load ``sinergi_bench_<size>`` unless it already holds the cases."""
    import psycopg

    want = SIZES[size]
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{DB_PREFIX}{size}",)).fetchone()
    if exists is None and size in REPLICATED:
        # 1M: a copy of the 100k set with `flask demo replicate` appending the other nine tenths.
        base, copies = REPLICATED[size]
        ensure_data(base, log)
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DB_PREFIX}{size}" TEMPLATE "{DB_PREFIX}{base}"')
        log(f"[{size}] created database {DB_PREFIX}{size} from {DB_PREFIX}{base}; replicating ×{copies}…")
        started = time.perf_counter()
        flask(size, "demo", "replicate", "--copies", str(copies))
        log(f"[{size}] replicated ({time.perf_counter() - started:.0f} s)")
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        if exists is None and size not in REPLICATED:
            conn.execute(f'CREATE DATABASE "{DB_PREFIX}{size}"')
            log(f"[{size}] created database {DB_PREFIX}{size}")
        # As recommended for deployments (docs/reports.md): JIT compiles short interactive statements
        # for tens of milliseconds each.
        conn.execute(f'ALTER DATABASE "{DB_PREFIX}{size}" SET jit = off')
    before = _revision(size)
    flask(size, "db", "upgrade")
    if before != _revision(size):
        # A migration that rewrote rows (a backfill) leaves dead rows and stale statistics; a deployment's
        # autovacuum catches up within minutes, the benchmark does it at once.
        with psycopg.connect(database_url(size), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        log(f"[{size}] migrated {before} → {_revision(size)}; vacuumed and analysed")
    cases = _count(size, "cases")
    if cases < want:
        log(f"[{size}] loading {want:,} households with a case each (bulk COPY)…")
        started = time.perf_counter()
        result = subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "demo", "load", "--households", str(want),  # noqa: S603  # nosec B603
                                 "--bulk"], cwd=ROOT, env=app_env(size), capture_output=True, text=True, check=True)
        log(f"[{size}] " + result.stdout.strip().splitlines()[-1] + f" ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    log(f"[{size}] " + flask(size, "reports", "refresh-dashboard").strip()
        + f" (scheduled task in production; {time.perf_counter() - started:.0f} s)")
    return {"cases": _count(size, "cases"), "households": _count(size, "households"),
            "persons": _count(size, "persons"), "steps": _count(size, "steps"),
            "interventions": _count(size, "interventions"), "audit_events": _count(size, "audit_events")}


def _revision(size: str) -> str | None:
    import psycopg

    with psycopg.connect(database_url(size), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def _count(size: str, table: str) -> int:
    return int(psql_scalar(size, f"SELECT count(*) FROM {table}"))  # noqa: S608  # nosec B608


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn on 127.0.0.1 serving *app* ("wsgi:app" or the bare endpoint) until stopped."""

    def __init__(self, size: str, app: str = "wsgi:app") -> None:
        self.port = free_port()
        # The app's JSON request log goes to a file: a pipe nobody reads fills after ~64 KB and then
        # blocks every worker in its next log write (the load test's "collapse" of earlier runs).
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603
            [PYTHON, "-m", "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{self.port}", app],
            cwd=ROOT, env=app_env(size), stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"gunicorn exited: {self.log.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# --- measuring -------------------------------------------------------------------------------------

def samples_for(size: str) -> dict:
    """Values the pages need, picked from the loaded data (a spread of cases, one real NIK)."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    os.environ.update({"DATABASE_URL": database_url(size), "SINERGI_ENV": "development", **BENCH_KEYS})
    from caseapp import create_app

    app = create_app()
    with app.app_context(), psycopg.connect(database_url(size)) as conn:
        from caseapp.core.crypto import decrypt

        top = conn.execute("SELECT max(id) FROM cases").fetchone()[0]
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM cases WHERE id IN (SELECT (random() * %s)::int FROM generate_series(1, 400)) LIMIT 50",
            (top,))]
        token, = conn.execute("SELECT nik_ciphertext FROM persons WHERE household_id = "
                              "(SELECT household_id FROM cases WHERE owner_id = (SELECT id FROM users WHERE "
                              "email = 'worker@sinergi.test') ORDER BY id DESC LIMIT 1) LIMIT 1").fetchone()
        nik = decrypt(bytes(token), "nik")
    return {"cases": ids, "nik": nik, "name": "Sutrisno"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = int(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (h - low)


def measure_page(page: Page, client: Client, samples: dict, requests: int) -> dict:
    app_ms, db_ms, counts = [], [], []
    for i in range(requests + WARMUP):
        values = {"case": samples["cases"][i % len(samples["cases"])], "nik": samples["nik"], "name": samples["name"]}
        path = page.path.format(**values)
        if page.form is not None:
            form = {k: v.format(**values) for k, v in page.form.items()}
            form["csrf_token"] = client.csrf("/households/")
            status, headers, _ = client.request("POST", path, form)
        else:
            status, headers, _ = client.request("GET", path)
        if status not in page.expect:
            raise RuntimeError(f"{page.name}: {path} answered {status}")
        match = TIMING.search(headers.get("server-timing", ""))
        if not match:
            raise RuntimeError(f"{page.name}: no Server-Timing header (SINERGI_SERVER_TIMING off?)")
        if i < WARMUP:
            continue
        app_ms.append(float(match.group(1)))
        db_ms.append(float(match.group(2)))
        counts.append(int(match.group(3)))
    return {"p50": round(percentile(app_ms, 0.5), 2), "p95": round(percentile(app_ms, 0.95), 2),
            "p99": round(percentile(app_ms, 0.99), 2), "sql_p50": round(percentile(db_ms, 0.5), 2),
            "sql_p95": round(percentile(db_ms, 0.95), 2), "queries": sorted(set(counts)), "requests": requests}


def throughput(port: int, paths: list[str], cookies: dict | None, seconds: float, clients: int = 16) -> float:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def run(n: int) -> None:
        client = Client(port, dict(cookies or {}))
        i = n
        while time.monotonic() < stop:
            status, _, _ = client.request("GET", paths[i % len(paths)])
            if status != 200:
                raise RuntimeError(f"load test: {paths[i % len(paths)]} answered {status}")
            done[n] += 1
            i += clients
    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


def bench_size(size: str, args, log) -> dict:
    data = ensure_data(size, log)
    log(f"[{size}] data: " + ", ".join(f"{k} {v:,}" for k, v in data.items()))
    samples = samples_for(size)
    server = Server(size)
    result: dict = {"data": data, "pages": {}}
    try:
        clients = {user: login(server.port, user) for user in sorted({p.user for p in PAGES})}
        for page in PAGES:
            figures = measure_page(page, clients[page.user], samples, args.requests)
            result["pages"][page.name] = figures
            log(f"[{size}] {page.name:15} p50 {figures['p50']:8.1f}  p95 {figures['p95']:8.1f}  "
                f"p99 {figures['p99']:8.1f} ms   SQL p50 {figures['sql_p50']:7.1f} ms   "
                f"queries {','.join(map(str, figures['queries']))}")
        if args.load_test:
            paths = [f"/cases/{case_id}" for case_id in samples["cases"]]
            result["rps_case_detail"] = round(throughput(server.port, paths, clients["supervisor"].cookies,
                                                         args.seconds), 1)
    finally:
        server.stop()
    if args.load_test:
        bare = Server(size, "bench.bare:app")
        try:
            throughput(bare.port, ["/"], None, 1)
            result["rps_bare"] = round(throughput(bare.port, ["/"], None, args.seconds), 1)
        finally:
            bare.stop()
        share = result["rps_case_detail"] / result["rps_bare"] if result["rps_bare"] else 0
        result["rps_share"] = round(share, 3)
        log(f"[{size}] 16 clients: case detail {result['rps_case_detail']} req/s, bare Flask "
            f"{result['rps_bare']} req/s ({share:.0%})")
    return result


# --- report ----------------------------------------------------------------------------------------

def goals(results: dict) -> list[str]:
    lines = []
    sizes = results["sizes"]
    small, big = sizes.get("10k"), sizes.get("1m")
    for page in PAGES:
        if big and page.goal_ms is not None:
            p95 = big["pages"][page.name]["p95"]
            lines.append(f"{page.name}: p95 at 1M {p95:.1f} ms ≤ {page.goal_ms:.0f} ms: "
                         f"{'yes' if p95 <= page.goal_ms else 'NO'}")
        if big and small:
            a, b = small["pages"][page.name]["p95"], big["pages"][page.name]["p95"]
            lines.append(f"{page.name}: p95 1M / 10k = {b / a:.2f} ≤ 1.5: {'yes' if b <= 1.5 * a else 'NO'}")
    # Case detail runs a few more statements for some stages (e.g. interventions to act on); the
    # check is that the most any request of a page needs does not grow with the data.
    counts = {page.name: {max(s["pages"][page.name]["queries"]) for s in sizes.values()} for page in PAGES}
    same = all(len(c) == 1 for c in counts.values())
    lines.append(f"queries per request (max per page) the same at every size: {'yes' if same else 'NO'}")
    for name, s in sizes.items():
        if "rps_share" in s:
            lines.append(f"case detail under load at {name}: {s['rps_share']:.0%} of bare ≥ 30%: "
                         f"{'yes' if s['rps_share'] >= 0.3 else 'NO'}")
    return lines


def markdown(results: dict) -> str:
    sizes = list(results["sizes"])
    out = [f"Run {results['started']} on {results['machine']}; {results['requests']} requests per page "
           f"after {WARMUP} warm-up; gunicorn `{' '.join(GUNICORN)}`.", ""]
    out.append("| page | " + " | ".join(f"{s} p50 / p95 / p99 ms" for s in sizes) + " | "
               + " | ".join(f"{s} SQL ms (p50)" for s in sizes) + " | queries |")
    out.append("|---" * (2 + 2 * len(sizes)) + "|")
    for page in PAGES:
        cells = [f"{results['sizes'][s]['pages'][page.name]['p50']:.1f} / "
                 f"{results['sizes'][s]['pages'][page.name]['p95']:.1f} / "
                 f"{results['sizes'][s]['pages'][page.name]['p99']:.1f}" for s in sizes]
        sql = [f"{results['sizes'][s]['pages'][page.name]['sql_p50']:.1f}" for s in sizes]
        queries = sorted({q for s in sizes for q in results["sizes"][s]["pages"][page.name]["queries"]})
        out.append(f"| {page.name} | " + " | ".join(cells) + " | " + " | ".join(sql) + " | "
                   + ", ".join(map(str, queries)) + " |")
    rps = [s for s in sizes if "rps_case_detail" in results["sizes"][s]]
    if rps:
        out += ["", "| 16 concurrent clients | " + " | ".join(rps) + " |", "|---" * (1 + len(rps)) + "|",
                "| case detail req/s | " + " | ".join(str(results["sizes"][s]["rps_case_detail"]) for s in rps) + " |",
                "| bare Flask req/s | " + " | ".join(str(results["sizes"][s]["rps_bare"]) for s in rps) + " |",
                "| share | " + " | ".join(f"{results['sizes'][s]['rps_share']:.0%}" for s in rps) + " |"]
    out += ["", "Goals:", ""] + [f"- {line}" for line in goals(results)]
    return "\n".join(out) + "\n"


def write_docs(table: str) -> None:
    path = ROOT / "docs" / "performance.md"
    text = path.read_text() if path.exists() else ""
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    block = f"{start}\n{table}{end}"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text += "\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1m", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--requests", type=int, default=60, help="measured requests per page")
    parser.add_argument("--seconds", type=float, default=10, help="length of each load test")
    parser.add_argument("--no-load-test", dest="load_test", action="store_false")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--no-docs", dest="docs", action="store_false", help="do not rewrite docs/performance.md")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other sizes already in --output (a size measured in a later run)")
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"--sizes: unknown {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    results = {"started": datetime.now(UTC).isoformat(timespec="seconds"),
               "machine": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
               "requests": args.requests, "gunicorn": GUNICORN, "sizes": {}}
    if args.merge and Path(args.output).exists():
        previous = json.loads(Path(args.output).read_text())
        results["sizes"] = {k: v for k, v in previous.get("sizes", {}).items() if k not in sizes}
        results["earlier_runs"] = [*previous.get("earlier_runs", []), {"started": previous.get("started"),
                                                                         "sizes": list(results["sizes"])}]
    for size in sizes:
        results["sizes"][size] = bench_size(size, args, lambda line: print(line, flush=True))
        results["sizes"][size]["measured"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["sizes"] = {s: results["sizes"][s] for s in SIZES if s in results["sizes"]}
    for line in goals(results):
        print(line)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    if args.docs:
        write_docs(markdown(results))
    return results


if __name__ == "__main__":
    main()
