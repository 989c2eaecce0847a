"""Retention task: anonymise households whose cases are all closed and past ``retention_until``.

Thin: the work is ``caseapp.cases.operations.retention``. Each batch commits with its audit event,
then its evidence files are removed. Idempotent (anonymised households are never selected again),
so a second beat or a redelivered message changes nothing.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from caseapp.cases.operations import retention
from caseapp.extensions import db

log = logging.getLogger("sinergi.workers")


@shared_task(name="cases.anonymise_expired")
def anonymise_expired(batch_size: int | None = None) -> dict[str, int]:
    """Beat (daily): anonymise every expired household, batch by batch."""
    size = batch_size or current_app.config["RETENTION_BATCH_SIZE"]
    totals = {"households": 0, "persons": 0, "cases": 0, "attachments": 0, "batches": 0}
    while True:
        result = retention.anonymise_batch(db.session, batch_size=size)
        if not result:
            db.session.rollback()
            break
        db.session.commit()
        retention.remove_files(result)
        totals["households"] += len(result.households)
        totals["persons"] += result.persons
        totals["cases"] += result.cases
        totals["attachments"] += len(result.attachments_removed)
        totals["batches"] += 1
    if totals["households"]:
        log.info("retention: anonymised %(households)s households in %(batches)s batches", totals)
    return totals
