"""Evidence files attached to a case or one of its interventions."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from caseapp.auth.models import User
from caseapp.cases.models import Attachment, Case, Intervention
from caseapp.cases.policy import can_read_section, can_work_intervention
from caseapp.core.audit import record_audit_event
from caseapp.core.errors import NotAllowed
from caseapp.core.uploads import check_and_store, remove_stored
from caseapp.households.models import Section


def add_attachment(
    session: Session, *, actor: User, case: Case, filename: str, data: bytes,
    intervention: Intervention | None = None, section: Section | str = Section.GENERAL,
) -> Attachment:
    """Store a checked file and its metadata; the file is removed again if the row cannot be written.

    Agency officers attach evidence to their agency's interventions; the case owner and supervisors
    attach to the case. Nobody attaches into a section they may not read.
    """
    if intervention is not None and intervention.case_id != case.id:
        raise NotAllowed(_("Intervensi itu bukan bagian dari kasus ini."))
    officer_ok = intervention is not None and can_work_intervention(actor, intervention)
    worker_ok = actor.id == case.owner_id or str(actor.role) == "supervisor"
    if not (officer_ok or worker_ok) or not can_read_section(actor, section):
        raise NotAllowed(_("Anda tidak dapat mengunggah berkas ke kasus ini."))
    stored = check_and_store(filename, data)
    try:
        attachment = Attachment(
            case_id=case.id, intervention_id=intervention.id if intervention else None, uploaded_by_id=actor.id,
            original_name=stored.original_name, storage_name=stored.storage_name,
            content_type=stored.content_type, size_bytes=stored.size_bytes, sha256=stored.sha256,
            section=str(Section(section)),
        )
        session.add(attachment)
        session.flush()
        record_audit_event(session, actor_id=actor.id, action="add_attachment", object_type="attachment",
                           object_id=attachment.id, case_id=case.id,
                           after={"name": stored.original_name, "size": stored.size_bytes, "sha256": stored.sha256,
                                  "intervention_id": attachment.intervention_id})
    except Exception:
        remove_stored(stored.storage_name)
        raise
    return attachment
