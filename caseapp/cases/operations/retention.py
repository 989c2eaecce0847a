"""Anonymisation of closed cases after the retention period (UU PDP; DOMAIN.md §9).

A case gets ``retention_until`` = closing date + ``CASE_RETENTION_DAYS`` when it closes (reopening
clears it). Once *every* case of a household is closed and past that date, the household's personal
data is removed, set-based, a batch of households at a time:

- persons: NIK ciphertext, blind index and mask nulled; name replaced by ``Anonim``; birth date and
  the health note cleared;
- household: KK ciphertext, blind index and mask nulled, KK history rows deleted, address and
  coordinates cleared, status ``anonymised``;
- free text: case referral reasons, step comments and step data (home-visit findings, plan notes),
  intervention notes, outcomes and cancel reasons, and case notes are replaced by ``[dihapus]``;
- attachments: rows deleted, files removed after the commit (:func:`remove_files`).

Kept, because the reports need them and they no longer point at a person: stage, status, dates,
programmes, amounts, milestones, kelurahan and RT/RW, desil and its history, sex, relation, the
structured survey answers and the health/disability flags. A household with no case is register
data, not case data, and is left alone.

Each batch writes one audit event (``anonymise_households``, the household ids and counts) in the
same transaction, so the hash chain stays whole. Idempotent: an anonymised household is never
selected again, so a second run, or two beats, change nothing. Limits: rows already written to the
append-only audit trail and access log keep what they recorded (masked NIKs, names in snapshots);
they are kept under the archive schedule, readable by admins only (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import case as sql_case
from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from caseapp.cases.models import Attachment, Case, Intervention, Note, Step
from caseapp.core import crypto
from caseapp.core.audit import record_audit_event
from caseapp.core.identifiers import NOTE_PURPOSE
from caseapp.core.models import utcnow
from caseapp.core.uploads import remove_stored
from caseapp.households.models import Household, HouseholdKK, HouseholdStatus, Person

ANONYMOUS_NAME = "Anonim"
REDACTED = "[dihapus]"
DEFAULT_BATCH = 500


@dataclass
class RetentionResult:
    households: list[int] = field(default_factory=list)
    persons: int = 0
    cases: int = 0
    attachments_removed: list[str] = field(default_factory=list)   # storage names, removed after commit

    def __bool__(self) -> bool:
        return bool(self.households)


def expired_households(today: date, limit: int):
    """Households (not yet anonymised) that have cases, all closed and past ``retention_until``."""
    blocking = exists().where(
        Case.household_id == Household.id,
        or_(Case.closed_at.is_(None), Case.retention_until.is_(None), Case.retention_until >= today),
    )
    has_case = exists().where(Case.household_id == Household.id)
    return (select(Household.id)
            .where(Household.status != HouseholdStatus.ANONYMISED, has_case, ~blocking)
            .order_by(Household.id).limit(limit))


def _redact(column):
    """``[dihapus]`` where the column held text, NULL stays NULL."""
    return sql_case((column.is_(None), None), else_=REDACTED)


def anonymise_batch(session: Session, *, today: date | None = None, batch_size: int = DEFAULT_BATCH) -> RetentionResult:
    """Anonymise up to *batch_size* expired households. Flushes; the caller commits, then removes files."""
    today = today or utcnow().date()
    ids = list(session.scalars(expired_households(today, batch_size)))
    result = RetentionResult(households=ids)
    if not ids:
        return result
    case_ids = select(Case.id).where(Case.household_id.in_(ids)).scalar_subquery()
    no_sync = {"synchronize_session": False}

    result.persons = session.execute(
        update(Person).where(Person.household_id.in_(ids)).values(
            nik_ciphertext=None, nik_hash=None, nik_masked=None, name=ANONYMOUS_NAME, birth_date=None,
            health_note=None,
        ).execution_options(**no_sync)).rowcount
    session.execute(update(Household).where(Household.id.in_(ids)).values(
        kk_ciphertext=None, kk_hash=None, kk_masked=None, address=None, latitude=None, longitude=None,
        status=HouseholdStatus.ANONYMISED, version=Household.version + 1,
    ).execution_options(**no_sync))
    session.execute(delete(HouseholdKK).where(HouseholdKK.household_id.in_(ids)).execution_options(**no_sync))

    result.cases = session.execute(update(Case).where(Case.household_id.in_(ids)).values(
        referral_reason=_redact(Case.referral_reason),
    ).execution_options(**no_sync)).rowcount
    session.execute(update(Step).where(Step.case_id.in_(case_ids)).values(
        comment=_redact(Step.comment), data={"anonymised": True},
    ).execution_options(**no_sync))
    session.execute(update(Intervention).where(Intervention.case_id.in_(case_ids)).values(
        note=_redact(Intervention.note), outcome=_redact(Intervention.outcome),
        cancel_reason=_redact(Intervention.cancel_reason),
    ).execution_options(**no_sync))
    # One ciphertext for every redacted note: it says nothing but "[dihapus]".
    session.execute(update(Note).where(Note.case_id.in_(case_ids)).values(
        body=crypto.encrypt(REDACTED, NOTE_PURPOSE),
    ).execution_options(**no_sync))
    result.attachments_removed = list(session.scalars(select(Attachment.storage_name)
                                                      .where(Attachment.case_id.in_(case_ids))))
    session.execute(delete(Attachment).where(Attachment.case_id.in_(case_ids)).execution_options(**no_sync))

    record_audit_event(
        session, actor_id=None, action="anonymise_households", object_type="household",
        after={"household_ids": ids, "persons": result.persons, "cases": result.cases,
               "attachments": len(result.attachments_removed), "retention_date": today.isoformat()},
        comment="retention period over (CASE_RETENTION_DAYS)",
    )
    session.flush()
    session.expire_all()
    return result


def remove_files(result: RetentionResult) -> None:
    """Delete the evidence files of an anonymised batch (after its commit; best effort)."""
    for name in result.attachments_removed:
        remove_stored(name)

