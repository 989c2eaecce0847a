"""Notification throughput through Celery + Redis, beside a bare no-op task, with one worker (`make bench`).

Needs PostgreSQL (``BENCH_POSTGRES_URL``, default the local server) and redis-server on PATH. Builds a
scratch database, starts its own redis-server on a free loopback port, an aiosmtpd server in this
process, and one Celery worker (prefork, as `make worker` runs it: the production Celery settings,
acks_late, prefetch 1) that serves every phase:

* no-op       — N bare ``core.do_nothing`` tasks: the yardstick;
* in-app      — N in-app notifications written through the real outbox, published after commit in
                batches (NOTIFY_BATCH_SIZE ids per task), delivered (marked sent) by the worker;
* e-mail      — N notifications with an e-mail each (and their in-app rows), sent over SMTP to the local
                aiosmtpd, one SMTP session per batch;
* in-app, one per transaction — N notifications each written in its own transaction (one task per
                notification, the worst case for batching), for honesty.

Each phase queues its messages while the worker's consumer is paused and times the worker draining
them. Prints a table and writes bench/results-notifications.json.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
from flask_migrate import upgrade
from sqlalchemy import func, make_url, select

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from caseapp import create_app  # noqa: E402
from caseapp.auth.models import User  # noqa: E402
from caseapp.demo.loader import load_demo  # noqa: E402
from caseapp.extensions import db  # noqa: E402
from caseapp.notifications import operations as ops  # noqa: E402
from caseapp.notifications.models import DeliveryStatus, Notification, NotificationDelivery  # noqa: E402
from tests.notifications.servers import SmtpServer, free_port, wait_for  # noqa: E402

N_NOOP = int(os.environ.get("BENCH_NOOP", "4000"))
N_IN_APP = int(os.environ.get("BENCH_IN_APP", "20000"))
N_EMAIL = int(os.environ.get("BENCH_EMAIL", "3000"))
N_SINGLE = int(os.environ.get("BENCH_SINGLE", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", str(os.cpu_count() or 2)))
RESULTS = PROJECT_DIR / "bench" / "results-notifications.json"


def admin_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


class Bench:
    def __init__(self) -> None:
        server = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL") or \
            "postgresql://postgres@127.0.0.1:5432/postgres"
        self.db_name = f"sinergi_bench_{uuid.uuid4().hex[:8]}"
        self.admin = psycopg.connect(admin_conninfo(server), autocommit=True, connect_timeout=5)
        self.database_url = make_url(server).set(database=self.db_name).render_as_string(hide_password=False)
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.smtp = SmtpServer()
        self.tmp = Path(tempfile.mkdtemp(prefix="sinergi-bench-"))
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "SINERGI_ENV": "testing", "TEST_DATABASE_URL": self.database_url,
                    "TEST_REDIS_URL": self.redis_url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp.port),
                    "PUBLIC_BASE_URL": "https://sinergi.kedirikota.test", "SINERGI_INSTANCE": str(self.tmp)}

    # --- set-up and tear-down ------------------------------------------------------------------

    def __enter__(self) -> Bench:
        self.app = None
        self.admin.execute(f'CREATE DATABASE "{self.db_name}"')
        try:
            return self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _start(self) -> Bench:
        # The redis-server on PATH, as in .ci/run; fixed arguments, no user input.
        self.processes.append(subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",  # noqa: S607
             "--save", "", "--appendonly", "no", "--logfile", str(self.tmp / "redis.log")],
            stdout=subprocess.DEVNULL))
        self.redis = redis.Redis(port=self.redis_port)
        wait_for(self._redis_up, timeout=10, message="redis-server")
        self.smtp.start()
        os.environ.update(self.env)
        self.app = create_app("testing")
        with self.app.app_context():
            upgrade(directory=str(PROJECT_DIR / "migrations"))
            load_demo(db.session, households=0, progress=lambda _msg: None)
            self.user_ids = list(db.session.scalars(select(User.id).where(User.active.is_(True))))
            db.session.commit()
        self.worker_log = self.tmp / "worker.log"
        with self.worker_log.open("w") as out:
            self.worker = subprocess.Popen(  # noqa: S603 - fixed arguments, no user input
                [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "prefork",
                 "--concurrency", str(CONCURRENCY), "--queues", "default,notifications", "--hostname",
                 "bench@%h", "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel",
                 "WARNING"], cwd=PROJECT_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(self.worker)
        self.celery = self.app.extensions["celery"]
        wait_for(lambda: self.celery.control.ping(timeout=0.5), timeout=60, message="the worker")
        return self

    def _redis_up(self) -> bool:
        try:
            return self.redis.ping()
        except redis.RedisError:
            return False

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.smtp.stop()
        if self.app is not None:
            with self.app.app_context():
                db.engine.dispose()
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self.admin.close()

    # --- measuring -------------------------------------------------------------------------------

    def pause(self) -> None:
        for queue in ("default", "notifications"):
            self.celery.control.cancel_consumer(queue, reply=True, timeout=5, limit=1)

    def resume(self) -> float:
        started = time.perf_counter()  # the clock runs from the moment the worker is told to consume
        for queue in ("default", "notifications"):
            self.celery.control.add_consumer(queue, reply=False)
        return started

    def queued(self) -> int:
        return sum(self.redis.llen(queue) for queue in ("default", "notifications")) + self.redis.hlen("unacked")

    def drain(self, done) -> float:
        """Resume the consumer and time until *done()* is true; returns seconds."""
        started = self.resume()
        while not done():
            time.sleep(0.01)
        return time.perf_counter() - started

    def pending(self, model) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(model).where(
                model.status != DeliveryStatus.SENT))

    def phase_noop(self) -> dict:
        self.pause()
        with self.celery.producer_or_acquire() as producer:
            for _ in range(N_NOOP):
                self.celery.send_task("core.do_nothing", producer=producer, ignore_result=True)
        seconds = self.drain(lambda: self.queued() == 0)
        return {"phase": "no-op task", "items": N_NOOP, "seconds": seconds, "tasks": N_NOOP}

    def _write(self, count: int, per_transaction: int) -> None:
        with self.app.app_context():
            for start in range(0, count, per_transaction):
                drafts = [ops.Draft(recipient_id=self.user_ids[n % len(self.user_ids)], kind="due_today",
                                    payload={"case_number": f"KDR-2026-{n:06d}", "task": "verification",
                                             "due_date": "2026-03-10"}, link="/cases/1")
                          for n in range(start, min(count, start + per_transaction))]
                ops.write_notifications(db.session, drafts)
                db.session.commit()  # published after commit, like any action

    def phase_in_app(self, count: int, per_transaction: int, label: str) -> dict:
        self.pause()
        self.app.config["SMTP_HOST"] = None  # in-app only
        self._write(count, per_transaction)
        tasks = self.queued()
        seconds = self.drain(lambda: self.pending(Notification) == 0)
        wait_for(lambda: self.queued() == 0, timeout=60, message="the queue to empty")
        return {"phase": label, "items": count, "seconds": seconds, "tasks": tasks}

    def phase_email(self) -> dict:
        self.pause()
        self.app.config["SMTP_HOST"] = "127.0.0.1"
        before = self.smtp.count()
        self._write(N_EMAIL, 500)
        tasks = self.queued()
        seconds = self.drain(lambda: self.pending(NotificationDelivery) == 0)
        received = self.smtp.count() - before
        assert received == N_EMAIL, f"SMTP server received {received} of {N_EMAIL}"
        wait_for(lambda: self.queued() == 0, timeout=60, message="the queue to empty")
        return {"phase": "e-mail (SMTP, with its in-app row)", "items": N_EMAIL, "seconds": seconds, "tasks": tasks}


def main() -> int:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection
    with Bench() as bench:
        rows = [bench.phase_noop(),
                bench.phase_in_app(N_IN_APP, 500, "in-app, batched"),
                bench.phase_email(),
                bench.phase_in_app(N_SINGLE, 1, "in-app, one per transaction")]
        batch = bench.app.config["NOTIFY_BATCH_SIZE"]
    noop_rate = rows[0]["items"] / rows[0]["seconds"]
    for row in rows:
        row["per_second"] = round(row["items"] / row["seconds"], 1)
        row["vs_noop"] = round(row["per_second"] / noop_rate, 2)
        row["seconds"] = round(row["seconds"], 3)
    goals = {"in-app, batched": 2.0, "e-mail (SMTP, with its in-app row)": 0.5}
    print(f"\nSinergi notifications through Celery + Redis — one worker, prefork x{CONCURRENCY}, "
          f"batch {batch}, {platform.machine()} with {os.cpu_count()} cores\n")
    print(f"{'phase':40} {'items':>7} {'tasks':>7} {'seconds':>9} {'per second':>11} {'x no-op':>8}  goal")
    for row in rows:
        goal = goals.get(row["phase"])
        verdict = "" if goal is None else f"≥ {goal}x {'met' if row['vs_noop'] >= goal else 'NOT met'}"
        print(f"{row['phase']:40} {row['items']:>7} {row['tasks']:>7} {row['seconds']:>9.2f} "
              f"{row['per_second']:>11.1f} {row['vs_noop']:>8.2f}  {verdict}")
    RESULTS.write_text(json.dumps({"worker": {"pool": "prefork", "concurrency": CONCURRENCY, "batch_size": batch,
                                              "cores": os.cpu_count()},
                                   "results": rows}, indent=2) + "\n")
    print(f"\nwritten: {RESULTS.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
