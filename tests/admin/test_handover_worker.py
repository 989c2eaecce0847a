"""A handover of 5,000 cases through a real Celery worker on the real Redis and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from celery import Celery
from sqlalchemy import func, select, text

from caseapp.cases.models import Case, HandoverJob, HandoverStatus
from caseapp.cases.operations.handover import TASK_NAME, request_handover
from caseapp.cases.operations.scope_sync import rebuild_tallies
from caseapp.core.audit import AuditEvent, verify_chain
from caseapp.extensions import db
from config import celery_settings
from tests.admin.conftest import user
from tests.admin.test_handover import _bulk_cases
from tests.factories import UserFactory
from tests.integration.test_worker import worker as worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration]

CLEANUP_TABLES = ("audit_events", "handover_jobs", "steps", "cases", "households", "users")


def test_worker_hands_over_5000_cases_with_progress(app, worker, redis_url):
    with app.app_context():
        marks = {t: db.session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {t}")) for t in CLEANUP_TABLES}
        try:
            source = user("worker@sinergi.test")
            receiver = UserFactory(role="social_worker", kecamatan_code="35.71.01")
            case_ids = _bulk_cases(source.id, 5000, "HOW5K")
            job = request_handover(db.session, user("supervisor@sinergi.test"), from_user_id=source.id,
                                   to_user_id=receiver.id, comment="mutasi")
            db.session.commit()
            job_id, receiver_id = job.id, receiver.id

            client = Celery("sinergi-test")
            client.config_from_object(celery_settings(redis_url))
            started = time.monotonic()
            client.send_task(TASK_NAME, args=[job_id], queue=worker)
            seen: list[int] = []
            while time.monotonic() - started < 180:
                db.session.expire_all()
                current = db.session.get(HandoverJob, job_id)
                db.session.rollback()  # a fresh snapshot on the next read
                if not seen or seen[-1] != current.moved:
                    seen.append(current.moved)
                if current.status in (HandoverStatus.DONE, HandoverStatus.FAILED):
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            print(f"worker handover of 5000 cases: {elapsed:.1f}s; progress seen: {seen}")
            job = db.session.get(HandoverJob, job_id)
            assert job.status == HandoverStatus.DONE, job.error
            assert job.total >= 5000 and job.moved == job.total
            assert seen == sorted(seen) and all(n % 1000 == 0 or n == job.total for n in seen)
            assert db.session.scalar(select(func.count()).select_from(Case).where(
                Case.id.in_(case_ids), Case.owner_id == receiver_id)) == 5000
            per_case = db.session.execute(select(AuditEvent.case_id, func.count()).where(
                AuditEvent.case_id.in_(case_ids), AuditEvent.action == "reassign").group_by(AuditEvent.case_id)).all()
            assert len(per_case) == 5000 and {n for _, n in per_case} == {1}
            assert verify_chain(db.session).ok
        finally:
            db.session.rollback()
            # Audit rows are append-only for the application; the test cleans up as a superuser.
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
            for table in CLEANUP_TABLES:
                db.session.execute(text(f"DELETE FROM {table} WHERE id > :mark"), {"mark": marks[table]})
            rebuild_tallies(db.session)  # the case tallies count what is left
            db.session.commit()
            db.session.remove()
