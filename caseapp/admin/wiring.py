"""Wiring the admin screens into the app: their blueprints and the in-process handover job."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.orm import Session

from caseapp.admin import account_setup, audit_views, config_views, handover, users
from caseapp.cases.operations.handover import TASK_NAME, run_handover
from caseapp.core.jobs import register_local_handler
from caseapp.extensions import db

log = logging.getLogger("sinergi.admin")


def _run_handover_in_process(job_id: int) -> None:
    """Embedded mode (no broker): run the job right after the request's commit, in a session of its own
    (the request's session cannot run SQL inside its own after-commit hook)."""
    with Session(bind=db.session.get_bind(), join_transaction_mode="create_savepoint") as session:
        try:
            run_handover(session, job_id, commit=session.commit)
        except Exception:
            log.exception("handover job %s failed", job_id)


def init_admin(app: Flask) -> None:
    for blueprint in (users.bp, account_setup.bp, config_views.bp, handover.bp, audit_views.bp):
        app.register_blueprint(blueprint)
    register_local_handler(app, TASK_NAME, _run_handover_in_process)
