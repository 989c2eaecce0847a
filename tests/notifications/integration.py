"""The real thing for the notification integration tests: Redis, SMTP, a webhook, Celery processes.

:class:`NotificationStack` starts a redis-server of its own on a free loopback port (so a test can
stop it without touching the machine's Redis on 6379 that other tests use), an aiosmtpd server, a
webhook receiver, and worker / beat subprocesses that run ``celery -A workers.celery_app`` against
the run's database. It builds a Flask app for the test process with the same settings (its
after-commit publishes go to that Redis). Everything committed during the test is deleted at the end
(integration tests share the run's database with every other test).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import redis
from sqlalchemy import delete, func, select, text, update

from caseapp import create_app
from caseapp.auth.models import User
from caseapp.cases import operations as case_ops
from caseapp.cases.models import Case
from caseapp.cases.operations.scope_sync import rebuild_tallies
from caseapp.extensions import db
from caseapp.notifications import operations as ops
from caseapp.notifications.models import Channel, Kind, Notification, NotificationDelivery, NotificationPreference
from tests.factories import HouseholdFactory, PersonFactory
from tests.helpers import DEMO_PASSWORD, totp_code
from tests.notifications.conftest import HEAD_NIK, WEBHOOK_SECRET
from tests.notifications.servers import SmtpServer, WebhookReceiver, free_port, wait_for

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Short clocks: each test takes seconds. The order that matters still holds:
# task time limit (4 s) < claim lease (5 s) < visibility timeout (8 s).
FAST = {
    "NOTIFY_BACKOFF_BASE": "0.3",
    "NOTIFY_BACKOFF_MAX": "1",
    "NOTIFY_MAX_ATTEMPTS": "3",
    "NOTIFY_RELAY_AFTER": "1",
    "NOTIFY_RELAY_INTERVAL": "0.5",
    "NOTIFY_SLA_SCAN_INTERVAL": "3600",
    "NOTIFY_CLAIM_LEASE": "5",
    "CELERY_TASK_TIME_LIMIT": "4",
    "CELERY_VISIBILITY_TIMEOUT": "8",
    "CELERY_RESTORE_INTERVAL": "1",
    "SMTP_TIMEOUT": "2",
    "SMS_WEBHOOK_TIMEOUT": "2",
    "PUBLIC_BASE_URL": "https://sinergi.kedirikota.test",
    "MAIL_FROM": "Sinergi <sinergi@kedirikota.test>",
}

# Rows a test may commit, children first; everything above the ids seen at the start is removed.
CLEANUP_TABLES = ("notification_deliveries", "notifications", "audit_events", "access_logs", "api_tokens", "steps",
                  "interventions", "attachments", "notes", "cases", "persons", "housing_surveys",
                  "household_kk_history", "household_desil_history", "households")


class RedisServer:
    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--logfile", str(self.log)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: self._ping(client), timeout=10, message="redis-server to answer")

    @staticmethod
    def _ping(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class NotificationStack:
    def __init__(self, database_url: str, tmp_path: Path, monkeypatch, *, smtp_up: bool = True,
                 webhook_up: bool = True, **overrides: str) -> None:
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.redis = RedisServer(free_port(), tmp_path / "redis.log")
        self.smtp = SmtpServer()
        self.webhook = WebhookReceiver(WEBHOOK_SECRET)
        self._smtp_up, self._webhook_up = smtp_up, webhook_up
        self.env = {
            **os.environ, **FAST, **overrides,
            "SINERGI_ENV": "testing",
            "TEST_DATABASE_URL": database_url,
            "TEST_REDIS_URL": self.redis.url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp.port),
            "SMS_WEBHOOK_URL": self.webhook.url,
            "SMS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        self.processes: list[subprocess.Popen] = []
        self.app = None
        self._marks: dict[str, int] = {}
        self._started_at = datetime.now(UTC)

    # --- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> NotificationStack:
        self.redis.start()
        if self._smtp_up:
            self.smtp.start()
        if self._webhook_up:
            self.webhook.start()
        for name, value in self.env.items():
            if os.environ.get(name) != value:
                self.monkeypatch.setenv(name, value)
        self.app = create_app("testing")
        with self.db() as session:
            for table in CLEANUP_TABLES:
                self._marks[table] = session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
            self._reset_logins(session)
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            self.stop(process)
        self.smtp.stop()
        self.webhook.stop()
        try:
            with self.db() as session:
                # Audit and access logs are append-only for the application; tests clean up as a superuser.
                session.execute(text("SET LOCAL session_replication_role = replica"))
                for table in CLEANUP_TABLES:
                    session.execute(text(f"DELETE FROM {table} WHERE id > :mark"),
                                    {"mark": self._marks[table]})
                rebuild_tallies(session)  # the case tallies count what is left
                session.execute(delete(NotificationPreference).where(
                    NotificationPreference.updated_at >= self._started_at))
                session.execute(update(User).where(User.email.like("%@sinergi.test"))
                                .values(phone=None, locale="id"))
                self._reset_logins(session)
        finally:
            with self.app.app_context():
                db.engine.dispose()
            self.redis.stop()

    @staticmethod
    def _reset_logins(session) -> None:
        # A login uses up the TOTP time step; the next test must be able to log in again.
        session.execute(update(User).where(User.email.like("%@sinergi.test")).values(totp_last_step=None))

    @contextmanager
    def db(self):
        """A session of the test's app, committed at the end."""
        with self.app.app_context():
            try:
                yield db.session
                db.session.commit()
            finally:
                db.session.remove()

    # --- processes ---------------------------------------------------------------------------

    def start_worker(self, name: str = "w1", concurrency: int = 1) -> subprocess.Popen:
        log = self.tmp / f"worker-{name}.log"
        mark = len(log.read_text()) if log.exists() else 0  # a restarted worker appends to its log
        with log.open("a") as out:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "prefork",
                 "--concurrency", str(concurrency), "--queues", "default,notifications", "--hostname", f"{name}@%h",
                 "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                cwd=PROJECT_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        wait_for(lambda: " ready." in log.read_text()[mark:] or process.poll() is not None, timeout=60,
                 message=f"worker {name} to start")
        assert process.poll() is None, log.read_text()[-3000:]
        return process

    def start_beat(self) -> subprocess.Popen:
        log = self.tmp / "beat.log"
        with log.open("a") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat", "--schedule",
                 str(self.tmp / "beat-schedule"), "--max-interval", "1", "--loglevel", "INFO"],
                cwd=PROJECT_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL the whole worker (parent and pool children): nothing gets to clean up."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    @staticmethod
    def stop(process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log(self, name: str) -> str:
        path = self.tmp / name
        return path.read_text() if path.exists() else ""

    # --- data ----------------------------------------------------------------------------------

    def send(self, task_name: str, *args, task_id: str | None = None) -> None:
        self.app.extensions["celery"].send_task(task_name, args=list(args), task_id=task_id, ignore_result=True)

    def prefer(self, email: str, kinds: dict[str, list[Channel]], *, phone: str | None = None,
               locale: str = "id") -> int:
        """Set a demo user's channels for *kinds* (every other kind: in-app only), phone and language."""
        with self.db() as session:
            user = session.scalar(select(User).where(User.email == email))
            user.phone, user.locale = phone, locale
            ops.set_preferences(session, user, kinds)
            return user.id

    def committed_case(self) -> dict:
        """A committed case whose verification waits for approval: owner worker@, head with HEAD_NIK."""
        with self.db() as session:
            worker = session.scalar(select(User).where(User.email == "worker@sinergi.test"))
            supervisor = session.scalar(select(User).where(User.email == "supervisor@sinergi.test"))
            household = PersonFactory(household=HouseholdFactory(), nik=HEAD_NIK).household
            case = case_ops.create_referral(session, actor=worker, household=household, source="OUTREACH",
                                            reason="Atap bocor")
            case_ops.transition_case(session, case, "accept_referral", supervisor, version=case.version,
                                     assignee_id=worker.id)
            case_ops.transition_case(session, case, "submit_verification", worker, version=case.version,
                                     findings="Dinding retak")
            session.flush()
            return {"id": case.id, "number": case.number, "version": case.version}

    def approve_in_process(self, case: dict) -> None:
        with self.db() as session:
            supervisor = session.scalar(select(User).where(User.email == "supervisor@sinergi.test"))
            case_ops.transition_case(session, session.get(Case, case["id"]), "approve_verification", supervisor,
                                     version=case["version"])

    def api_token(self, email: str) -> dict:
        client = self.app.test_client()
        response = client.post("/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD,
                                                           "totp": totp_code()})
        assert response.status_code == 200, response.json
        return {"Authorization": f"Bearer {response.json['token']}"}

    def notification(self, case: dict, kind: str = Kind.APPROVED) -> dict:
        with self.db() as session:
            row = session.execute(select(Notification.id, Notification.status, Notification.recipient_id)
                                  .where(Notification.case_id == case["id"], Notification.kind == kind)).one()
            deliveries = {str(d.channel): {"id": d.id, "status": str(d.status), "attempts": d.attempts,
                                           "last_error": d.last_error}
                          for d in session.scalars(select(NotificationDelivery).where(
                              NotificationDelivery.notification_id == row.id))}
            return {"id": row.id, "status": str(row.status), "recipient_id": row.recipient_id, **deliveries}

    def count(self, stmt) -> int:
        with self.db() as session:
            return session.scalar(select(func.count()).select_from(stmt.subquery()))


def wait_until_quiet(seconds: float) -> None:
    """Give workers and the relay time to do anything they would wrongly do twice."""
    time.sleep(seconds)
