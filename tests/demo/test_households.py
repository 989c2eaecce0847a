"""Synthetic demo households: valid unique NIK/KK, plausible families, idempotent bulk loading."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from caseapp.core import crypto
from caseapp.core.identifiers import lookup_hash
from caseapp.core.masking import mask_digits
from caseapp.demo.households import kelurahan_codes, load_demo_households
from caseapp.demo.loader import load_demo
from caseapp.demo.synthetic import REFERENCE_DATE, add_years, generate_households
from caseapp.households.identity import validate_kk, validate_nik
from caseapp.households.models import DesilRecord, Household, HouseholdKK, HousingSurvey, Person, Relation

WILAYAH = Path(__file__).resolve().parents[2] / "caseapp" / "agencies" / "data" / "wilayah_kota_kediri.csv"
SIXTEEN_DIGITS = re.compile(r"[0-9]{16}")
MODELS = (Household, Person, HouseholdKK, DesilRecord, HousingSurvey)


@pytest.fixture(scope="module")
def codes() -> list[str]:
    with WILAYAH.open(encoding="utf-8") as handle:
        return [row["code"] for row in csv.DictReader(handle) if row["level"] == "kelurahan"]


@pytest.fixture(scope="module")
def households(codes):
    return list(generate_households(codes, 300))


def test_every_number_is_valid_without_warnings(households):
    for h in households:
        kk = validate_kk(h.kk, today=REFERENCE_DATE, kecamatan_code=h.kecamatan_code)
        assert kk.issues == (), (h.index, kk.issues)
        assert kk.info.recorded_on == h.kk_recorded_on
        assert kk.info.recorded_on > add_years(h.members[0].birth_date, 17)
        for p in h.members:
            nik = validate_nik(p.nik, today=REFERENCE_DATE, sex=p.sex.value, birth_date=p.birth_date,
                               kecamatan_code=h.kecamatan_code)
            assert nik.issues == (), (h.index, p.relation, nik.issues)


def test_numbers_are_unique(households):
    niks = [p.nik for h in households for p in h.members]
    assert len(set(niks)) == len(niks)
    assert len({h.kk for h in households}) == len(households)


def test_families_are_plausible(households, codes):
    for h in households:
        relations = [p.relation for p in h.members]
        assert relations.count(Relation.HEAD) == 1 and relations[0] is Relation.HEAD
        assert 1 <= len(h.members) <= 7
        head = h.members[0]
        assert add_years(head.birth_date, 18) <= REFERENCE_DATE
        parents = [p for p in h.members if p.relation in (Relation.HEAD, Relation.SPOUSE)]
        for p in h.members:
            if p.relation in (Relation.CHILD, Relation.GRANDCHILD):
                assert all(p.birth_date > add_years(parent.birth_date, 16) for parent in parents), (h.index, p)
            if p.relation is Relation.SPOUSE:
                assert add_years(p.birth_date, 18) <= REFERENCE_DATE
        assert h.housing["occupants"] == len(h.members)
        assert 1 <= h.desil <= 10
    assert {h.kelurahan_code for h in households} == set(codes)


def test_generation_is_deterministic(codes, households):
    assert list(generate_households(codes, 300)) == households
    # A longer run starts with exactly the same households.
    assert list(generate_households(codes, 310))[:300] == households


def _counts(session) -> dict[str, int]:
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) for model in MODELS}


def test_load_is_idempotent_and_extends(ctx):
    before = _counts(ctx)
    assert load_demo_households(ctx, 50, progress=lambda _msg: None, batch_size=20) == 50
    after = _counts(ctx)
    added = {table: after[table] - before[table] for table in after}
    assert added["households"] == added["household_kk_history"] == 50
    assert added["household_desil_history"] == added["housing_surveys"] == 50
    assert 50 < added["persons"] <= 350

    messages = []
    assert load_demo_households(ctx, 50, progress=messages.append, batch_size=20) == 0
    assert messages == ["households 20/50", "households 40/50", "households 50/50"]
    assert _counts(ctx) == after

    assert load_demo_households(ctx, 60, progress=lambda _msg: None) == 10
    assert _counts(ctx)["households"] == before["households"] + 60


def test_loaded_numbers_are_sealed(ctx):
    load_demo_households(ctx, 5, progress=lambda _msg: None)
    generated = {p.nik: p for h in generate_households(kelurahan_codes(ctx), 5) for p in h.members}
    people = ctx.scalars(select(Person).where(Person.nik_hash.is_not(None))).all()
    assert len(people) == len(generated)
    for person in people:
        nik = crypto.decrypt(person.nik_ciphertext, "nik")
        assert SIXTEEN_DIGITS.fullmatch(nik)
        assert lookup_hash(nik, "nik") == person.nik_hash
        assert mask_digits(nik) == person.nik_masked
        expected = generated[nik]
        assert (person.name, person.sex, person.birth_date, person.relation) == (
            expected.name, expected.sex, expected.birth_date, expected.relation)
    household = people[0].household
    kk = crypto.decrypt(household.kk_ciphertext, "kk")
    assert lookup_hash(kk, "kk") == household.kk_hash == household.kk_history[0].kk_hash
    assert household.desil_history[0].desil == household.desil


def test_no_plaintext_number_in_any_column(ctx):
    load_demo_households(ctx, 5, progress=lambda _msg: None)
    numbers = set()
    for h in generate_households(kelurahan_codes(ctx), 5):
        numbers |= {h.kk, *(p.nik for p in h.members)}
    for model in (Person, Household, HouseholdKK):
        table = model.__table__
        for row in ctx.execute(select(table)).mappings():
            for column, value in row.items():
                if isinstance(value, bytes):
                    value = value.decode("latin-1")
                if isinstance(value, str):
                    assert not any(number in value for number in numbers), (table.name, column)
                    # Hex hashes may hold 16 digits in a row by chance; text columns may not.
                    if not column.endswith("_hash"):
                        assert not SIXTEEN_DIGITS.search(value), (table.name, column)


def test_people_without_disability_store_sql_null(ctx):
    load_demo_households(ctx, 20, progress=lambda _msg: None)
    nulls = ctx.scalar(select(func.count()).select_from(Person).where(Person.disability_types.is_(None)))
    assert nulls > 0


def test_load_demo_adds_households(ctx):
    summary = load_demo(ctx, households=3, progress=lambda _msg: None)
    assert summary["households"] == 3
    assert load_demo(ctx, households=3, progress=lambda _msg: None)["households"] == 0
