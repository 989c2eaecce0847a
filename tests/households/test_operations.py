"""Household register operations: validation (all at once), duplicates, scope, locks, KK history, reveals."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from caseapp.auth.models import User
from caseapp.core import crypto
from caseapp.core.audit import AccessKind, AccessLog, AuditEvent
from caseapp.core.errors import Conflict, NotAllowed, NotFound, StaleVersion, ValidationFailed
from caseapp.core.identifiers import lookup_hash
from caseapp.households import operations as ops
from caseapp.households.identity import build_kk, build_nik
from caseapp.households.models import DesilRecord, Household, HouseholdKK, Person, Relation
from caseapp.households.policy import (
    SECTIONS_BY_AGENCY_KIND,
    can_edit_household,
    can_reveal_identity,
    visible_person_fields,
)
from tests.factories import HouseholdFactory, PersonFactory, UserFactory

SIXTEEN_DIGITS = re.compile(r"\d{16}")
BANDAR_LOR = "35.71.01.1001"   # worker@sinergi.test's kelurahan
SEMAMPIR = "35.71.02.1001"     # worker2@sinergi.test's kelurahan
_serial = iter(range(3001, 9000))


def user(session, email) -> User:
    return session.scalar(select(User).where(User.email == email))


def nik(born=date(1980, 5, 17), sex="L", kecamatan="01") -> str:
    return build_nik("35", "71", kecamatan, born, sex, next(_serial))


def kk(kecamatan="01") -> str:
    return build_kk("35", "71", kecamatan, date(2020, 1, 15), next(_serial))


def household_data(kelurahan=BANDAR_LOR, **overrides) -> dict:
    kecamatan = kelurahan.split(".")[2]
    data = {
        "kk_number": kk(kecamatan),
        "kelurahan_code": kelurahan,
        "rw": 3,
        "rt": 5,
        "address": "Jl. Joyoboyo Gg. 2 No. 14",
        "desil": 1,
        "desil_release": "DTSEN-2025-Q2",
        "members": [
            {"nik": nik(kecamatan=kecamatan), "name": "Slamet Riyadi", "sex": "L", "birth_date": date(1980, 5, 17),
             "relation": "head", "work_status": "bekerja", "work_sector": "buruh", "monthly_income": 1200000},
            {"nik": nik(date(1984, 2, 3), "P", kecamatan), "name": "Sumarni", "sex": "P",
             "birth_date": date(1984, 2, 3), "relation": "spouse", "chronic_illness": True, "pregnant": False},
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def worker(ctx):
    return user(ctx, "worker@sinergi.test")


@pytest.fixture
def worker2(ctx):
    return user(ctx, "worker2@sinergi.test")


def audit_events(session, action) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_create_stores_sealed_numbers_history_and_an_audit_event_without_full_numbers(ctx, worker):
    data = household_data()
    household = ops.create_household(ctx, actor=worker, data=data)

    assert household.id is not None and household.version == 1
    assert household.kk_masked == data["kk_number"][:4] + "********" + data["kk_number"][-4:]
    assert household.kk_hash == lookup_hash(data["kk_number"], "kk")
    assert crypto.decrypt(household.kk_ciphertext, "kk") == data["kk_number"]
    assert data["kk_number"].encode() not in household.kk_ciphertext
    head, spouse = household.members
    assert head.relation == Relation.HEAD and household.head is head
    assert crypto.decrypt(spouse.nik_ciphertext, "nik") == data["members"][1]["nik"]
    assert spouse.nik_hash == lookup_hash(data["members"][1]["nik"], "nik")
    assert head.monthly_income == 1200000 and spouse.chronic_illness is True

    history = ctx.scalars(select(HouseholdKK).where(HouseholdKK.household_id == household.id)).all()
    assert [(h.reason, h.valid_to, h.valid_from) for h in history] == [("registered", None, ops.today_jakarta())]
    desil = ctx.scalars(select(DesilRecord).where(DesilRecord.household_id == household.id)).all()
    assert [(d.desil, d.release) for d in desil] == [(1, "DTSEN-2025-Q2")]

    (event,) = audit_events(ctx, "create_household")
    assert event.actor_id == worker.id and event.object_id == household.id
    dumped = json.dumps([event.before, event.after])
    assert not SIXTEEN_DIGITS.search(dumped)
    assert household.kk_masked in dumped
    # Specific-section values (health, income) never enter the audit trail, only that they were given.
    assert "1200000" not in dumped
    assert event.after["members"][1]["specific_fields"] == ["chronic_illness", "pregnant"]
    assert household.warnings == {}


def test_all_problems_are_reported_at_once_with_field_names(ctx, worker):
    data = household_data(kk_number="3571011501200000", rw=0, address="", desil=11)
    data["members"][0]["nik"] = "35710117058"  # too short
    data["members"][1]["birth_date"] = date(2999, 1, 1)
    data["members"][1]["sex"] = "X"
    with pytest.raises(ValidationFailed) as raised:
        ops.create_household(ctx, actor=worker, data=data)
    fields = raised.value.fields
    assert {"kk_number", "rw", "address", "desil", "members[0].nik", "members[1].birth_date",
            "members[1].sex"} <= set(fields)
    assert "0000" in fields["kk_number"][0]
    assert "16 angka" in fields["members[0].nik"][0]
    assert ctx.scalar(select(func.count(Household.id))) == 0
    assert ctx.scalar(select(func.count(Person.id))) == 0


def test_nik_messages_follow_the_request_locale(app, session, worker):
    data = household_data()
    data["members"][0]["nik"] = "12345"
    with app.test_request_context(headers={"Accept-Language": "en"}), pytest.raises(ValidationFailed) as raised:
        ops.create_household(session, actor=worker, data=data)
    assert raised.value.fields["members[0].nik"] == [
        "NIK must be 16 digits; 5 were entered. Check it against the ID card or family card."]


@pytest.mark.parametrize(
    ("relations", "field"),
    [(["spouse", "child"], "members"), (["head", "head"], "members[1].relation")],
)
def test_exactly_one_head(ctx, worker, relations, field):
    data = household_data()
    for member, relation in zip(data["members"], relations, strict=True):
        member["relation"] = relation
    with pytest.raises(ValidationFailed) as raised:
        ops.create_household(ctx, actor=worker, data=data)
    assert field in raised.value.fields


def test_same_nik_twice_in_one_request(ctx, worker):
    data = household_data()
    data["members"][1]["nik"] = data["members"][0]["nik"]
    data["members"][1]["sex"], data["members"][1]["birth_date"] = "L", date(1980, 5, 17)
    with pytest.raises(ValidationFailed) as raised:
        ops.create_household(ctx, actor=worker, data=data)
    assert "anggota ke-1" in raised.value.fields["members[1].nik"][0]


def test_desil_needs_its_release_and_warnings_do_not_block(ctx, worker):
    with pytest.raises(ValidationFailed) as raised:
        ops.create_household(ctx, actor=worker, data=household_data(desil=2, desil_release=""))
    assert "desil_release" in raised.value.fields
    data = household_data(desil=None, desil_release=None)
    data["members"][0]["sex"] = "P"  # the NIK says male: a warning, not an error
    household = ops.create_household(ctx, actor=worker, data=data)
    assert household.desil is None
    assert "members[0].nik" in household.warnings
    assert ctx.scalar(select(func.count(DesilRecord.id)).where(DesilRecord.household_id == household.id)) == 0


def test_duplicate_nik_is_a_conflict_naming_the_household(ctx, worker):
    first = ops.create_household(ctx, actor=worker, data=household_data())
    again = household_data()
    again["members"][1]["nik"] = crypto.decrypt(first.members[1].nik_ciphertext, "nik")
    with pytest.raises(Conflict) as raised:
        ops.create_household(ctx, actor=worker, data=again)
    assert raised.value.status_code == 409
    expected = f"NIK anggota ke-2 sudah terdaftar di rumah tangga #{first.id} (Kel. Bandar Lor)."
    assert raised.value.message == expected
    assert raised.value.fields == {"members[1].nik": [expected]}
    assert raised.value.household_id == first.id
    assert ctx.scalar(select(func.count(Household.id))) == 1


def test_duplicate_kk_is_a_conflict_too(ctx, worker):
    first = ops.create_household(ctx, actor=worker, data=household_data())
    again = household_data(kk_number=crypto.decrypt(first.kk_ciphertext, "kk"))
    with pytest.raises(Conflict) as raised:
        ops.create_household(ctx, actor=worker, data=again)
    assert f"#{first.id}" in raised.value.fields["kk_number"][0]


def test_duplicate_outside_scope_reveals_neither_id_nor_place(ctx, worker, worker2):
    theirs = ops.create_household(ctx, actor=worker2, data=household_data(SEMAMPIR))
    number = crypto.decrypt(theirs.members[0].nik_ciphertext, "nik")
    mine = household_data()
    mine["members"][1] = {"nik": number, "name": "Pindahan", "sex": "L", "birth_date": date(1980, 5, 17),
                          "relation": "other_relative"}
    with pytest.raises(Conflict) as raised:
        ops.create_household(ctx, actor=worker, data=mine)
    message = raised.value.message
    assert "di luar wilayah Anda" in message and "penyelia" in message
    assert str(theirs.id) not in message and "Semampir" not in message
    assert raised.value.household_id is None


def test_social_worker_cannot_register_outside_their_kelurahan(ctx, worker):
    with pytest.raises(ValidationFailed) as raised:
        ops.create_household(ctx, actor=worker, data=household_data(SEMAMPIR))
    assert "Bandar Lor" in raised.value.fields["kelurahan_code"][0]
    with pytest.raises(ValidationFailed) as raised:
        ops.create_household(ctx, actor=worker, data=household_data(kelurahan_code="35.71.09.9999"))
    assert "kelurahan_code" in raised.value.fields


def test_update_address_with_the_version_and_stale_version_is_refused(ctx, worker):
    household = ops.create_household(ctx, actor=worker, data=household_data())
    ops.update_household(ctx, actor=worker, household=household, data={"address": "Jl. Kawi 7", "rt": 9},
                         version=1)
    assert (household.address, household.rt, household.version) == ("Jl. Kawi 7", 9, 2)
    (event,) = audit_events(ctx, "update_household")
    assert event.before == {"address": "Jl. Joyoboyo Gg. 2 No. 14", "rt": 5}
    assert event.after["address"] == "Jl. Kawi 7"
    with pytest.raises(StaleVersion):
        ops.update_household(ctx, actor=worker, household=household, data={"rw": 4}, version=1)
    assert household.rw == 3


def test_stale_version_is_caught_by_the_conditional_update(ctx, worker):
    household = ops.create_household(ctx, actor=worker, data=household_data())
    ctx.execute(Household.__table__.update().where(Household.id == household.id).values(version=5))
    with pytest.raises(StaleVersion):
        ops.update_household(ctx, actor=worker, household=household, data={"rw": 4}, version=1)
    assert household.version == 5


@pytest.mark.parametrize("field", ["desil", "desil_release", "kk_number", "status", "version"])
def test_desil_kk_and_other_fields_are_refused_by_update(ctx, worker, field):
    household = ops.create_household(ctx, actor=worker, data=household_data())
    with pytest.raises(ValidationFailed) as raised:
        ops.update_household(ctx, actor=worker, household=household, data={field: 3}, version=1)
    assert field in raised.value.fields
    if field == "desil":
        assert "DTSEN" in raised.value.fields["desil"][0]
    assert household.version == 1


def test_change_kk_closes_the_old_row_and_keeps_history(ctx, worker):
    household = ops.create_household(ctx, actor=worker, data=household_data())
    old_hash = household.kk_hash
    new_number = kk()
    ops.change_kk(ctx, actor=worker, household=household, new_kk=new_number, reason="split")
    assert household.kk_hash == lookup_hash(new_number, "kk") and household.version == 2
    rows = ctx.scalars(select(HouseholdKK).where(HouseholdKK.household_id == household.id)
                       .order_by(HouseholdKK.id)).all()
    assert [(r.kk_hash == old_hash, r.valid_to, r.reason) for r in rows] == [
        (True, ops.today_jakarta(), "registered"), (False, None, "split")]
    # The old number still finds the family.
    assert ops.find_by_number(ctx, crypto.decrypt(rows[0].kk_ciphertext, "kk")) is household
    (event,) = audit_events(ctx, "change_kk")
    assert not SIXTEEN_DIGITS.search(json.dumps([event.before, event.after]))
    with pytest.raises(ValidationFailed) as raised:
        ops.change_kk(ctx, actor=worker, household=household, new_kk=new_number, reason="nope")
    assert set(raised.value.fields) == {"kk_number", "reason"}


def test_change_kk_to_a_number_of_another_household_is_a_conflict(ctx, worker):
    first = ops.create_household(ctx, actor=worker, data=household_data())
    second = ops.create_household(ctx, actor=worker, data=household_data())
    with pytest.raises(Conflict):
        ops.change_kk(ctx, actor=worker, household=second, new_kk=crypto.decrypt(first.kk_ciphertext, "kk"),
                      reason="moved")


def test_members_add_update_and_a_nik_is_for_life(ctx, worker):
    household = ops.create_household(ctx, actor=worker, data=household_data())
    child = ops.add_member(ctx, actor=worker, household=household, version=1,
                           data={"name": "Putri", "sex": "P", "birth_date": date(2015, 3, 1), "relation": "child",
                                 "school_participation": "sekolah", "education_level": "sd"})
    assert child.nik_hash is None and household.version == 2
    with pytest.raises(ValidationFailed) as raised:
        ops.add_member(ctx, actor=worker, household=household,
                       data={"name": "Kedua", "sex": "L", "birth_date": date(1970, 1, 1), "relation": "head"})
    assert "relation" in raised.value.fields

    number = nik(date(2015, 3, 1), "P")
    ops.update_member(ctx, actor=worker, person=child, data={"nik": number, "name": "Putri Lestari"})
    assert child.nik_hash == lookup_hash(number, "nik") and child.name == "Putri Lestari"
    with pytest.raises(ValidationFailed) as raised:
        ops.update_member(ctx, actor=worker, person=child, data={"nik": nik(date(2015, 3, 1), "P")})
    assert "seumur hidup" in raised.value.fields["nik"][0]
    # Giving the same NIK again is not a change.
    ops.update_member(ctx, actor=worker, person=child, data={"nik": number})
    with pytest.raises(ValidationFailed) as raised:
        ops.update_member(ctx, actor=worker, person=household.members[0], data={"relation": "spouse"})
    assert "kepala keluarga" in raised.value.fields["relation"][0]
    with pytest.raises(ValidationFailed):
        ops.update_member(ctx, actor=worker, person=household.members[0], data={"pregnant": True})
    events = audit_events(ctx, "update_member")
    assert events and not SIXTEEN_DIGITS.search(json.dumps([[e.before, e.after] for e in events]))


def test_find_by_number_uses_nik_or_kk(ctx, worker):
    household = ops.create_household(ctx, actor=worker, data=household_data())
    kk_number = crypto.decrypt(household.kk_ciphertext, "kk")
    spouse_nik = crypto.decrypt(household.members[1].nik_ciphertext, "nik")
    assert ops.find_by_number(ctx, kk_number) is household
    assert ops.find_by_number(ctx, f" {spouse_nik[:6]}.{spouse_nik[6:12]}.{spouse_nik[12:]} ") is household
    assert ops.find_by_number(ctx, nik()) is None
    assert ops.find_by_number(ctx, "123") is None


def test_reveal_decrypts_and_logs_without_the_number(ctx, worker):
    household = ops.create_household(ctx, actor=worker, data=household_data())
    person = household.members[1]
    number = ops.reveal_identity(ctx, actor=worker, person=person)
    assert number == crypto.decrypt(person.nik_ciphertext, "nik")
    assert ops.reveal_identity(ctx, actor=worker, household=household) == crypto.decrypt(household.kk_ciphertext, "kk")
    logs = ctx.scalars(select(AccessLog).where(AccessLog.kind == AccessKind.REVEAL).order_by(AccessLog.id)).all()
    assert [(log.object_type, log.object_id, log.user_id) for log in logs] == [
        ("person", person.id, worker.id), ("household", household.id, worker.id)]
    assert not SIXTEEN_DIGITS.search(json.dumps([log.detail for log in logs]))


def test_reveal_is_refused_for_agency_officers_and_out_of_scope(ctx, worker, worker2):
    household = ops.create_household(ctx, actor=worker, data=household_data())
    with pytest.raises(NotAllowed):
        ops.reveal_identity(ctx, actor=user(ctx, "dokter@sinergi.test"), household=household)
    with pytest.raises(NotFound):
        ops.reveal_identity(ctx, actor=worker2, household=household)
    assert ctx.scalar(select(func.count(AccessLog.id)).where(AccessLog.kind == AccessKind.REVEAL)) == 0


def test_policies(ctx, worker):
    household = HouseholdFactory()
    PersonFactory(household=household)
    dokter, rumah, viewer = (user(ctx, f"{n}@sinergi.test") for n in ("dokter", "rumah", "viewer"))
    assert can_reveal_identity(worker) and not can_reveal_identity(dokter) and not can_reveal_identity(viewer)
    assert can_edit_household(worker, household) and not can_edit_household(rumah, household)
    assert {"chronic_illness", "pregnant", "disability_types"} <= visible_person_fields(dokter)
    assert not {"monthly_income", "work_status", "school_participation"} & visible_person_fields(dokter)
    assert not {"chronic_illness", "pregnant", "disability_types", "monthly_income"} & visible_person_fields(rumah)
    assert {"name", "nik", "birth_date"} - visible_person_fields(rumah) == {"nik"}  # nik is shown masked, apart
    assert visible_person_fields(viewer) == frozenset()
    assert len(SECTIONS_BY_AGENCY_KIND) == 8


def test_supervisor_of_a_kecamatan_registers_only_there(ctx):
    supervisor = UserFactory(role="supervisor", kecamatan_code="35.71.02")
    ops.create_household(ctx, actor=supervisor, data=household_data(SEMAMPIR))
    with pytest.raises(ValidationFailed):
        ops.create_household(ctx, actor=supervisor, data=household_data(BANDAR_LOR))
