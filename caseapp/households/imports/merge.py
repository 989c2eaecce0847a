"""Set-based merge of the valid staged households into the register (a handful of statements, no row loop).

Households are matched by KK (current, then historical), then by their head's NIK when the head's
household is not itself in the file (the family got a new KK: recorded in the KK history). People are
matched by NIK blind index: someone in another household is moved, never duplicated. Only values
that differ are written, so importing the same file twice changes nothing. A desil is taken from a
release not older than the one recorded, and every new (desil, release) goes to the desil history.
"""

from __future__ import annotations

import time
from datetime import date, datetime

from sqlalchemy import Connection, text

PERSON_FIELDS = ("name", "sex", "birth_date", "relation", "marital_status", "school_participation",
                 "education_level", "work_status", "work_sector", "monthly_income", "disability_types",
                 "chronic_illness", "pregnant")
KK_REASON = "dtsen_update"


def _values(conn: Connection, today: date, now: datetime) -> dict:
    if conn.dialect.name == "postgresql":
        return {"today": today, "now": now}
    return {"today": today.isoformat(), "now": now.replace(tzinfo=None).isoformat(sep=" ")}


STAGES = ("import_stage", "import_batch")


def merge(conn: Connection, *, today: date, now: datetime, codelist_version: str,
          stage: str = "import_stage") -> dict:
    """Write the valid rows of *stage* (the whole staging table, or one batch of it: see
    ``stage.load``); returns what changed (counts) and the seconds it took. ``import_hh`` must be empty."""
    if stage not in STAGES:
        raise ValueError(stage)
    started = time.perf_counter()
    postgres = conn.dialect.name == "postgresql"
    params = {**_values(conn, today, now), "codelist": codelist_version, "reason": KK_REASON}

    steps: list[tuple[str, float]] = []

    def run(sql: str, **extra) -> int:
        t0 = time.perf_counter()
        count = conn.execute(text(sql.replace("import_stage", stage)), {**params, **extra}).rowcount or 0
        steps.append((" ".join(sql.split()[:3]) + f" #{len(steps) + 1}", round(time.perf_counter() - t0, 3)))
        return count

    def json_text(expr: str) -> str:
        return f"CAST({expr} AS text)" if postgres else expr

    def as_json(expr: str) -> str:
        return f"CAST({expr} AS json)" if postgres else expr

    # One row per household of the file: the values of its first row (all rows agree: checked).
    # (and its head's NIK hash: a valid household has exactly one head, checked).
    run("INSERT INTO import_hh (kk_hash, first_row, kk_ct, kk_masked, kelurahan_code, address, rt, rw, desil, "
        "release, head_nik_hash) SELECT s.kk_hash, s.row_no, s.kk_ct, s.kk_masked, s.kelurahan_code, s.address, "
        "s.rt, s.rw, s.desil, s.release, f.head FROM import_stage s JOIN (SELECT MIN(row_no) AS first_row, "
        "MAX(CASE WHEN relation = 'head' THEN nik_hash END) AS head FROM import_stage WHERE valid "
        "GROUP BY kk_hash) f ON f.first_row = s.row_no WHERE s.valid")
    if postgres:
        run("ANALYZE import_hh (kk_hash, head_nik_hash, household_id)")

    run("UPDATE import_hh SET household_id = h.id, matched = 'kk' FROM households h "
        "WHERE h.kk_hash = import_hh.kk_hash")
    run("UPDATE import_hh SET household_id = k.household_id, matched = 'history' FROM household_kk_history k "
        "WHERE import_hh.household_id IS NULL AND k.kk_hash = import_hh.kk_hash")
    kk_changed = run(
        "UPDATE import_hh SET household_id = p.household_id, matched = 'head', old_kk_hash = h.kk_hash "
        "FROM persons p, households h "
        "WHERE import_hh.household_id IS NULL AND p.nik_hash = import_hh.head_nik_hash AND h.id = p.household_id "
        "AND (h.kk_hash IS NULL OR NOT EXISTS (SELECT 1 FROM import_hh o WHERE o.kk_hash = h.kk_hash))")

    insert_households = (
        "INSERT INTO households (kk_ciphertext, kk_hash, kk_masked, kelurahan_code, rw, rt, address, desil, "
        "desil_release, status, version, created_at, updated_at) "
        "SELECT kk_ct, kk_hash, kk_masked, kelurahan_code, rw, rt, address, desil, "
        "CASE WHEN desil IS NULL THEN NULL ELSE release END, 'active', 1, :now, :now "
        "FROM import_hh WHERE household_id IS NULL ORDER BY first_row")
    if postgres:
        # The new ids straight from RETURNING: no join with the whole households table.
        new_households = run(
            f"WITH created AS ({insert_households} RETURNING id, kk_hash) "  # noqa: S608  # nosec B608 - fixed text
            "UPDATE import_hh SET household_id = created.id, is_new = true, matched = 'new' FROM created "
            "WHERE import_hh.kk_hash = created.kk_hash")
    else:
        new_households = run(insert_households)
        run("UPDATE import_hh SET household_id = h.id, is_new = true, matched = 'new' FROM households h "
            "WHERE import_hh.household_id IS NULL AND h.kk_hash = import_hh.kk_hash")
    run("INSERT INTO household_kk_history (household_id, kk_ciphertext, kk_hash, kk_masked, valid_from, reason) "
        "SELECT household_id, kk_ct, kk_hash, kk_masked, :today, 'initial' FROM import_hh WHERE is_new")

    # A new KK for a known family: the open history row closes today, the new number opens.
    if kk_changed:
        run("UPDATE household_kk_history SET valid_to = :today WHERE valid_to IS NULL AND household_id IN "
            "(SELECT household_id FROM import_hh WHERE matched = 'head')")
        run("INSERT INTO household_kk_history (household_id, kk_ciphertext, kk_hash, kk_masked, valid_from, "
            "reason) SELECT household_id, kk_ct, kk_hash, kk_masked, :today, :reason FROM import_hh "
            "WHERE matched = 'head'")
        run("UPDATE households SET kk_ciphertext = i.kk_ct, kk_hash = i.kk_hash, kk_masked = i.kk_masked, "
            "version = households.version + 1, updated_at = :now FROM import_hh i "
            "WHERE i.household_id = households.id AND i.matched = 'head'")

    newer_desil = ("i.desil IS NOT NULL AND i.household_id = h.id AND NOT i.is_new "
                   "AND (h.desil_release IS NULL OR i.release >= h.desil_release) "
                   "AND (h.desil IS DISTINCT FROM i.desil OR h.desil_release IS DISTINCT FROM i.release)")
    run("INSERT INTO household_desil_history (household_id, desil, release, recorded_at) "  # noqa: S608 - fixed names
        "SELECT i.household_id, i.desil, i.release, :now FROM import_hh i, households h WHERE " + newer_desil)  # nosec B608
    run("INSERT INTO household_desil_history (household_id, desil, release, recorded_at) "
        "SELECT household_id, desil, release, :now FROM import_hh WHERE is_new AND desil IS NOT NULL")
    desil_updated = run(
        "UPDATE households SET desil = i.desil, desil_release = i.release, version = households.version + 1, "  # noqa: S608 - fixed names
        "updated_at = :now FROM import_hh i, households h WHERE h.id = households.id AND " + newer_desil)  # nosec B608
    # Name search (0005d): a household that moves to another kelurahan takes its members' copy with it.
    # Before the UPDATE below, while households still hold the old kelurahan.
    run("UPDATE persons SET kelurahan_code = i.kelurahan_code FROM import_hh i, households h "
        "WHERE NOT i.is_new AND h.id = i.household_id AND h.kelurahan_code IS DISTINCT FROM i.kelurahan_code "
        "AND persons.household_id = h.id")
    address_updated = run(
        "UPDATE households SET kelurahan_code = i.kelurahan_code, address = i.address, rt = i.rt, rw = i.rw, "
        "version = households.version + 1, updated_at = :now FROM import_hh i "
        "WHERE i.household_id = households.id AND NOT i.is_new AND ("
        "households.kelurahan_code IS DISTINCT FROM i.kelurahan_code OR households.address IS DISTINCT FROM "
        "i.address OR households.rt IS DISTINCT FROM i.rt OR households.rw IS DISTINCT FROM i.rw)")

    # People: known NIKs are updated (and moved), new ones inserted.
    moved = conn.execute(text(
        f"SELECT COUNT(*) FROM {stage} s JOIN import_hh i ON i.kk_hash = s.kk_hash "  # noqa: S608  # nosec B608
        "JOIN persons p ON p.nik_hash = s.nik_hash WHERE s.valid AND p.household_id <> i.household_id")).scalar()
    differs = " OR ".join(
        f"{json_text('persons.' + f)} IS DISTINCT FROM s.{f}" if f == "disability_types"
        else f"persons.{f} IS DISTINCT FROM s.{f}" for f in PERSON_FIELDS)
    assignments = ", ".join(f"{f} = {as_json('s.' + f)}" if f == "disability_types" else f"{f} = s.{f}"
                            for f in PERSON_FIELDS)
    persons_updated = run(
        f"UPDATE persons SET household_id = i.household_id, kelurahan_code = i.kelurahan_code, {assignments}, "  # noqa: S608  # nosec B608 - fixed names
        "active = true, "
        "codelist_version = :codelist, updated_at = :now FROM import_stage s, import_hh i "
        "WHERE s.valid AND i.kk_hash = s.kk_hash AND persons.nik_hash = s.nik_hash AND "
        f"(persons.household_id <> i.household_id OR NOT persons.active OR {differs})")
    columns = ", ".join(PERSON_FIELDS)
    selected = ", ".join(as_json("s." + f) if f == "disability_types" else "s." + f for f in PERSON_FIELDS)
    persons_new = run(
        f"INSERT INTO persons (household_id, kelurahan_code, nik_ciphertext, nik_hash, nik_masked, {columns}, "  # noqa: S608  # nosec B608
        f"codelist_version, active, created_at, updated_at) SELECT i.household_id, i.kelurahan_code, s.nik_ct, "
        f"s.nik_hash, s.nik_masked, {selected}, "
        ":codelist, true, :now, :now FROM import_stage s JOIN import_hh i ON i.kk_hash = s.kk_hash "
        "WHERE s.valid AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.nik_hash = s.nik_hash) ORDER BY s.row_no")
    households = conn.execute(text("SELECT COUNT(*) FROM import_hh")).scalar()
    return {
        "households_in_file": households, "households_new": new_households,
        "households_address_updated": address_updated, "households_kk_changed": kk_changed,
        "households_desil_updated": desil_updated, "persons_new": persons_new,
        "persons_updated": persons_updated - (moved or 0), "persons_moved": moved or 0,
        "merge_seconds": round(time.perf_counter() - started, 3),
        "merge_steps": dict(steps),
    }
