"""Every write to the household register: register, edit the address, members, KK changes, reveals.

Operations flush, never commit: the view, API call or task that calls them owns the transaction.
Each validates all of its input first and reports every problem at once as
``ValidationFailed({field: [messages]})`` with field names such as ``kk_number`` or
``members[1].birth_date``; nothing is written when anything fails. NIK and KK are stored sealed
(ciphertext, blind index, mask) and only their masked form ever reaches the audit trail or a log.
Field checks and code lists live in :mod:`.checks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import null, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseapp.agencies.models import Region
from caseapp.auth.models import User
from caseapp.core.audit import AccessKind, record_access, record_audit_event
from caseapp.core.crypto import decrypt
from caseapp.core.errors import NotAllowed, NotFound, StaleVersion, ValidationFailed
from caseapp.core.identifiers import lookup_hash, seal_number
from caseapp.core.models import utcnow
from caseapp.households.identity import normalize_number
from caseapp.households.models import DesilRecord, Household, HouseholdKK, Person, Relation, Section
from caseapp.households.operations.checks import (
    ADDRESS_FIELDS,
    CODE_LISTS,
    CODELIST_VERSION,
    HOUSEHOLD_FIELDS,
    HOUSING_LABELS,
    KK_CHANGE_REASONS,
    KK_HISTORY_LABELS,
    MAX_MEMBERS,
    MEMBER_FIELDS,
    RELATION_LABELS,
    REQUIRED_MEMBER_FIELDS,
    SEX_LABELS,
    DuplicateNumber,
    Problems,
    area_name,
    blank,
    clean_address,
    clean_int,
    clean_kk,
    clean_member,
    duplicate_message,
    household_of_kk,
    household_of_nik,
    in_scope,
    kecamatan_of,
    kelurahan_region,
    race_conflict,
    raise_duplicates,
    today_jakarta,
)
from caseapp.households.policy import (
    can_edit_household,
    can_register_in,
    can_reveal_identity,
    person_column_section,
)

__all__ = [
    "CODELIST_VERSION", "CODE_LISTS", "HOUSING_LABELS", "KK_CHANGE_REASONS", "KK_HISTORY_LABELS", "MAX_MEMBERS",
    "MEMBER_FIELDS", "RELATION_LABELS", "SEX_LABELS", "DuplicateNumber", "add_member", "change_kk",
    "create_household", "find_by_number", "reveal_identity", "today_jakarta", "update_household", "update_member",
]


# --- audit snapshots (masked numbers, no specific-section values) ------------------------------

def _household_snapshot(household: Household) -> dict[str, Any]:
    return {
        "kk": household.kk_masked, "kelurahan_code": household.kelurahan_code, "rw": household.rw,
        "rt": household.rt, "address": household.address,
        "latitude": None if household.latitude is None else str(household.latitude),
        "longitude": None if household.longitude is None else str(household.longitude),
        "desil": household.desil, "desil_release": household.desil_release, "version": household.version,
    }


def _person_snapshot(person: Person, sensitive: Iterable[str] = ()) -> dict[str, Any]:
    """General fields only; for specific sections (health, finance…) only the names of fields touched."""
    snapshot: dict[str, Any] = {
        "id": person.id, "nik": person.nik_masked, "name": person.name, "sex": str(person.sex),
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "relation": str(person.relation), "marital_status": person.marital_status,
        "education_level": person.education_level,
    }
    touched = sorted(set(sensitive))
    if touched:
        snapshot["specific_fields"] = touched
    return snapshot


def _specific(names: Iterable[str]) -> list[str]:
    return [n for n in names if n != "nik" and person_column_section(n) != Section.GENERAL]


# --- guards ----------------------------------------------------------------------------------

def _require_edit(actor: User, household: Household) -> None:
    if not can_edit_household(actor, household):
        raise NotAllowed(_("Anda tidak dapat mengubah data rumah tangga ini."))


def _check_version(household: Household, version: object) -> int:
    try:
        expected = int(version)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        message = _("Versi data tidak terbaca. Muat ulang halaman lalu coba lagi.")
        raise ValidationFailed({"version": [message]}) from None
    if expected != household.version:
        raise StaleVersion(_("Data rumah tangga ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi."))
    return expected


def _bump_version(session: Session, household: Household, expected: int, **values: Any) -> None:
    """Conditional UPDATE: write *values* and bump the version only if it is still *expected*."""
    result = session.execute(
        update(Household).where(Household.id == household.id, Household.version == expected)
        .values(version=Household.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(household)
        raise StaleVersion(_("Data rumah tangga ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi."))
    session.refresh(household)


# --- operations ------------------------------------------------------------------------------

def create_household(session: Session, *, actor: User, data: Mapping[str, Any]) -> Household:
    """Register a household with its members (exactly one head), KK history and desil record.

    Raises ``ValidationFailed`` listing every problem, ``DuplicateNumber`` (409) when a NIK or the
    KK is already registered. Non-blocking NIK/KK warnings are returned on ``household.warnings``
    as ``{field: [messages]}``.
    """
    problems, warnings = Problems(), Problems()
    today = today_jakarta()
    for name in data:
        if name not in HOUSEHOLD_FIELDS:
            problems.add(name, _("Kolom ini tidak dikenal."))

    region = kelurahan_region(session, data.get("kelurahan_code"))
    if blank(data.get("kelurahan_code")):
        problems.add("kelurahan_code", _("Pilih kelurahan tempat rumah tangga tinggal."))
    elif region is None:
        problems.add("kelurahan_code", _("Kelurahan tidak dikenal. Pilih dari daftar kelurahan Kota Kediri."))
    elif not can_register_in(actor, region):
        problems.add("kelurahan_code", _("Anda hanya dapat mendaftarkan rumah tangga di wilayah tugas Anda "
                                         "(%(area)s). Untuk kelurahan lain, hubungi penyelia.",
                                         area=area_name(actor, session)))
    kecamatan = kecamatan_of(region.code) if region is not None else None

    address = clean_address({name: data.get(name) for name in ADDRESS_FIELDS}, problems)
    kk = None
    if not blank(data.get("kk_number")):
        kk = clean_kk(data["kk_number"], "kk_number", problems, warnings, kecamatan_code=kecamatan, today=today)

    desil, release = data.get("desil"), data.get("desil_release")
    release = release.strip() if isinstance(release, str) else release
    if not blank(desil):
        desil = clean_int(desil, "desil", problems, 1, 10, _("Desil harus angka 1 sampai 10."))
        if blank(release):
            problems.add("desil_release", _("Desil dari DTSEN wajib dicatat bersama rilisnya, misalnya "
                                            "DTSEN-2025-Q2."))
    else:
        desil = None
        if not blank(release):
            problems.add("desil", _("Isi desil (1 sampai 10) dari rilis DTSEN ini, atau kosongkan rilisnya."))
    if not blank(release) and (not isinstance(release, str) or len(release) > 32):
        problems.add("desil_release", _("Nama rilis DTSEN paling banyak 32 karakter."))

    raw_members = data.get("members")
    members: list[dict[str, Any]] = []
    if not isinstance(raw_members, list | tuple) or not raw_members:
        problems.add("members", _("Isi minimal satu anggota: kepala keluarga."))
        raw_members = []
    elif len(raw_members) > MAX_MEMBERS:
        problems.add("members", _("Paling banyak %(n)s anggota dalam satu rumah tangga.", n=MAX_MEMBERS))
    for index, raw in enumerate(raw_members):
        prefix = f"members[{index}]."
        if not isinstance(raw, Mapping):
            problems.add(f"members[{index}]", _("Data anggota tidak terbaca."))
            members.append({})
            continue
        members.append(clean_member(raw, prefix, problems, warnings, kecamatan_code=kecamatan, today=today))

    heads = [i for i, m in enumerate(members) if m.get("relation") == Relation.HEAD]
    if raw_members and not heads and not any(f"members[{i}].relation" in problems for i in range(len(members))):
        problems.add("members", _("Tandai satu anggota sebagai kepala keluarga."))
    for index in heads[1:]:
        problems.add(f"members[{index}].relation", _("Hanya boleh ada satu kepala keluarga. Ubah hubungan "
                                                     "anggota ini (misalnya suami/istri)."))
    seen: dict[str, int] = {}
    for index, member in enumerate(members):
        nik = member.get("nik")
        if nik is None:
            continue
        if nik in seen:
            problems.add(f"members[{index}].nik", _("NIK ini sama dengan NIK anggota ke-%(n)s. Setiap orang "
                                                    "punya NIK sendiri.", n=seen[nik] + 1))
        else:
            seen[nik] = index
    if problems:
        raise ValidationFailed(dict(problems))

    duplicates: list[tuple[str, str, int | None]] = []
    if kk is not None and (holder := household_of_kk(session, kk)) is not None:
        message, nameable = duplicate_message(session, actor, holder, what="kk")
        duplicates.append(("kk_number", message, holder if nameable else None))
    for nik, index in seen.items():
        if (holder := household_of_nik(session, nik)) is not None:
            message, nameable = duplicate_message(session, actor, holder, what="nik", member_number=index + 1)
            duplicates.append((f"members[{index}].nik", message, holder if nameable else None))
    raise_duplicates(duplicates)

    try:
        with session.begin_nested():
            household = _write_household(session, actor=actor, region=region, address=address, kk=kk,
                                         desil=desil, release=release, members=members, today=today)
    except IntegrityError:
        raise race_conflict() from None
    household.warnings = dict(warnings)  # type: ignore[attr-defined]
    return household


def _write_household(session: Session, *, actor: User, region: Region, address: dict[str, Any], kk: str | None,
                     desil: int | None, release: str | None, members: list[dict[str, Any]],
                     today: date) -> Household:
    household = Household(kelurahan_code=region.code, desil=desil, desil_release=release if desil else None,
                          version=1, **address)
    if kk is not None:
        sealed = seal_number(kk, "kk")
        household.kk_ciphertext, household.kk_hash, household.kk_masked = (
            sealed.ciphertext, sealed.blind_index, sealed.masked)
    session.add(household)
    session.flush()
    if kk is not None:
        session.add(HouseholdKK(household_id=household.id, kk_ciphertext=household.kk_ciphertext,
                                kk_hash=household.kk_hash, kk_masked=household.kk_masked,
                                valid_from=today, valid_to=None, reason="registered"))
    if desil is not None:
        session.add(DesilRecord(household_id=household.id, desil=desil, release=release))
    people = [_new_person(household, member) for member in members]
    session.add_all(people)
    session.flush()
    # Scope is decided in SQL; the household must be visible to whoever registered it.
    if not in_scope(session, actor, household.id):
        raise ValidationFailed({"kelurahan_code": [_("Rumah tangga ini akan berada di luar wilayah Anda. "
                                                     "Pilih kelurahan di wilayah tugas Anda.")]})
    after = _household_snapshot(household)
    after["members"] = [_person_snapshot(p, _specific(m)) for p, m in zip(people, members, strict=True)]
    record_audit_event(session, actor_id=actor.id, action="create_household", object_type="household",
                       object_id=household.id, after=after)
    session.flush()
    return household


def _new_person(household: Household, member: dict[str, Any]) -> Person:
    values = {k: v for k, v in member.items() if k != "nik" and v is not None}
    person = Person(household=household, codelist_version=CODELIST_VERSION, active=True, **values)
    if member.get("nik"):
        sealed = seal_number(member["nik"], "nik")
        person.nik_ciphertext, person.nik_hash, person.nik_masked = sealed.ciphertext, sealed.blind_index, sealed.masked
    return person


def update_household(session: Session, *, actor: User, household: Household, data: Mapping[str, Any],
                     version: object) -> Household:
    """Change address, RW, RT or geotag, conditional on *version* (``StaleVersion`` when it moved on).

    Desil and KK are refused here: desil only changes with a DTSEN release, a KK through
    :func:`change_kk` with its reason.
    """
    _require_edit(actor, household)
    expected = _check_version(household, version)
    problems = Problems()
    for name in data:
        if name in ("desil", "desil_release"):
            problems.add(name, _("Desil tidak dapat diubah di Sinergi: desil hanya berubah lewat rilis DTSEN "
                                 "dari BPS. Usulan perubahan diajukan lewat kasus (usulan/sanggahan)."))
        elif name == "kk_number":
            problems.add(name, _("Nomor KK tidak diubah di sini. Gunakan \"Ganti nomor KK\" dan pilih alasannya "
                                 "(pindah, pecah KK, kepala keluarga meninggal, ...)."))
        elif name not in ADDRESS_FIELDS:
            problems.add(name, _("Kolom ini tidak dapat diubah."))
    cleaned = clean_address({k: v for k, v in data.items() if k in ADDRESS_FIELDS}, problems)
    if problems:
        raise ValidationFailed(dict(problems))
    changes = {k: v for k, v in cleaned.items() if getattr(household, k) != v}
    if not changes:
        return household
    before = {k: _jsonable(getattr(household, k)) for k in changes}
    _bump_version(session, household, expected, **changes)
    record_audit_event(session, actor_id=actor.id, action="update_household", object_type="household",
                       object_id=household.id, before=before,
                       after={**{k: _jsonable(v) for k, v in changes.items()}, "version": household.version})
    session.flush()
    return household


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def change_kk(session: Session, *, actor: User, household: Household, new_kk: object, reason: str,
              version: object | None = None) -> Household:
    """Give *household* a new family card number: the current KK row closes today, a new one opens.

    *reason* is one of :data:`KK_CHANGE_REASONS`. The history keeps every number the family held.
    NIK/KK warnings are returned on ``household.warnings``.
    """
    _require_edit(actor, household)
    expected = household.version if version is None else _check_version(household, version)
    problems, warnings = Problems(), Problems()
    today = today_jakarta()
    kk = None
    if blank(new_kk):
        problems.add("kk_number", _("Isi nomor KK yang baru (16 angka)."))
    else:
        kk = clean_kk(new_kk, "kk_number", problems, warnings,
                       kecamatan_code=kecamatan_of(household.kelurahan_code), today=today)
    if reason not in KK_CHANGE_REASONS:
        problems.add("reason", _("Pilih alasan pergantian KK: %(codes)s.", codes=", ".join(KK_CHANGE_REASONS)))
    if kk is not None and household.kk_hash == lookup_hash(kk, "kk"):
        problems.add("kk_number", _("Nomor ini sama dengan nomor KK yang sekarang."))
    if problems:
        raise ValidationFailed(dict(problems))
    holder = household_of_kk(session, kk)
    if holder is not None and holder != household.id:
        message, nameable = duplicate_message(session, actor, holder, what="kk")
        raise_duplicates([("kk_number", message, holder if nameable else None)])

    before = {"kk": household.kk_masked}
    sealed = seal_number(kk, "kk")
    try:
        with session.begin_nested():
            for row in household.kk_history:
                if row.valid_to is None:
                    row.valid_to = today
            session.add(HouseholdKK(household_id=household.id, kk_ciphertext=sealed.ciphertext,
                                    kk_hash=sealed.blind_index, kk_masked=sealed.masked, valid_from=today,
                                    valid_to=None, reason=reason))
            session.flush()
            _bump_version(session, household, expected, kk_ciphertext=sealed.ciphertext,
                          kk_hash=sealed.blind_index, kk_masked=sealed.masked)
    except IntegrityError:
        raise race_conflict() from None
    session.expire(household, ["kk_history"])
    record_audit_event(session, actor_id=actor.id, action="change_kk", object_type="household",
                       object_id=household.id, before=before,
                       after={"kk": sealed.masked, "reason": reason, "version": household.version})
    session.flush()
    household.warnings = dict(warnings)  # type: ignore[attr-defined]
    return household


def _active_head(household: Household, *, besides: Person | None = None) -> Person | None:
    return next((m for m in household.members
                 if m.active and m.relation == Relation.HEAD and m is not besides), None)


def add_member(session: Session, *, actor: User, household: Household, data: Mapping[str, Any],
               version: object | None = None) -> Person:
    """Add a member (a birth, a marriage, someone moving in). NIK optional; a second head is refused."""
    _require_edit(actor, household)
    expected = household.version if version is None else _check_version(household, version)
    problems, warnings = Problems(), Problems()
    member = clean_member(data, "", problems, warnings,
                           kecamatan_code=kecamatan_of(household.kelurahan_code), today=today_jakarta())
    if member.get("relation") == Relation.HEAD and _active_head(household) is not None:
        problems.add("relation", _("Rumah tangga ini sudah punya kepala keluarga. Pilih hubungan lain."))
    if problems:
        raise ValidationFailed(dict(problems))
    if member.get("nik") and (holder := household_of_nik(session, member["nik"])) is not None:
        message, nameable = duplicate_message(session, actor, holder, what="nik")
        raise_duplicates([("nik", message, holder if nameable else None)])
    try:
        with session.begin_nested():
            person = _new_person(household, member)
            session.add(person)
            session.flush()
            _bump_version(session, household, expected)
    except IntegrityError:
        raise race_conflict() from None
    record_audit_event(session, actor_id=actor.id, action="add_member", object_type="person", object_id=person.id,
                       after={**_person_snapshot(person, _specific(member)), "household_id": household.id})
    session.flush()
    person.warnings = dict(warnings)  # type: ignore[attr-defined]
    return person


def update_member(session: Session, *, actor: User, person: Person, data: Mapping[str, Any],
                  version: object | None = None) -> Person:
    """Change a member's name, sex, birth date, relation or socio-economic answers.

    A NIK can be recorded once when it is missing but never changed: a NIK is for life.
    """
    household = person.household
    _require_edit(actor, household)
    expected = household.version if version is None else _check_version(household, version)
    problems, warnings = Problems(), Problems()
    given = dict(data)
    if "nik" in given and person.nik_hash is not None:
        number = normalize_number(given.pop("nik"))
        if number and lookup_hash(number, "nik") != person.nik_hash:
            problems.add("nik", _("NIK tidak berubah seumur hidup, jadi NIK yang sudah tercatat tidak dapat "
                                  "diganti. Jika dulu salah ketik, hubungi penyelia untuk perbaikan data."))
    # Cross-field checks (pregnancy and sex, NIK and birth date) see the stored values too.
    context = {"sex": person.sex, "birth_date": person.birth_date}
    member = clean_member({**{k: v for k, v in context.items() if k not in given}, **given}, "", problems,
                           warnings, kecamatan_code=kecamatan_of(household.kelurahan_code),
                           today=today_jakarta(), partial=True)
    member = {k: v for k, v in member.items() if k in given}
    for name in REQUIRED_MEMBER_FIELDS:
        if name in given and blank(given[name]):
            problems.add(name, _("Wajib diisi."))
    new_relation = member.get("relation", person.relation)
    if new_relation == Relation.HEAD and person.relation != Relation.HEAD and _active_head(household, besides=person):
        problems.add("relation", _("Rumah tangga ini sudah punya kepala keluarga. Ubah dulu hubungan kepala "
                                   "keluarga yang lama."))
    if person.relation == Relation.HEAD and new_relation != Relation.HEAD:
        problems.add("relation", _("Rumah tangga harus punya satu kepala keluarga. Tetapkan dulu kepala keluarga "
                                   "yang baru pada anggota lain."))
    if problems:
        raise ValidationFailed(dict(problems))
    if member.get("nik") and (holder := household_of_nik(session, member["nik"])) is not None:
        message, nameable = duplicate_message(session, actor, holder, what="nik")
        raise_duplicates([("nik", message, holder if nameable else None)])

    changes = {k: v for k, v in member.items() if k != "nik" and getattr(person, k) != v}
    if not changes and not member.get("nik"):
        person.warnings = dict(warnings)  # type: ignore[attr-defined]
        return person
    before = _person_snapshot(person)
    try:
        with session.begin_nested():
            for name, value in changes.items():
                setattr(person, name, null() if value is None and name == "disability_types" else value)
            if member.get("nik"):
                sealed = seal_number(member["nik"], "nik")
                person.nik_ciphertext, person.nik_hash, person.nik_masked = (
                    sealed.ciphertext, sealed.blind_index, sealed.masked)
            person.codelist_version = CODELIST_VERSION
            session.flush()
            _bump_version(session, household, expected)
    except IntegrityError:
        raise race_conflict() from None
    session.refresh(person)
    sensitive = _specific(changes)
    record_audit_event(session, actor_id=actor.id, action="update_member", object_type="person",
                       object_id=person.id, before={k: v for k, v in before.items() if k in changes or k == "nik"},
                       after={k: v for k, v in _person_snapshot(person, sensitive).items()
                              if k in changes or k in ("nik", "specific_fields")})
    session.flush()
    person.warnings = dict(warnings)  # type: ignore[attr-defined]
    return person


def find_by_number(session: Session, number: object) -> Household | None:
    """The household holding *number* as a member's NIK or as its KK, current or historical.

    Exact match through the blind index; anything that is not 16 digits finds nothing. Scope is
    the caller's business (check it before showing the result).
    """
    digits = normalize_number(number)
    if len(digits) != 16 or not digits.isdigit():
        return None
    household_id = household_of_nik(session, digits) or household_of_kk(session, digits)
    return session.get(Household, household_id) if household_id is not None else None


def reveal_identity(session: Session, *, actor: User, person: Person | None = None,
                    household: Household | None = None) -> str:
    """Decrypt one full NIK (*person*) or KK (*household*) for *actor*, and log the reveal.

    The access log names the record, never the number. Roles that may not reveal get ``NotAllowed``.
    """
    if (person is None) == (household is None):
        raise ValueError("reveal_identity needs exactly one of person or household")
    if not can_reveal_identity(actor):
        raise NotAllowed(_("Peran Anda tidak dapat menampilkan NIK atau nomor KK lengkap."))
    household_id = person.household_id if person is not None else household.id  # type: ignore[union-attr]
    if not in_scope(session, actor, household_id):
        raise NotFound()
    if person is not None:
        token, purpose, object_type, object_id = person.nik_ciphertext, "nik", "person", person.id
    else:
        token, purpose, object_type, object_id = household.kk_ciphertext, "kk", "household", household.id  # type: ignore[union-attr]
    if token is None:
        raise NotFound(_("Belum ada NIK tercatat.") if purpose == "nik" else _("Belum ada nomor KK tercatat."))
    number = decrypt(token, purpose)
    record_access(session, user_id=actor.id, kind=AccessKind.REVEAL, object_type=object_type, object_id=object_id,
                  detail={"field": purpose, "household_id": household_id})
    session.flush()
    return number
