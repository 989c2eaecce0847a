"""Import jobs: the uploaded file is checked and stored, a job row queued, a worker runs it.

``start_import`` (the upload) and ``run_job`` (the background task, or in-process without a broker)
are the only writers of ``import_jobs``. Progress goes to the job row on its own short transaction
(PostgreSQL) so the page's progress bar moves while the import's own transaction is still open.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.orm import Session

from caseapp.auth.models import User
from caseapp.core.audit import record_audit_event
from caseapp.core.crypto import keyring
from caseapp.core.errors import ValidationFailed
from caseapp.core.jobs import enqueue_after_commit
from caseapp.core.models import utcnow
from caseapp.core.uploads import upload_dir
from caseapp.households.imports.engine import ImportResult, error_report_csv, run_import
from caseapp.households.imports.parse import ZIP_MAGIC, FileProblem, sniff_kind
from caseapp.households.models import ImportJob, ImportStatus
from caseapp.households.policy import can_register_in

TASK = "households.run_import"
EXTENSIONS = ("csv", "xlsx")
log = logging.getLogger("sinergi.imports")


def import_limit() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or current_app.config.get("MAX_CONTENT_LENGTH")
               or 20 * 1024 * 1024)


def _stored(job: ImportJob) -> Path:
    return upload_dir() / "imports" / f"job-{job.id}-{job.summary['file']}"


def start_import(session: Session, *, actor: User, filename: str, data: bytes, dry_run: bool = False,
                 skip_invalid: bool = False) -> ImportJob:
    """Check and store an uploaded household list and queue its import (runs after commit)."""
    original = os.path.basename((filename or "").replace("\\", "/")).strip()[:200] or "berkas"
    extension = original.rsplit(".", 1)[-1].lower() if "." in original else ""
    if extension not in EXTENSIONS:
        raise ValidationFailed({"file": [_("Jenis berkas tidak diterima. Unggah CSV atau XLSX (Excel).")]})
    if not data:
        raise ValidationFailed({"file": [_("Berkas kosong.")]})
    limit = import_limit()
    if len(data) > limit:
        raise ValidationFailed({"file": [_("Berkas terlalu besar; paling besar %(mb)d MB. Untuk berkas lebih "
                                           "besar pakai perintah flask import households.",
                                           mb=limit // (1024 * 1024))]})
    try:
        kind = sniff_kind(data[:65536])
    except FileProblem:
        raise ValidationFailed({"file": [_("Berkas ini bukan spreadsheet. Unggah CSV atau XLSX (Excel).")]}) from None
    if (kind == "xlsx") != (extension == "xlsx") or (extension == "xlsx" and not data.startswith(ZIP_MAGIC)):
        raise ValidationFailed({"file": [_("Isi berkas tidak sesuai dengan jenisnya.")]})
    storage = secrets.token_hex(12) + "." + extension
    job = ImportJob(created_by_id=actor.id, filename=original, status=ImportStatus.QUEUED, dry_run=dry_run,
                    skip_invalid=skip_invalid, processed_rows=0, error_count=0,
                    summary={"file": storage, "bytes": len(data)})
    session.add(job)
    session.flush()
    folder = upload_dir() / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    target = _stored(job)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    record_audit_event(session, actor_id=actor.id, action="queue_import", object_type="import_job",
                       object_id=job.id, after={"filename": original, "dry_run": dry_run,
                                                "skip_invalid": skip_invalid, "bytes": len(data)})
    enqueue_after_commit(session, TASK, job.id)
    session.flush()
    return job


def _progress_writer(session: Session, job_id: int) -> Callable[[int, int, int | None], None] | None:
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        return None   # SQLite: one writer at a time; the page shows the counts when the job ends
    engine = getattr(engine, "engine", engine)
    last = {"rows": 0}

    def write(rows: int, errors: int, total: int | None) -> None:
        if rows - last["rows"] < 10_000 and rows != total:
            return
        last["rows"] = rows
        with engine.begin() as conn:
            conn.execute(update(ImportJob).where(ImportJob.id == job_id)
                         .values(processed_rows=rows, error_count=errors, total_rows=total))
    return write


def run_job(session: Session, job_id: int, *, workers: int | None = None) -> ImportJob | None:
    """Run queued job *job_id* once (a second delivery of the task finds it no longer queued)."""
    job = session.get(ImportJob, job_id)
    if job is None or job.status != ImportStatus.QUEUED:
        return job
    job.status, job.started_at = ImportStatus.RUNNING, utcnow()
    session.commit()
    path = _stored(job)
    actor = session.get(User, job.created_by_id) if job.created_by_id else None
    allowed = (lambda region: can_register_in(actor, region)) if actor is not None else None
    try:
        result = run_import(session.connection(), path, keyring=keyring(), dry_run=job.dry_run,
                            skip_invalid=job.skip_invalid, allowed=allowed, workers=workers,
                            progress=_progress_writer(session, job.id))
    except Exception:
        session.rollback()
        log.exception("import job %s failed", job_id)
        job = session.get(ImportJob, job_id)
        job.status, job.finished_at = ImportStatus.FAILED, utcnow()
        job.summary = {**(job.summary or {}), "crash": True}
        session.commit()
        return job
    if not result.merged:
        session.rollback()
        job = session.get(ImportJob, job_id)
    finish_job(session, job, result)
    session.commit()
    path.unlink(missing_ok=True)
    return job


def finish_job(session: Session, job: ImportJob, result: ImportResult) -> None:
    job.status = ImportStatus.DONE if result.ok else ImportStatus.FAILED
    job.finished_at = utcnow()
    job.total_rows = job.processed_rows = result.rows
    job.error_count = result.error_count
    job.summary = {**(job.summary or {}), **result.summary, "merged": result.merged,
                   "file_problem": result.file_problem}
    job.error_report = error_report_csv(result.errors) if result.errors else None
    record_audit_event(session, actor_id=job.created_by_id, action="import_households", object_type="import_job",
                       object_id=job.id, after={k: v for k, v in job.summary.items() if k != "file"})
    session.flush()
