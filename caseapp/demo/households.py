"""Load synthetic households (:mod:`caseapp.demo.synthetic`) into the database.

Built to reach a million households on PostgreSQL: households are generated lazily and written in
batches with one set-based ``INSERT`` per table (never one ORM object per row), committing after
each batch. Idempotent: a household whose KK blind index is already stored is skipped, so running
again with the same N adds nothing and a larger N adds only the missing ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice

from sqlalchemy import insert, null, select
from sqlalchemy.orm import Session

from caseapp.agencies.models import Region, RegionLevel
from caseapp.core.identifiers import lookup_hash, seal_number
from caseapp.core.models import utcnow
from caseapp.demo.synthetic import (
    CODELIST_VERSION,
    DESIL_RELEASE,
    SyntheticHousehold,
    SyntheticPerson,
    generate_households,
)
from caseapp.households.models import (
    DesilRecord,
    Household,
    HouseholdKK,
    HouseholdStatus,
    HousingSurvey,
    Person,
)


def load_demo_households(session: Session, n: int, *, progress: Callable[[str], object] = print,
                         batch_size: int = 2000) -> int:
    """Make sure synthetic households 0..n-1 exist; returns how many were added.

    Every batch is committed, so an interrupted run keeps its work and the next run resumes.
    """
    if n <= 0:
        return 0
    codes = kelurahan_codes(session)
    added = done = 0
    for batch in _batches(generate_households(codes, n), batch_size):
        added += _insert_batch(session, batch)
        session.commit()
        done += len(batch)
        progress(f"households {done}/{n}")
    return added


def kelurahan_codes(session: Session) -> list[str]:
    """Every kelurahan code in the regions table, in code order."""
    query = select(Region.code).where(Region.level == RegionLevel.KELURAHAN).order_by(Region.code)
    return list(session.scalars(query))


def _batches(items: Iterable[SyntheticHousehold], size: int) -> Iterator[list[SyntheticHousehold]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _insert_batch(session: Session, batch: list[SyntheticHousehold]) -> int:
    """Insert the households of *batch* not stored yet, with members, KK, desil and survey."""
    by_hash = {lookup_hash(h.kk, "kk"): h for h in batch}
    stored = set(session.scalars(select(Household.kk_hash).where(Household.kk_hash.in_(by_hash))))
    new = [h for kk_hash, h in by_hash.items() if kk_hash not in stored]
    if not new:
        return 0
    now = utcnow()
    rows = [_household_row(h, now) for h in new]
    _bulk_insert(session, Household, rows)
    # Read the ids back rather than INSERT ... RETURNING: RETURNING works with executemany on both
    # backends, but on psycopg it becomes multi-row statements of ~30,000 placeholders that the
    # driver re-parses every time (a fifth of the run); this indexed lookup costs a few ms.
    hashes = [row["kk_hash"] for row in rows]
    query = select(Household.kk_hash, Household.id).where(Household.kk_hash.in_(hashes))
    ids = dict(session.execute(query).all())
    pairs = [(ids[row["kk_hash"]], row, h) for row, h in zip(rows, new, strict=True)]
    _bulk_insert(session, Person, [_person_row(hid, h.kelurahan_code, p, now)
                                   for hid, _, h in pairs for p in h.members])
    _bulk_insert(session, HouseholdKK, [_kk_row(hid, row, h) for hid, row, h in pairs])
    _bulk_insert(session, DesilRecord, [
        {"household_id": hid, "desil": h.desil, "release": DESIL_RELEASE, "recorded_at": now}
        for hid, _, h in pairs
    ])
    _bulk_insert(session, HousingSurvey, [
        {**h.housing, "household_id": hid, "surveyor_id": None, "codelist_version": CODELIST_VERSION,
         "created_at": now}
        for hid, _, h in pairs
    ])
    return len(new)


def _bulk_insert(session: Session, model: type, rows: list[dict]) -> None:
    """One executemany INSERT of *rows* (all with the same keys) into *model*'s table.

    Core on the mapped table rather than ``insert(model)``: the ORM bulk path re-processes every
    dict per mapper (15-20% of the run) and drops None values, which splits a batch into many
    INSERTs unless told otherwise. Column defaults are not relied on: every row names every value.
    """
    session.execute(insert(model.__table__), rows)


def _household_row(h: SyntheticHousehold, now: datetime) -> dict:
    sealed = seal_number(h.kk, "kk")
    return {
        "kk_ciphertext": sealed.ciphertext, "kk_hash": sealed.blind_index, "kk_masked": sealed.masked,
        "kelurahan_code": h.kelurahan_code, "rw": h.rw, "rt": h.rt, "address": h.address,
        "latitude": h.latitude, "longitude": h.longitude, "desil": h.desil, "desil_release": DESIL_RELEASE,
        "status": HouseholdStatus.ACTIVE, "version": 1, "created_at": now, "updated_at": now,
    }


def _kk_row(household_id: int, household_row: dict, h: SyntheticHousehold) -> dict:
    # Same number as the household's current KK: reuse its sealed columns instead of encrypting again.
    return {
        "household_id": household_id, "kk_ciphertext": household_row["kk_ciphertext"],
        "kk_hash": household_row["kk_hash"], "kk_masked": household_row["kk_masked"],
        "valid_from": h.kk_recorded_on, "valid_to": None, "reason": "initial",
    }


def _person_row(household_id: int, kelurahan_code: str, p: SyntheticPerson, now: datetime) -> dict:
    sealed = seal_number(p.nik, "nik")
    return {
        "household_id": household_id, "kelurahan_code": kelurahan_code,
        "nik_ciphertext": sealed.ciphertext, "nik_hash": sealed.blind_index, "nik_masked": sealed.masked,
        "name": p.name, "sex": p.sex, "birth_date": p.birth_date, "relation": p.relation,
        "marital_status": p.marital_status, "codelist_version": CODELIST_VERSION,
        "school_participation": p.school_participation, "education_level": p.education_level,
        "work_status": p.work_status, "work_sector": p.work_sector, "monthly_income": p.monthly_income,
        # null() is SQL NULL; a plain None would be stored as the JSON value 'null'.
        "disability_types": list(p.disability_types) if p.disability_types else null(),
        "chronic_illness": p.chronic_illness, "pregnant": p.pregnant, "health_note": None,
        "active": True, "created_at": now, "updated_at": now,
    }
