"""Task definitions. Each one is named ``<domain>.<verb_noun>`` and calls into caseapp."""

from __future__ import annotations

from celery import shared_task

from caseapp.cases.operations.handover import TASK_NAME as HANDOVER_TASK
from caseapp.cases.operations.handover import run_handover
from caseapp.core.health import database_summary
from caseapp.extensions import db


@shared_task(name="core.check_database", ignore_result=False)
def check_database() -> dict:
    """Report what the worker sees in the database (used by ops checks and the worker test)."""
    return database_summary()


@shared_task(name="core.do_nothing")
def do_nothing() -> None:
    """A bare task: the yardstick `make bench` compares notification throughput with."""


@shared_task(name=HANDOVER_TASK, acks_late=True)
def hand_over_caseload(job_id: int) -> dict:
    """Run a caseload handover job, committing after every batch so the screen shows progress."""
    job = run_handover(db.session, job_id, commit=db.session.commit)
    return {"job": job_id, "moved": job.moved if job else 0, "status": str(job.status) if job else "missing"}


@shared_task(name="reports.refresh_dashboard")
def refresh_dashboard() -> dict:
    """Recompute the pre-computed default dashboard figures (issue #8; scheduled in workers.schedule)."""
    from caseapp.extensions import db
    from caseapp.reports.operations import refresh_dashboard_figures

    took = refresh_dashboard_figures(db.session)
    db.session.commit()
    return took
