"""Caseload handover: move all, or a filtered part, of one social worker's open cases to another.

Set-based: each batch is one ``UPDATE cases … RETURNING``, one ``UPDATE steps`` and one multi-row
insert of audit events (one per case, action ``reassign``, chained like every other event), so
5,000 cases take seconds, not minutes. A job row holds the request, its progress and its summary;
the caller commits after every batch so progress is visible and a crash loses at most one batch
(running the job again picks up where it stopped: moved cases no longer match ``owner = from``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from caseapp.agencies.models import Region
from caseapp.auth.models import Role, User
from caseapp.cases.models import (
    Case,
    HandoverJob,
    HandoverStatus,
    Intervention,
    InterventionStatus,
    Stage,
    Step,
    StepStatus,
)
from caseapp.cases.operations.scope_sync import sync_step_scope, tally, tally_key
from caseapp.cases.workflow import Action
from caseapp.core.audit import record_audit_events
from caseapp.core.errors import ValidationFailed
from caseapp.core.models import utcnow

TASK_NAME = "cases.hand_over_caseload"
BATCH_SIZE = 1000
FILTER_STAGES = (Stage.REFERRAL, Stage.VERIFICATION, Stage.INTERVENTION, Stage.EVALUATION)


OPEN_INTERVENTIONS = (InterventionStatus.PENDING, InterventionStatus.CLAIMED, InterventionStatus.IN_PROGRESS)


def user_open_work(session: Session, user: User) -> dict[str, int]:
    """What a user still holds: open cases they own, open steps and unfinished interventions assigned.

    Account changes that would orphan this work (deactivation, a new role or area) are refused.
    """
    return {
        "cases": session.scalar(select(func.count()).select_from(Case)
                                .where(Case.owner_id == user.id, Case.stage != Stage.CLOSED)) or 0,
        "steps": session.scalar(select(func.count()).select_from(Step)
                                .where(Step.assignee_id == user.id, Step.status == StepStatus.OPEN)) or 0,
        "interventions": session.scalar(select(func.count()).select_from(Intervention)
                                        .where(Intervention.assignee_id == user.id,
                                               Intervention.status.in_(OPEN_INTERVENTIONS))) or 0,
    }


def _clean_filters(session: Session, filters: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    stage = (filters.get("stage") or "").strip()
    if stage:
        if stage not in {s.value for s in FILTER_STAGES}:
            errors["stage"] = [_("Pilih tahap dari daftar, atau kosongkan untuk semua tahap.")]
        clean["stage"] = stage
    kelurahan = (filters.get("kelurahan_code") or "").strip()
    if kelurahan:
        if session.get(Region, kelurahan) is None:
            errors["kelurahan_code"] = [_("Kelurahan %(code)s tidak ada; pilih dari daftar.", code=kelurahan[:13])]
        clean["kelurahan_code"] = kelurahan
    if filters.get("overdue") in (True, "1", "on", "true", "y"):
        clean["overdue"] = True
    if errors:
        raise ValidationFailed(errors)
    return clean


def matching_cases(from_user_id: int, filters: dict[str, Any], now: datetime | None = None) -> Select:
    """``SELECT cases.id`` of *from_user_id*'s open cases matching *filters* (as stored on a job)."""
    stmt = select(Case.id).where(Case.owner_id == from_user_id, Case.stage != Stage.CLOSED)
    if filters.get("stage"):
        stmt = stmt.where(Case.stage == filters["stage"])
    if filters.get("kelurahan_code"):
        stmt = stmt.where(Case.kelurahan_code == filters["kelurahan_code"])
    if filters.get("kecamatan_code"):  # a supervisor's own part of the caseload
        stmt = stmt.where(Case.kecamatan_code == filters["kecamatan_code"])
    if filters.get("overdue"):
        stmt = stmt.where(Case.due_at < (now or utcnow()))
    return stmt


def count_matching(session: Session, from_user_id: int, filters: dict[str, Any]) -> int:
    return session.scalar(select(func.count()).select_from(matching_cases(from_user_id, filters).subquery())) or 0


def request_handover(session: Session, actor: User, *, from_user_id: Any, to_user_id: Any,
                     filters: dict[str, Any] | None = None, comment: str | None = None,
                     within_kecamatan: str | None = None) -> HandoverJob:
    """Validate a handover and record the job (status ``queued``); the caller enqueues it after commit.

    Both workers must be active social workers; the receiving one must work in every kecamatan of the
    cases that move (a Mojoroto worker cannot receive Kota cases). *scope* limits the cases to the
    supervisor's own (their kecamatan). Raises ValidationFailed naming the field.
    """
    errors: dict[str, list[str]] = {}

    def worker(value: Any) -> User | None:
        try:
            user = session.get(User, int(value))
        except (TypeError, ValueError):
            return None
        return user if user is not None and Role(user.role) == Role.SOCIAL_WORKER else None

    source, target = worker(from_user_id), worker(to_user_id)
    if source is None:
        errors["from_user_id"] = [_("Pilih pekerja sosial yang kasusnya diserahkan.")]
    if target is None or not target.active:
        errors["to_user_id"] = [_("Pilih pekerja sosial aktif yang menerima kasus.")]
    elif source is not None and source.id == target.id:
        errors["to_user_id"] = [_("Penerima harus pekerja sosial lain.")]
    comment = (comment or "").strip()[:2000] or None
    if errors:
        raise ValidationFailed(errors)
    clean = _clean_filters(session, filters or {})
    if within_kecamatan:
        clean["kecamatan_code"] = within_kecamatan
    cases = matching_cases(source.id, clean)
    total = session.scalar(select(func.count()).select_from(cases.subquery())) or 0
    if total == 0:
        raise ValidationFailed({"from_user_id": [_("Tidak ada kasus terbuka milik pekerja sosial ini yang cocok "
                                                   "dengan saringan.")]})
    if target.kecamatan_code is not None:
        elsewhere = session.scalar(select(func.count()).select_from(
            cases.where(Case.kecamatan_code != target.kecamatan_code).subquery())) or 0
        if elsewhere:
            errors["to_user_id"] = [_("%(n)d kasus berada di luar kecamatan tugas penerima; pilih penerima lain atau "
                                      "saring per kelurahan.", n=elsewhere)]
            raise ValidationFailed(errors)
    job = HandoverJob(from_user_id=source.id, to_user_id=target.id, requested_by_id=actor.id, filters=clean,
                      comment=comment, status=HandoverStatus.QUEUED, total=total)
    session.add(job)
    session.flush()
    return job


def _batch_ids(session: Session, job: HandoverJob) -> list[int]:
    stmt = matching_cases(job.from_user_id, job.filters)
    return list(session.scalars(stmt.order_by(Case.id).limit(BATCH_SIZE)))


def hand_over_batch(session: Session, job: HandoverJob) -> int:
    """Move the next batch of the job's cases; returns how many moved (0 = finished). Flushes only."""
    if job.status == HandoverStatus.QUEUED:
        job.status, job.started_at = HandoverStatus.RUNNING, utcnow()
    ids = _batch_ids(session, job)
    if not ids:
        job.status, job.finished_at = HandoverStatus.DONE, utcnow()
        # Counted at request time; cases closed or reassigned since then were not moved.
        job.skipped = max(job.total - job.moved, 0)
        session.flush()
        return 0
    # Conditional on the owner, so a case reassigned by hand meanwhile is left alone.
    moved = session.execute(
        update(Case).where(Case.id.in_(ids), Case.owner_id == job.from_user_id, Case.stage != Stage.CLOSED)
        .values(owner_id=job.to_user_id, version=Case.version + 1, updated_at=utcnow())
        .returning(Case.id, Case.version, Case.stage, Case.status, Case.kelurahan_code, Case.kecamatan_code)
        .execution_options(synchronize_session=False)
    ).all()
    moved_ids = [row.id for row in moved]
    if moved_ids:
        # Work already waiting for the previous owner moves with the case (as a single reassign does).
        session.execute(
            update(Step).where(Step.case_id.in_(moved_ids), Step.status == StepStatus.OPEN,
                               Step.assignee_id == job.from_user_id)
            .values(assignee_id=job.to_user_id).execution_options(synchronize_session=False)
        )
        sync_step_scope(session, moved_ids)
        tally(session, [(tally_key(row.kelurahan_code, row.kecamatan_code, job.from_user_id, row.stage),
                         tally_key(row.kelurahan_code, row.kecamatan_code, job.to_user_id, row.stage), 1)
                        for row in moved])
        record_audit_events(session, [
            {"actor_id": job.requested_by_id, "action": Action.REASSIGN.value, "object_type": "case",
             "object_id": row.id, "case_id": row.id,
             "before": {"stage": str(row.stage), "status": str(row.status), "owner_id": job.from_user_id,
                        "version": row.version - 1},
             "after": {"stage": str(row.stage), "status": str(row.status), "owner_id": job.to_user_id,
                       "version": row.version},
             "comment": job.comment or _("Serah terima kasus #%(id)d", id=job.id)}
            for row in sorted(moved, key=lambda r: r.id)
        ])
    job.moved += len(moved_ids)
    session.flush()
    return len(moved_ids)


def run_handover(session: Session, job_id: int, commit: Callable[[], None]) -> HandoverJob | None:
    """Run a job to the end, calling *commit* after each batch (the worker or in-process caller owns
    the transaction). A job already done is left alone (a redelivered message moves nothing twice)."""
    job = session.get(HandoverJob, job_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if job is None or job.status in (HandoverStatus.DONE, HandoverStatus.FAILED):
        return job
    try:
        while hand_over_batch(session, job):
            commit()
        commit()
    except Exception as exc:
        session.rollback()
        job = session.get(HandoverJob, job_id)
        job.status, job.finished_at = HandoverStatus.FAILED, utcnow()
        job.error = f"{type(exc).__name__}: {str(exc)[:500]}"
        commit()
        raise
    return job
