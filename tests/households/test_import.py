"""DTSEN import: messy files, all-or-nothing, idempotent re-import, desil/KK history, moves, duplicates."""

from __future__ import annotations

import os
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from caseapp.core.crypto import keyring
from caseapp.core.identifiers import lookup_hash
from caseapp.extensions import db
from caseapp.households.imports.columns import CODE_LIST_VALUES
from caseapp.households.imports.engine import run_import
from caseapp.households.models import DesilRecord, Household, HouseholdKK, Person, Relation
from caseapp.households.operations.checks import CODE_LISTS
from tests.households.dtsen import col, rows_for, write_csv, write_xlsx

# On PostgreSQL every test here runs three ways: merged whole, batched (the default there: one batch for
# files this small), and in batches of four rows (many batches; most files fall back to the whole merge).
MODES = ["whole", "batched", "tiny_batches"] if os.environ.get("TEST_POSTGRES_URL") else ["whole"]
MODE = {"batched": False, "batch_rows": 50_000}


@pytest.fixture(autouse=True, params=MODES)
def merge_mode(request, monkeypatch):
    from caseapp.households.imports import stage

    MODE.update(batched=request.param != "whole", batch_rows=4 if request.param == "tiny_batches" else 50_000)
    if request.param == "tiny_batches":
        monkeypatch.setattr(stage, "CHUNK_ROWS", 4)
    return request.param


def run(path, **kwargs):
    kwargs = {**MODE, **kwargs}
    result = run_import(db.session.connection(), path, keyring=keyring(), **kwargs)
    if result.merged:
        db.session.flush()
    return result


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def messages(result) -> str:
    return " | ".join(f"{r}:{c}:{m}" for r, c, _v, m in result.errors)


def test_code_lists_match_the_register():
    for name, values in CODE_LIST_VALUES.items():
        assert tuple(CODE_LISTS[name]) == values


def test_import_creates_households_people_and_histories(ctx, tmp_path):
    rows = rows_for(4)
    result = run(write_csv(tmp_path / "dtsen.csv", rows))
    assert result.ok and result.merged, messages(result)
    assert result.summary["households_new"] == 4 and result.summary["persons_new"] == len(rows)
    head_row = rows[0]
    household = db.session.scalar(select(Household).where(Household.kk_hash == lookup_hash(head_row[0], "kk")))
    assert household.kelurahan_code == head_row[1] and household.desil == int(head_row[col("DESIL")])
    assert keyring().decrypt(household.kk_ciphertext, "kk") == head_row[0]
    assert household.head.name == head_row[col("NAMA")]
    person = db.session.scalar(select(Person).where(Person.nik_hash == lookup_hash(head_row[col("NIK")], "nik")))
    assert keyring().decrypt(person.nik_ciphertext, "nik") == head_row[col("NIK")]
    assert person.nik_masked.startswith("3571") and "*" in person.nik_masked
    assert person.relation == Relation.HEAD and person.marital_status == "kawin"
    assert [(r.reason, r.valid_to) for r in household.kk_history] == [("initial", None)]
    assert [(r.desil, r.release) for r in household.desil_history] == [(household.desil, "DTSEN-2025-Q2")]


def test_same_file_twice_changes_nothing(ctx, tmp_path):
    path = write_csv(tmp_path / "dtsen.csv", rows_for(3))
    assert run(path).merged
    before = [count(m) for m in (Household, Person, DesilRecord, HouseholdKK)]
    versions = db.session.scalars(select(Household.version).order_by(Household.id)).all()
    second = run(path)
    assert second.merged
    changes = {k: v for k, v in second.summary.items()
               if k.startswith(("households_", "persons_")) and k != "households_in_file"}
    assert set(changes.values()) == {0}
    assert [count(m) for m in (Household, Person, DesilRecord, HouseholdKK)] == before
    assert db.session.scalars(select(Household.version).order_by(Household.id)).all() == versions


def test_newer_release_updates_desil_and_keeps_history(ctx, tmp_path):
    assert run(write_csv(tmp_path / "q2.csv", rows_for(2, desil=3))).merged
    result = run(write_csv(tmp_path / "q3.csv", rows_for(2, desil=2, release="DTSEN-2025-Q3")))
    assert result.summary["households_desil_updated"] == 2
    household = db.session.scalars(select(Household).order_by(Household.id)).first()
    db.session.refresh(household)
    assert (household.desil, household.desil_release) == (2, "DTSEN-2025-Q3")
    assert sorted((r.release, r.desil) for r in household.desil_history) == [("DTSEN-2025-Q2", 3),
                                                                              ("DTSEN-2025-Q3", 2)]
    # An older release imported afterwards does not overwrite the newer desil.
    older = run(write_csv(tmp_path / "q1.csv", rows_for(2, desil=9, release="DTSEN-2025-Q1")))
    assert older.summary["households_desil_updated"] == 0


def test_new_kk_for_a_known_family_goes_to_kk_history(ctx, tmp_path):
    rows = rows_for(1)
    assert run(write_csv(tmp_path / "a.csv", rows)).merged
    new_kk = "3571010101230009"
    changed = [[new_kk, *row[1:]] for row in rows]
    result = run(write_csv(tmp_path / "b.csv", changed))
    assert result.summary["households_kk_changed"] == 1 and result.summary["households_new"] == 0
    household = db.session.scalar(select(Household))
    db.session.refresh(household)
    assert household.kk_hash == lookup_hash(new_kk, "kk")
    history = sorted(household.kk_history, key=lambda r: r.id)
    assert [r.reason for r in history] == ["initial", "dtsen_update"]
    assert history[0].valid_to is not None and history[1].valid_to is None
    assert count(Person) == len(rows)


def test_person_who_moved_is_moved_not_duplicated(ctx, tmp_path):
    rows = rows_for(2)
    assert run(write_csv(tmp_path / "a.csv", rows)).merged
    first_kk = rows[0][0]
    second_kk = next(r[0] for r in rows if r[0] != first_kk)
    child = next(r for r in rows if r[0] == first_kk and r[col("HUBUNGAN_KK")] == "3")
    moved = [r if r is not child else [second_kk, *list(next(
        r2 for r2 in rows if r2[0] == second_kk)[1:7]), *child[7:]] for r in rows]
    result = run(write_csv(tmp_path / "b.csv", moved))
    assert result.merged, messages(result)
    assert result.summary["persons_moved"] == 1 and result.summary["persons_new"] == 0
    person = db.session.scalar(select(Person).where(Person.nik_hash == lookup_hash(child[col("NIK")], "nik")))
    target = db.session.scalar(select(Household.id).where(Household.kk_hash == lookup_hash(second_kk, "kk")))
    assert person.household_id == target
    assert count(Person) == len(rows)


def test_bom_semicolon_trailing_spaces_and_numeric_codes(ctx, tmp_path):
    rows = [[f"  {cell}  " if i in (col("NAMA"), col("NIK"), col("KODE_KELURAHAN")) else cell
             for i, cell in enumerate(row)] for row in rows_for(2)]
    result = run(write_csv(tmp_path / "excel.csv", rows, delimiter=";", bom=True))
    assert result.ok and result.merged, messages(result)
    names = db.session.scalars(select(Person.name)).all()
    assert all(name == name.strip() for name in names)


def test_xlsx_with_excel_dates_and_serial_numbers(ctx, tmp_path):
    rows = rows_for(2)
    for i, row in enumerate(rows):
        born = datetime.strptime(row[col("TANGGAL_LAHIR")], "%d-%m-%Y")
        row[col("TANGGAL_LAHIR")] = born if i % 2 else (born.date() - date(1899, 12, 30)).days
        row[col("DESIL")] = int(row[col("DESIL")])
    result = run(write_xlsx(tmp_path / "dtsen.xlsx", rows))
    assert result.ok and result.merged, messages(result)
    assert result.summary["file_kind"] == "xlsx"
    nik_hash = lookup_hash(rows[0][col("NIK")], "nik")
    born = db.session.scalar(select(Person.birth_date).where(Person.nik_hash == nik_hash))
    assert born.strftime("%d-%m-%Y") == rows_for(2)[0][col("TANGGAL_LAHIR")]


def test_nik_in_scientific_notation_is_refused_with_a_fix(ctx, tmp_path):
    rows = rows_for(2)
    rows[1][col("NIK")] = "3,57101E+15"
    result = run(write_csv(tmp_path / "sci.csv", rows))
    assert not result.ok and not result.merged and count(Household) == 0
    row, column, _value, message = result.errors[0]
    assert (row, column) == (3, "NIK") and "angka ilmiah" in message and "Teks" in message


def test_wrong_kelurahan_code_names_row_column_and_fix(ctx, tmp_path):
    rows = rows_for(2)
    rows[0][col("KODE_KELURAHAN")] = "35.71.09.9999"
    result = run(write_csv(tmp_path / "kel.csv", rows))
    assert not result.ok
    assert result.errors[0][:3] == (2, "KODE_KELURAHAN", "35.71.09.9999")
    assert "daftar kelurahan" in result.errors[0][3]


def test_kelurahan_outside_the_importers_area_is_refused(ctx, tmp_path):
    rows = rows_for(3)   # kelurahan in Mojoroto (35.71.01) and Kota (35.71.02)
    result = run(write_csv(tmp_path / "a.csv", rows), skip_invalid=True,
                 allowed=lambda region: region.parent_code == "35.71.01")
    assert result.summary["households_new"] == 2
    assert {e[1] for e in result.errors} == {"KODE_KELURAHAN"}
    assert "di luar wilayah tugas Anda" in result.errors[0][3]


def test_duplicated_rows_are_reported_never_merged(ctx, tmp_path):
    rows = rows_for(2)
    rows.append(list(rows[1]))
    result = run(write_csv(tmp_path / "dup.csv", rows))
    assert not result.ok and count(Person) == 0
    duplicate = [e for e in result.errors if "juga ada di baris" in e[3]]
    assert {e[0] for e in duplicate} == {3, len(rows) + 1}
    assert all("*" in e[2] for e in duplicate)   # the report shows masked numbers only


def test_skip_invalid_imports_valid_households_whole(ctx, tmp_path):
    rows = rows_for(3)
    bad_kk = rows[0][0]
    broken = next(i for i, r in enumerate(rows) if r[0] == bad_kk and r[col("HUBUNGAN_KK")] != "1")
    rows[broken][col("TANGGAL_LAHIR")] = "31-02-1990"
    default = run(write_csv(tmp_path / "a.csv", rows))
    assert not default.ok and count(Household) == 0
    result = run(write_csv(tmp_path / "a.csv", rows), skip_invalid=True)
    assert result.merged and result.summary["households_new"] == 2
    assert db.session.scalar(select(Household).where(Household.kk_hash == lookup_hash(bad_kk, "kk"))) is None
    assert count(Person) == sum(1 for r in rows if r[0] != bad_kk)
    assert result.errors[0][1] == "TANGGAL_LAHIR"


def test_household_rules_one_head_and_consistent_columns(ctx, tmp_path):
    rows = rows_for(2)
    kk = rows[0][0]
    for row in rows:
        if row[0] == kk and row[col("HUBUNGAN_KK")] == "2":
            row[col("HUBUNGAN_KK")] = "1"
    other = [r for r in rows if r[0] != kk]
    other[-1][col("RT")] = "14" if other[0][col("RT")] != "14" else "13"
    result = run(write_csv(tmp_path / "hh.csv", rows))
    text = messages(result)
    assert "2 kepala keluarga" in text and "berbeda pada kolom rumah tangga" in text


def test_nik_in_register_for_another_person_is_a_duplicate(ctx, tmp_path):
    rows = rows_for(1)
    assert run(write_csv(tmp_path / "a.csv", rows)).merged
    clash = rows_for(1, offset=50)
    clash[1][col("NIK")] = rows[1][col("NIK")]
    clash[1][col("TANGGAL_LAHIR")] = rows[1][col("TANGGAL_LAHIR")][:-4] + "1911"
    clash[1][col("NAMA")] = "Orang Lain"
    result = run(write_csv(tmp_path / "b.csv", clash))
    assert not result.ok and "sudah terdaftar" in messages(result)


def test_dry_run_reports_counts_and_is_rolled_back_by_the_caller(ctx, tmp_path):
    result = run(write_csv(tmp_path / "a.csv", rows_for(2)), dry_run=True)
    assert result.ok and not result.merged and result.summary["households_new"] == 2
    db.session.rollback()
    assert count(Household) == 0


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "kosong"),
    (b"NO_KK,KODE_KELURAHAN,NIK,NAMA,JENIS_KELAMIN,TANGGAL_LAHIR,HUBUNGAN_KK\n", "tanpa baris data"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "bukan spreadsheet"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "bukan spreadsheet"),
    (b"PK\x03\x04not really a workbook", "bukan buku kerja"),
    (b"nama,alamat\nBudi,Jl. Mawar\n", "Kolom wajib tidak ditemukan"),
])
def test_files_that_are_not_household_lists(ctx, tmp_path, content, expected):
    path = tmp_path / "berkas.csv"
    path.write_bytes(content)
    result = run(path)
    assert not result.ok and result.file_problem and expected in result.file_problem
    assert count(Household) == 0


def test_worker_processes_give_the_same_result(ctx, tmp_path):
    rows = rows_for(700)
    result = run(write_csv(tmp_path / "big.csv", rows), workers=2)
    assert result.merged and result.summary["workers"] == 2, messages(result)
    assert count(Person) == len(rows) and result.summary["persons_new"] == len(rows)


def test_the_documented_sample_file_imports_cleanly(ctx):
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "docs" / "dtsen-contoh.csv"
    result = run(sample)
    assert result.ok and result.merged and result.errors == [], messages(result)


def test_cli_imports_reports_and_refuses(app, ctx, tmp_path):
    runner = app.test_cli_runner()
    good = write_csv(tmp_path / "good.csv", rows_for(2))
    dry = runner.invoke(args=["import", "households", str(good), "--dry-run"])
    assert dry.exit_code == 0 and "households_new=2" in dry.output and "Uji coba" in dry.output
    assert count(Household) == 0
    done = runner.invoke(args=["import", "households", str(good)])
    assert done.exit_code == 0 and "Selesai" in done.output and count(Household) == 2
    rows = rows_for(2, offset=100)
    rows[0][col("NIK")] = "3571"
    bad = write_csv(tmp_path / "bad.csv", rows)
    refused = runner.invoke(args=["import", "households", str(bad)])
    assert refused.exit_code == 1 and "Tidak ada yang diimpor" in refused.output
    report = (tmp_path / "bad.csv.errors.csv").read_text(encoding="utf-8-sig")
    assert report.splitlines()[0] == "baris;kolom;nilai;pesan" and "NIK harus 16 angka" in report
    assert count(Household) == 2
