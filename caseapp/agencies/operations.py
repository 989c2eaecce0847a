"""Writes for reference data. The seed files in ``data/`` are Kota Kediri's (copied from shared/data)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseapp.agencies.models import (
    Agency,
    AgencyKind,
    AgencyKindSections,
    BudgetTag,
    Programme,
    ProgrammeTarget,
    ReferralSource,
    Region,
    RegionLevel,
    Strategy,
)
from caseapp.core.audit import record_audit_event
from caseapp.core.errors import ValidationFailed
from caseapp.core.models import Base

# Defaults the city can edit later (admin screens): SLA days per programme and ordered milestones.
PROGRAMME_DEFAULTS = {
    "RTLH": {"sla_days": 180, "milestones": ["survey", "decree", "transfer", "works_50", "works_100", "handover"]},
    "ADMINDUK": {"sla_days": 14},
    "JKN_PBI": {"sla_days": 14},
    "DOKTER_KELUARGA": {"sla_days": 14},
    "ATM_BERAS": {"sla_days": 7},
    "PELATIHAN_KERJA": {"sla_days": 90},
    "MODAL_UMKM": {"sla_days": 60},
    "SEKOLAH_RAKYAT": {"sla_days": 60},
    "BEASISWA": {"sla_days": 60},
}


def _rows(name: str) -> Iterator[dict[str, str]]:
    text = resources.files("caseapp.agencies").joinpath("data", name).read_text(encoding="utf-8")
    yield from csv.DictReader(text.splitlines())


def load_regions(session: Session) -> int:
    """Upsert the closed list of regions; returns how many were added."""
    existing = set(session.scalars(select(Region.code)))
    added = 0
    for row in _rows("wilayah_kota_kediri.csv"):
        if row["code"] in existing:
            continue
        session.add(
            Region(code=row["code"], name=row["name"], level=RegionLevel(row["level"]),
                   parent_code=row["parent_code"] or None)
        )
        session.flush()  # parents first: the file lists them before their children
        added += 1
    return added


def kelurahan_desk_code(kelurahan_code: str) -> str:
    """``35.71.01.1001`` → ``KEL-011001``."""
    _, _, kecamatan, kelurahan = kelurahan_code.split(".")
    return f"KEL-{kecamatan}{kelurahan}"


def load_agencies(session: Session) -> int:
    """City agencies from the seed file plus one desk per kelurahan.

    Desk codes are ``KEL-`` + kecamatan (2 digits) + kelurahan (4 digits), e.g. ``KEL-011001`` for
    Bandar Lor: the last four digits alone repeat across kecamatan.
    """
    existing = set(session.scalars(select(Agency.code)))
    added = 0
    for row in _rows("agencies.csv"):
        if row["code"] not in existing:
            session.add(Agency(code=row["code"], name=row["name"], kind=AgencyKind(row["kind"])))
            added += 1
    kelurahan = session.scalars(select(Region).where(Region.level == RegionLevel.KELURAHAN).order_by(Region.code))
    for region in kelurahan:
        code = kelurahan_desk_code(region.code)
        if code not in existing:
            session.add(Agency(code=code, name=f"Kelurahan {region.name}", kind=AgencyKind.KELURAHAN,
                               kelurahan_code=region.code))
            added += 1
    session.flush()
    return added


def load_programmes(session: Session) -> int:
    agencies = {a.code: a.id for a in session.scalars(select(Agency))}
    existing = set(session.scalars(select(Programme.code)))
    added = 0
    for row in _rows("programs.csv"):
        if row["code"] in existing:
            continue
        defaults = PROGRAMME_DEFAULTS.get(row["code"], {})
        session.add(
            Programme(
                code=row["code"],
                name=row["name"],
                agency_id=agencies[row["agency"]],
                strategy=Strategy(row["strategy"]),
                target=ProgrammeTarget(row["target"]),
                budget_tag=BudgetTag.DIRECT,
                sla_days=defaults.get("sla_days", 30),
                milestones=defaults.get("milestones", []),
                note=row["note"],
            )
        )
        added += 1
    session.flush()
    return added


def load_referral_sources(session: Session) -> int:
    existing = set(session.scalars(select(ReferralSource.code)))
    added = 0
    for row in _rows("referral_sources.csv"):
        if row["code"] not in existing:
            session.add(ReferralSource(code=row["code"], name=row["name"]))
            added += 1
    session.flush()
    return added


def load_reference_data(session: Session) -> dict[str, int]:
    """Regions, agencies, programmes and referral sources; idempotent."""
    return {
        "regions": load_regions(session),
        "agencies": load_agencies(session),
        "programmes": load_programmes(session),
        "referral_sources": load_referral_sources(session),
    }


# --- administration (issue #10): agencies, the section table, the programme catalogue ------------

def references_to(session: Session, table_name: str, row_id: int | str, *,
                  ignore: frozenset[str] = frozenset()) -> dict[str, int]:
    """How many rows of each other table point at ``table_name`` row *row_id* through a foreign key.

    Read from the metadata, so this layer need not import the higher domains that hold the
    references (cases, interventions, audit events …); tables in *ignore* are not counted.
    """
    counts: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in ignore:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name != table_name or fk.parent.table is not table:
                continue
            n = session.scalar(select(func.count()).select_from(table).where(fk.parent == row_id)) or 0
            if n:
                counts[table.name] = counts.get(table.name, 0) + n
    return counts


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the fields that changed, as (before, after) for the audit event."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationFailed(errors)


def agency_snapshot(agency: Agency) -> dict[str, Any]:
    return {"code": agency.code, "name": agency.name, "kind": str(agency.kind),
            "kelurahan_code": agency.kelurahan_code, "active": agency.active}


def _check_agency(session: Session, data: dict[str, Any], agency: Agency | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    code = str(data.get("code") or "").strip().upper()
    name = str(data.get("name") or "").strip()
    if not re.fullmatch(r"[A-Z0-9_-]{2,32}", code):
        errors["code"] = [_("Kode 2–32 karakter: huruf besar, angka, - atau _ (mis. DINKES).")]
    elif session.scalar(select(Agency.id).where(Agency.code == code, Agency.id != (agency.id if agency else -1))):
        errors["code"] = [_("Kode %(code)s sudah dipakai dinas lain.", code=code)]
    if not name:
        errors["name"] = [_("Nama dinas wajib diisi.")]
    try:
        kind = AgencyKind(data.get("kind"))
    except ValueError:
        errors["kind"] = [_("Pilih jenis dinas dari daftar.")]
        kind = None
    kelurahan = str(data.get("kelurahan_code") or "").strip() or None
    if kind == AgencyKind.KELURAHAN:
        region = session.get(Region, kelurahan) if kelurahan else None
        if region is None or region.level != RegionLevel.KELURAHAN:
            errors["kelurahan_code"] = [_("Meja kelurahan harus memilih kelurahannya.")]
    elif kelurahan:
        errors["kelurahan_code"] = [_("Hanya meja kelurahan yang terikat pada satu kelurahan; kosongkan isian ini.")]
    _fail(errors)
    return {"code": code, "name": name[:200], "kind": kind, "kelurahan_code": kelurahan}


def create_agency(session: Session, actor, **data: Any) -> Agency:
    """Add an agency or kelurahan desk. Raises ValidationFailed naming each bad field."""
    values = _check_agency(session, data, None)
    agency = Agency(**values, active=True)
    session.add(agency)
    session.flush()
    record_audit_event(session, actor_id=actor.id, action="create_agency", object_type="agency",
                       object_id=agency.id, after=agency_snapshot(agency))
    return agency


def update_agency(session: Session, actor, agency: Agency, **data: Any) -> Agency:
    """Change an agency's code, name, kind or kelurahan; a kind change is refused while users hold it."""
    values = _check_agency(session, data, agency)
    before = agency_snapshot(agency)
    if values["kind"] != agency.kind and references_to(session, "agencies", agency.id):
        raise ValidationFailed({"kind": [_("Jenis dinas tidak dapat diubah setelah dinas dipakai pengguna, program "
                                           "atau intervensi; buat dinas baru.")]})
    for key, value in values.items():
        setattr(agency, key, value)
    session.flush()
    old, new = _changes(before, agency_snapshot(agency))
    if new:
        record_audit_event(session, actor_id=actor.id, action="update_agency", object_type="agency",
                           object_id=agency.id, before=old, after=new)
    return agency


def set_agency_active(session: Session, actor, agency: Agency, active: bool, *,
                      blockers: dict[str, int] | None = None) -> Agency:
    """Deactivate or reactivate an agency. Deactivation is refused while *blockers* (open work the
    caller counted: active users, active programmes, open interventions) would be orphaned."""
    if agency.active == active:
        return agency
    if not active:
        open_work = {k: v for k, v in (blockers or {}).items() if v}
        if open_work:
            detail = ", ".join(f"{name}: {count}" for name, count in sorted(open_work.items()))
            raise ValidationFailed({"active": [_("Dinas ini masih memegang pekerjaan (%(detail)s). Pindahkan dulu "
                                                 "pengguna, program dan intervensinya.", detail=detail)]})
    agency.active = active
    session.flush()
    record_audit_event(session, actor_id=actor.id, action="activate_agency" if active else "deactivate_agency",
                       object_type="agency", object_id=agency.id, before={"active": not active},
                       after={"active": active})
    return agency


def set_agency_kind_sections(session: Session, actor, table: dict[str, list[str]],
                             allowed: Iterable[str]) -> dict[str, list[str]]:
    """Save the agency kind → readable sections table (DESIGN.md §1); returns what changed.

    *allowed* is the list of section names (they belong to the households domain above this one).
    """
    allowed = list(allowed)
    errors: dict[str, list[str]] = {}
    clean: dict[AgencyKind, list[str]] = {}
    for kind_name, sections in table.items():
        try:
            kind = AgencyKind(kind_name)
        except ValueError:
            errors.setdefault("kind", []).append(_("Jenis dinas tidak dikenal: %(kind)s.", kind=str(kind_name)[:30]))
            continue
        unknown = [s for s in sections if s not in allowed]
        if unknown:
            errors.setdefault(f"{kind.value}", []).append(
                _("Bagian data tidak dikenal: %(names)s.", names=", ".join(map(str, unknown))[:100]))
        clean[kind] = [s for s in allowed if s in sections]
    if AgencyKind.SOCIAL in clean and "general" not in clean[AgencyKind.SOCIAL]:
        errors.setdefault("social", []).append(
            _("Dinas sosial mengelola kasus; bagian umum tidak boleh dicabut darinya."))
    _fail(errors)
    rows = {row.kind: row for row in session.scalars(select(AgencyKindSections))}
    before, after = {}, {}
    for kind, sections in clean.items():
        row = rows.get(kind)
        old = list(row.sections) if row is not None else None
        if old == sections:
            continue
        if row is None:
            session.add(AgencyKindSections(kind=kind, sections=sections))
        else:
            row.sections = sections
        before[kind.value], after[kind.value] = old, sections
    session.flush()
    if after:
        record_audit_event(session, actor_id=actor.id, action="update_agency_sections",
                           object_type="agency_kind_sections", before=before, after=after)
    return after


MILESTONE_RE = re.compile(r"[a-z0-9_]{2,32}")


def programme_snapshot(programme: Programme) -> dict[str, Any]:
    return {"code": programme.code, "name": programme.name, "agency_id": programme.agency_id,
            "strategy": str(programme.strategy), "target": str(programme.target),
            "budget_tag": str(programme.budget_tag), "sla_days": programme.sla_days,
            "milestones": list(programme.milestones or []), "active": programme.active}


def parse_milestones(text: str | list[str] | None) -> list[str]:
    """One milestone code per line (or comma), in order."""
    items = text if isinstance(text, list) else re.split(r"[\n,]+", text or "")
    return [item.strip().lower() for item in items if item and item.strip()]


def _check_programme(session: Session, data: dict[str, Any], programme: Programme | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    code = str(data.get("code") or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9_]{2,32}", code):
        errors["code"] = [_("Kode 2–32 karakter: huruf besar, angka atau _ (mis. RTLH).")]
    elif session.scalar(select(Programme.id).where(Programme.code == code,
                                                   Programme.id != (programme.id if programme else -1))):
        errors["code"] = [_("Kode %(code)s sudah dipakai program lain.", code=code)]
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("Nama program wajib diisi.")]
    agency = session.scalar(select(Agency).where(Agency.code == str(data.get("agency") or "")))
    if agency is None:
        errors["agency"] = [_("Pilih dinas pelaksana dari daftar.")]
    elif not agency.active and (programme is None or programme.agency_id != agency.id):
        errors["agency"] = [_("Dinas %(code)s tidak aktif; pilih dinas yang aktif.", code=agency.code)]
    choices = {"strategy": Strategy, "target": ProgrammeTarget, "budget_tag": BudgetTag}
    values: dict[str, Any] = {}
    for field, enum in choices.items():
        try:
            values[field] = enum(data.get(field))
        except ValueError:
            errors[field] = [_("Pilih salah satu: %(choices)s.", choices=", ".join(enum))]
    try:
        sla = int(str(data.get("sla_days") or "").strip())
    except ValueError:
        sla = 0
    if not 1 <= sla <= 1095:
        errors["sla_days"] = [_("Batas waktu dalam hari: bilangan bulat 1 sampai 1095.")]
    milestones = parse_milestones(data.get("milestones"))
    bad = [m for m in milestones if not MILESTONE_RE.fullmatch(m)]
    if bad:
        errors["milestones"] = [_("Kode tonggak hanya huruf kecil, angka dan _ (2–32 karakter), satu per baris: "
                                  "%(bad)s.", bad=", ".join(bad)[:100])]
    elif len(set(milestones)) != len(milestones):
        errors["milestones"] = [_("Setiap tonggak hanya boleh muncul sekali.")]
    _fail(errors)
    return {"code": code, "name": name[:200], "agency_id": agency.id, "sla_days": sla, "milestones": milestones,
            "note": str(data.get("note") or "").strip() or None, **values}


def programme_in_use(session: Session, programme: Programme) -> bool:
    return bool(references_to(session, "programmes", programme.id))


def create_programme(session: Session, actor, **data: Any) -> Programme:
    """Add a programme to the catalogue. Raises ValidationFailed naming each bad field."""
    values = _check_programme(session, data, None)
    programme = Programme(**values, active=True)
    session.add(programme)
    session.flush()
    record_audit_event(session, actor_id=actor.id, action="create_programme", object_type="programme",
                       object_id=programme.id, after=programme_snapshot(programme))
    return programme


def update_programme(session: Session, actor, programme: Programme, **data: Any) -> Programme:
    """Edit a programme; its code is frozen once any intervention uses it (reports and links name it)."""
    values = _check_programme(session, data, programme)
    if values["code"] != programme.code and programme_in_use(session, programme):
        raise ValidationFailed({"code": [_("Program ini sudah dipakai intervensi; kodenya %(code)s tidak dapat "
                                           "diubah. Ubah namanya saja, atau buat program baru.",
                                           code=programme.code)]})
    before = programme_snapshot(programme)
    for key, value in values.items():
        setattr(programme, key, value)
    session.flush()
    old, new = _changes(before, programme_snapshot(programme))
    if new:
        record_audit_event(session, actor_id=actor.id, action="update_programme", object_type="programme",
                           object_id=programme.id, before=old, after=new)
    return programme


def set_programme_active(session: Session, actor, programme: Programme, active: bool) -> Programme:
    """Retire or restore a programme. A retired one is not offered in new plans; running ones continue."""
    if programme.active == active:
        return programme
    programme.active = active
    session.flush()
    record_audit_event(session, actor_id=actor.id,
                       action="activate_programme" if active else "deactivate_programme",
                       object_type="programme", object_id=programme.id, before={"active": not active},
                       after={"active": active})
    return programme
