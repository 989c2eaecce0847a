"""Batched merge (PostgreSQL): batches merged while the rest of the file is validated give exactly the
register a whole-file merge gives, and anything else is rolled back and merged whole."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from caseapp.core.crypto import keyring
from caseapp.extensions import db
from caseapp.households.imports import stage
from caseapp.households.imports.engine import run_import
from caseapp.households.imports.sample import household_rows
from caseapp.households.models import DesilRecord, Household, HouseholdKK, Person
from tests.households.dtsen import KELURAHAN, col, rows_for, write_csv

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _postgres_only(ctx):
    if db.session.connection().dialect.name != "postgresql":
        pytest.skip("the batched merge runs on PostgreSQL only")


def four_member_rows(households: int, *, offset: int = 0, desil: int | None = None,
                     release: str = "DTSEN-2025-Q2") -> list[list[str]]:
    rng = random.Random(5)
    out = []
    for index in range(households):
        out.extend(household_rows(index, KELURAHAN, rng=rng, offset=offset, members=4, desil=desil,
                                  release=release))
    return out


def register() -> dict:
    """The register as data (no ids): households with their KK/desil history, people with their household."""
    households = {h.id: h for h in db.session.scalars(select(Household))}
    kk_of = {i: h.kk_hash for i, h in households.items()}
    return {
        "households": sorted((h.kk_hash, h.kelurahan_code, h.address, h.rt, h.rw, h.desil, h.desil_release,
                              h.version) for h in households.values()),
        "persons": sorted((p.nik_hash, kk_of[p.household_id], p.name, p.sex, p.birth_date, p.relation,
                           p.marital_status, p.monthly_income, p.active)
                          for p in db.session.scalars(select(Person))),
        "kk_history": sorted((kk_of[k.household_id], k.kk_hash, k.reason, k.valid_to is None)
                             for k in db.session.scalars(select(HouseholdKK))),
        "desil_history": sorted((kk_of[d.household_id], d.desil, d.release)
                                for d in db.session.scalars(select(DesilRecord))),
    }


def both_ways(files, monkeypatch, chunk_rows: int, batch_rows: int):
    """Import *files* in order, batched then (rolled back) whole; the results and registers of each."""
    monkeypatch.setattr(stage, "CHUNK_ROWS", chunk_rows)
    outcome = {}
    for batched in (True, False):
        nested = db.session.begin_nested()
        results = [run_import(db.session.connection(), path, keyring=keyring(), batched=batched,
                              batch_rows=batch_rows) for path in files]
        db.session.flush()
        db.session.expire_all()
        outcome[batched] = (results, register())
        nested.rollback()
        db.session.expire_all()
    return outcome


COUNTS = ("households_in_file", "households_new", "households_address_updated", "households_kk_changed",
          "households_desil_updated", "persons_new", "persons_updated", "persons_moved")


def test_batches_give_the_register_a_whole_merge_gives(ctx, tmp_path, monkeypatch):
    first = four_member_rows(12)
    second = four_member_rows(12, desil=2, release="DTSEN-2025-Q3")
    second[0:4] = [["3571010101230009", *row[1:]] for row in second[0:4]]      # a family with a new KK
    moved = second[5]                                                           # a child moves house
    second[5] = [*second[8][:7], *moved[7:]]
    second[5:9] = [second[5 + i] for i in (1, 2, 0, 3)]                         # (kept inside one batch)
    second.extend(four_member_rows(2, offset=500))                              # two new families
    files = [write_csv(tmp_path / "a.csv", first), write_csv(tmp_path / "b.csv", second)]
    outcome = both_ways(files, monkeypatch, chunk_rows=8, batch_rows=16)
    (batched, batched_register), (whole, whole_register) = outcome[True], outcome[False]
    assert all(r.merged for r in batched + whole)
    assert all(r.summary["batches"] >= 3 for r in batched)
    assert "batches" not in whole[0].summary
    for b, w in zip(batched, whole, strict=True):
        assert {k: b.summary[k] for k in COUNTS} == {k: w.summary[k] for k in COUNTS}
    assert batched[1].summary["households_kk_changed"] == 1 and batched[1].summary["persons_moved"] == 1
    assert batched_register == whole_register


def test_households_of_any_size_end_batches_without_a_fallback(ctx, tmp_path, monkeypatch):
    rows = rows_for(9)                           # 2-6 members: chunk ends fall inside households
    outcome = both_ways([write_csv(tmp_path / "a.csv", rows)], monkeypatch, chunk_rows=5, batch_rows=5)
    (batched,), batched_register = outcome[True]
    assert batched.merged and batched.summary["batches"] > 1 and "batched" not in batched.summary
    assert batched_register == outcome[False][1]


def test_a_household_far_apart_in_the_file_is_merged_whole(ctx, tmp_path, monkeypatch):
    rows = rows_for(9)
    rows.append(rows.pop(1))                     # a member of the first household at the very end
    outcome = both_ways([write_csv(tmp_path / "a.csv", rows)], monkeypatch, chunk_rows=5, batch_rows=5)
    (batched,), batched_register = outcome[True]
    (whole,), whole_register = outcome[False]
    assert batched.merged and batched.summary["batched"] == "rolled back, merged whole"
    assert {k: batched.summary[k] for k in COUNTS} == {k: whole.summary[k] for k in COUNTS}
    assert batched_register == whole_register


def test_an_error_after_merged_batches_reports_what_a_whole_merge_reports(ctx, tmp_path, monkeypatch):
    rows = four_member_rows(10)
    rows[-2][col("NIK")] = rows[1][col("NIK")]                # a duplicate NIK in the last batch
    rows[-2][col("NAMA")] = "Orang Lain"
    rows[-5][col("TANGGAL_LAHIR")] = "31-02-1990"             # and a bad date in a late batch
    outcome = both_ways([write_csv(tmp_path / "a.csv", rows)], monkeypatch, chunk_rows=8, batch_rows=8)
    (batched,), _register = outcome[True]
    (whole,), _register = outcome[False]
    assert not batched.merged and not batched.ok
    assert batched.errors == whole.errors and batched.error_count == whole.error_count
    assert "juga ada di baris" in " ".join(e[3] for e in batched.errors)


def test_a_duplicate_inside_one_batch_is_not_merged(ctx, tmp_path, monkeypatch):
    rows = four_member_rows(3)
    rows[2][col("NIK")] = rows[1][col("NIK")]
    (batched,), _register = both_ways([write_csv(tmp_path / "a.csv", rows)], monkeypatch, 2000, 50_000)[True]
    assert not batched.merged and any("juga ada di baris" in e[3] for e in batched.errors)


@pytest.mark.timeout(60)
def test_a_failing_batch_stops_the_workers_without_hanging(ctx, tmp_path, monkeypatch):
    from caseapp.households.imports import merge as merge_mod

    def broken(*_args, **_kwargs):
        raise RuntimeError("merge failed")

    monkeypatch.setattr(stage, "CHUNK_ROWS", 4)
    monkeypatch.setattr(merge_mod, "merge", broken)
    path = write_csv(tmp_path / "a.csv", four_member_rows(100))
    nested = db.session.begin_nested()
    with pytest.raises(RuntimeError, match="merge failed"):
        run_import(db.session.connection(), path, keyring=keyring(), workers=2, batched=True, batch_rows=8)
    nested.rollback()
