"""UU PDP access right: everything Sinergi holds about one person, and who processed it.

UU 27/2022 gives a data subject the right to their data and its processing record within 3×24
hours. A supervisor (their kecamatan) or an admin opens ``/pdp/persons/<id>`` and gets, as a
readable page or a JSON download:

- the person's own record, every field, NIK and the health note decrypted;
- the household (KK decrypted, address, coordinates, desil history, housing surveys) and the names
  and relations of the other members (their own fields belong to *their* export, not this one);
- from the layers above (registered with :func:`register_pdp_source`, because households may not
  import cases): cases, steps, interventions, notes (decrypted) and the list of attachments;
- the access trail: every ``access_logs`` row and ``audit_events`` row naming the person, the
  household or one of its cases, with who, when, from where.

A person outside the user's scope is a 404 (logged as a denial, like every other object). The
export itself is written to the access log (kind ``export``, ``detail.purpose = "pdp_access"``). It
is a POST with a CSRF token: a GET never writes the log nor sends the data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session
from wtforms import HiddenField

from caseapp.auth.models import User
from caseapp.auth.permissions import Permission, requires
from caseapp.core import crypto
from caseapp.core.audit import AccessKind, AccessLog, AuditEvent, deny_out_of_scope, record_access
from caseapp.core.identifiers import HEALTH_NOTE_PURPOSE
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.models import DesilRecord, Household, HouseholdKK, HousingSurvey, Person
from caseapp.households.queries import household_scope

FORMAT_VERSION = 1


@dataclass
class PdpPart:
    """What one domain contributes: named sections, and the objects whose trail belongs to the person."""

    sections: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, list[int]] = field(default_factory=dict)   # object_type → ids
    case_ids: list[int] = field(default_factory=list)


PdpSource = Callable[[Session, Household, Person], PdpPart]
_sources: list[PdpSource] = []


def register_pdp_source(source: PdpSource) -> None:
    """Add a domain's contribution to the export (idempotent; called at start-up)."""
    if source not in _sources:
        _sources.append(source)


def plain(value: Any) -> Any:
    """A JSON-ready form of a column value (ciphertext never leaves as bytes)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return None
    return value


def row_dict(obj: Any, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every column of *obj* except *skip*, JSON-ready."""
    return {c.key: plain(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in skip}


def _decrypt(token: bytes | None, purpose: str) -> str | None:
    return crypto.decrypt(token, purpose) if token else None


_PERSON_SKIP = frozenset({"nik_ciphertext", "nik_hash", "health_note"})
_HOUSEHOLD_SKIP = frozenset({"kk_ciphertext", "kk_hash"})


def person_record(person: Person) -> dict[str, Any]:
    record = row_dict(person, skip=_PERSON_SKIP)
    record["nik"] = _decrypt(person.nik_ciphertext, "nik")
    record["health_note"] = _decrypt(person.health_note, HEALTH_NOTE_PURPOSE)
    return record


def household_record(session: Session, household: Household, person: Person) -> dict[str, Any]:
    record = row_dict(household, skip=_HOUSEHOLD_SKIP)
    record["kk"] = _decrypt(household.kk_ciphertext, "kk")
    record["kk_history"] = [
        {**row_dict(kk, skip=frozenset({"kk_ciphertext", "kk_hash"})), "kk": _decrypt(kk.kk_ciphertext, "kk")}
        for kk in session.scalars(select(HouseholdKK).where(HouseholdKK.household_id == household.id)
                                  .order_by(HouseholdKK.id))
    ]
    record["desil_history"] = [row_dict(d) for d in session.scalars(
        select(DesilRecord).where(DesilRecord.household_id == household.id).order_by(DesilRecord.id))]
    record["housing_surveys"] = [row_dict(s) for s in session.scalars(
        select(HousingSurvey).where(HousingSurvey.household_id == household.id).order_by(HousingSurvey.id))]
    record["other_members"] = [
        {"id": m.id, "name": m.name, "relation": plain(m.relation), "active": m.active}
        for m in household.members if m.id != person.id
    ]
    return record


def _user_names(session: Session, ids: set[int]) -> dict[int, dict[str, str]]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.full_name, User.role).where(User.id.in_(ids)))
    return {uid: {"name": name, "role": plain(role)} for uid, name, role in rows}


def access_trail(session: Session, objects: dict[str, list[int]], case_ids: list[int]) -> dict[str, list]:
    """Access-log and audit rows naming any of *objects* (type → ids) or one of *case_ids*."""
    def naming(model) -> Any:
        clauses = [and_(model.object_type == kind, model.object_id.in_(ids)) for kind, ids in objects.items() if ids]
        return or_(*clauses) if clauses else false()

    accesses = list(session.scalars(select(AccessLog).where(naming(AccessLog)).order_by(AccessLog.id)))
    audit_filter = naming(AuditEvent)
    if case_ids:
        audit_filter = or_(audit_filter, AuditEvent.case_id.in_(case_ids))
    events = list(session.scalars(select(AuditEvent).where(audit_filter).order_by(AuditEvent.id)))
    users = _user_names(session, {a.user_id for a in accesses if a.user_id} |
                        {e.actor_id for e in events if e.actor_id})
    return {
        "access_log": [{**row_dict(a, skip=frozenset({"request_id"})), "user": users.get(a.user_id)}
                       for a in accesses],
        "audit_events": [{**row_dict(e, skip=frozenset({"prev_hash", "row_hash", "request_id"})),
                          "actor": users.get(e.actor_id)} for e in events],
    }


def visible_person_or_404(session: Session, actor: User, person_id: int) -> Person:
    person = session.scalar(select(Person).join(Household, Household.id == Person.household_id)
                            .where(Person.id == person_id, household_scope(actor)))
    if person is None:
        deny_out_of_scope("person", person_id)
    return person


def build_export(session: Session, *, actor: User, person: Person, fmt: str) -> dict[str, Any]:
    """Everything held about *person*, and its trail; the export itself is written to the access log."""
    household = person.household
    objects: dict[str, list[int]] = {"person": [person.id], "household": [household.id]}
    case_ids: list[int] = []
    sections: dict[str, Any] = {}
    for source in _sources:
        part = source(session, household, person)
        sections.update(part.sections)
        for kind, ids in part.objects.items():
            objects.setdefault(kind, []).extend(ids)
        case_ids.extend(part.case_ids)
    export = {
        "format": "sinergi-pdp-export",
        "version": FORMAT_VERSION,
        "generated_at": utcnow().isoformat(),
        "generated_by": {"id": actor.id, "name": actor.full_name, "role": plain(actor.role)},
        "legal_basis": "UU 27/2022 (Pelindungan Data Pribadi), hak akses subjek data",
        "person": person_record(person),
        "household": household_record(session, household, person),
        **sections,
        "access_trail": access_trail(session, objects, case_ids),
    }
    record_access(session, user_id=actor.id, kind=AccessKind.EXPORT, object_type="person", object_id=person.id,
                  detail={"purpose": "pdp_access", "format": fmt, "household_id": household.id})
    session.flush()
    return export


# --- pages -----------------------------------------------------------------------------------------

bp = Blueprint("pdp", __name__, url_prefix="/pdp", template_folder="templates")


class PdpExportForm(FlaskForm):
    format = HiddenField(default="html")


@bp.route("/persons/<int:person_id>", methods=["GET"])
@requires(Permission.PDP_EXPORT)
def request_export(person_id: int):
    """The request page: who the person is (masked) and the two ways to hand over their data."""
    person = visible_person_or_404(db.session, current_user, person_id)
    return render_template("households/pdp.html", person=person, form=PdpExportForm(), export=None)


@bp.route("/persons/<int:person_id>", methods=["POST"])
@requires(Permission.PDP_EXPORT)
def export(person_id: int):
    form = PdpExportForm()
    if not form.validate_on_submit() or form.format.data not in ("html", "json"):
        abort(400)
    person = visible_person_or_404(db.session, current_user, person_id)
    data = build_export(db.session, actor=current_user, person=person, fmt=form.format.data)
    db.session.commit()
    if form.format.data == "json":
        body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        filename = f"sinergi-pdp-person-{person.id}-{utcnow():%Y%m%d}.json"
        return Response(body, mimetype="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return render_template("households/pdp.html", person=person, form=PdpExportForm(), export=data,
                           pretty=_pretty)


def _pretty(value: Any) -> str:
    """A compact readable form for nested values on the HTML page (autoescaped by Jinja)."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "–" if value is None else str(value)

