"""Household import task: a thin wrapper around ``caseapp.households.imports.jobs.run_job``.

Idempotent: a job runs only from ``queued``; a redelivered message finds it running or done.
Inside a prefork worker (a daemonic process) validation runs in the task's own process.
"""

from __future__ import annotations

from celery import shared_task

from caseapp.extensions import db
from caseapp.households.imports.jobs import TASK, run_job


@shared_task(name=TASK, acks_late=False)
def run_import(job_id: int) -> str | None:
    job = run_job(db.session, job_id)
    db.session.commit()
    return str(job.status) if job is not None else None
