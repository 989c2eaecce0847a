"""Replicate a loaded demo set K times (``flask demo replicate``): the 1M benchmark set from 100k."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from caseapp.cases.operations.scope_sync import rebuild_tallies
from caseapp.core.audit import GENESIS
from caseapp.core.crypto import keyring
from caseapp.demo.bulk.load import SEQUENCED, TABLE_ORDER, _dumps, _Sealer

COPY_AREAS = ("72", "73", "74", "75", "76", "77", "78", "79", "01", "02", "03", "04", "05", "06", "07")


def replicate(session: Session, copies: int, *, first: int = 1,
              progress: Callable[[str], object] = print) -> dict[str, int]:
    """Append *copies* copies of every household (with members, surveys, cases, steps, interventions
    and audit events) already stored: set-based ``INSERT … SELECT`` with id offsets, new NIK/KK
    numbers (the area digits changed: people registered elsewhere) sealed in Python, and the audit
    chain extended in one streaming pass. Ten times the 100,000-case set in minutes instead of
    generating a million families one by one. Secondary indexes and unique constraints are dropped
    while copying and rebuilt at the end, and foreign-key triggers are skipped (the copies reference
    rows that exist by construction). *first* > 1 resumes after copies 1..first-1 were committed.
    """
    import psycopg

    if not 0 < copies <= len(COPY_AREAS):
        raise ValueError(f"copies must be 1..{len(COPY_AREAS)}")
    started = time.perf_counter()
    seal = _Sealer()
    ring = keyring()
    url = session.get_bind().url.set(drivername="postgresql").render_as_string(hide_password=False)
    session.commit()
    with psycopg.connect(url) as conn:
        top = {t: conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] // first  # noqa: S608  # nosec B608
               for t in ("households", "persons", "cases", "steps", "interventions")}
        conn.execute("SET session_replication_role = replica")
        rebuild = _drop_secondary_indexes(conn)
        numbers = {}
        for table, column, purpose in (("households", "kk_ciphertext", "kk"), ("persons", "nik_ciphertext", "nik")):
            rows = conn.execute(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND id <= %s",  # noqa: S608  # nosec B608
                                (top[table],))
            numbers[table] = [(i, ring.decrypt(bytes(token), purpose)) for i, token in rows]
        last_id, last_hash = conn.execute(
            "SELECT id, row_hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone() or (0, GENESIS)
        counter_top = conn.execute("SELECT coalesce(max(last), 0) FROM case_number_counters").fetchone()[0]
        progress(f"replicate: base {top['households']:,} households, {top['cases']:,} cases; identities read "
                 f"({time.perf_counter() - started:.0f} s)")
        conn.execute("CREATE TEMP TABLE clone_ident (kind char(1), id int, c bytea, h text, m text)")
        for j in range(first, copies + 1):
            area = COPY_AREAS[j - 1]
            off = {**{t: j * n for t, n in top.items()}, "_j": j}
            conn.execute("TRUNCATE clone_ident")
            with conn.cursor().copy("COPY clone_ident (kind, id, c, h, m) FROM STDIN") as copy:
                for kind, table, purpose in (("h", "households", "kk"), ("p", "persons", "nik")):
                    lines = []
                    for row_id, number in numbers[table]:
                        c, h, m = seal(number[:2] + area + number[4:], purpose)
                        lines.append(f"{kind}\t{row_id}\t\\\\x{c.hex()}\t{h}\t{m}\n")
                    copy.write("".join(lines))
            conn.execute("CREATE INDEX ON clone_ident (kind, id)")
            _clone_sql(conn, off, top, counter_top * j)
            conn.execute("DROP INDEX clone_ident_kind_id_idx")
            with psycopg.connect(url) as reader:
                last_id, last_hash = _clone_events(conn, reader, off, last_id, last_hash)
            conn.commit()
            progress(f"replicate: copy {j}/{copies} written ({time.perf_counter() - started:.0f} s)")
        progress(f"replicate: rebuilding {len(rebuild)} indexes ({time.perf_counter() - started:.0f} s)")
        for statement in rebuild:
            conn.execute(statement)
        conn.commit()
        conn.execute(
            "INSERT INTO case_number_counters (year, last) SELECT split_part(number, '-', 2)::int, "
            "max(split_part(number, '-', 3)::int) FROM cases GROUP BY 1 "
            "ON CONFLICT (year) DO UPDATE SET last = greatest(case_number_counters.last, excluded.last)")
        for table in SEQUENCED:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608  # nosec B608
                         f"greatest((SELECT max(id) FROM {table}), 1))")
        conn.commit()
    # The steps' scope copies were copied with them; the tallies are recounted.
    rebuild_tallies(session)
    session.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLE_ORDER:
            conn.execute(f"VACUUM (ANALYZE) {table}")
    made = copies - first + 1
    return {"copies": made, "households": top["households"] * made, "cases": top["cases"] * made,
            "seconds": round(time.perf_counter() - started)}


def _drop_secondary_indexes(conn) -> list[str]:
    """Drop the non-primary-key indexes and unique constraints of the copied tables; returns the
    statements that recreate them."""
    tables = ["households", "persons", "household_kk_history", "household_desil_history", "housing_surveys", "cases",
              "steps", "interventions", "audit_events"]
    rebuild = []
    for table, name, definition in conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'u' AND conrelid::regclass::text = ANY(%s)", (tables,)).fetchall():
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) AND i.schemaname = 'public' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", (tables,)).fetchall():
        conn.execute(f'DROP INDEX "{name}"')
        rebuild.append(definition)
    conn.commit()
    return rebuild


def _clone_sql(conn, off: dict[str, int], top: dict[str, int], number_offset: int) -> None:
    execute = conn.execute
    timings = []

    class _Timed:
        @staticmethod
        def execute(sql, params=None):
            t = time.perf_counter()
            execute(sql, params)
            timings.append(f"{sql.split()[2]} {time.perf_counter() - t:.1f}s")

    conn = _Timed
    try:
        _clone_statements(conn, off, top, number_offset)
    finally:
        print("replicate timings: " + ", ".join(timings), flush=True)


def _clone_statements(conn, off, top, number_offset) -> None:
    params = {"H": off["households"], "P": off["persons"], "C": off["cases"], "S": off["steps"],
              "I": off["interventions"], "hmax": top["households"], "pmax": top["persons"],
              "cmax": top["cases"], "smax": top["steps"], "imax": top["interventions"], "n": number_offset}
    conn.execute("""
        INSERT INTO households (id, kk_ciphertext, kk_hash, kk_masked, kelurahan_code, rw, rt, address, latitude,
            longitude, desil, desil_release, status, version, created_at, updated_at)
        SELECT x.id + %(H)s, t.c, t.h, t.m, x.kelurahan_code, x.rw, x.rt, x.address, x.latitude, x.longitude,
            x.desil, x.desil_release, x.status, x.version, x.created_at, x.updated_at
        FROM households x LEFT JOIN clone_ident t ON t.kind = 'h' AND t.id = x.id WHERE x.id <= %(hmax)s""", params)
    conn.execute("""
        INSERT INTO persons (id, household_id, kelurahan_code, nik_ciphertext, nik_hash, nik_masked, name, sex,
            birth_date, relation, marital_status, codelist_version, school_participation, education_level, work_status,
            work_sector, monthly_income, disability_types, chronic_illness, pregnant, health_note, active, created_at,
            updated_at)
        SELECT x.id + %(P)s, x.household_id + %(H)s, x.kelurahan_code, t.c, t.h, t.m, x.name, x.sex, x.birth_date,
            x.relation, x.marital_status, x.codelist_version, x.school_participation, x.education_level, x.work_status,
            x.work_sector, x.monthly_income, x.disability_types, x.chronic_illness, x.pregnant, x.health_note,
            x.active, x.created_at, x.updated_at
        FROM persons x LEFT JOIN clone_ident t ON t.kind = 'p' AND t.id = x.id WHERE x.id <= %(pmax)s""", params)
    conn.execute("""
        INSERT INTO household_kk_history (household_id, kk_ciphertext, kk_hash, kk_masked, valid_from, valid_to, reason)
        SELECT x.household_id + %(H)s, t.c, t.h, t.m, x.valid_from, x.valid_to, x.reason
        FROM household_kk_history x JOIN clone_ident t ON t.kind = 'h' AND t.id = x.household_id
        WHERE x.household_id <= %(hmax)s AND x.kk_hash = (SELECT kk_hash FROM households WHERE id = x.household_id)""",
                 params)
    conn.execute("""
        INSERT INTO household_desil_history (household_id, desil, release, recorded_at)
        SELECT household_id + %(H)s, desil, release, recorded_at FROM household_desil_history
        WHERE household_id <= %(hmax)s""", params)
    conn.execute("""
        INSERT INTO housing_surveys (household_id, surveyed_on, surveyor_id, codelist_version, tenure, floor_area_m2,
            occupants, roof_material, roof_condition, wall_material, wall_condition, floor_material, floor_condition,
            toilet, sewage, water_source, lighting, power_va, cooking_fuel, land_proof, assets, created_at)
        SELECT household_id + %(H)s, surveyed_on, surveyor_id, codelist_version, tenure, floor_area_m2, occupants,
            roof_material, roof_condition, wall_material, wall_condition, floor_material, floor_condition, toilet,
            sewage, water_source, lighting, power_va, cooking_fuel, land_proof, assets, created_at
        FROM housing_surveys WHERE household_id <= %(hmax)s""", params)
    conn.execute("""
        INSERT INTO cases (id, number, household_id, stage, status, owner_id, kelurahan_code, kecamatan_code,
            source_code, referral_reason, referred_by_id, referred_by_agency_id, round, version, due_at, opened_at,
            closed_at, closure_reason, outcome, retention_until, created_at, updated_at)
        SELECT id + %(C)s, split_part(number, '-', 1) || '-' || split_part(number, '-', 2) || '-'
                || (SELECT CASE WHEN v < 1000000 THEN lpad(v::text, 6, '0') ELSE v::text END
                    FROM (SELECT split_part(number, '-', 3)::int + %(n)s AS v) serial),
            household_id + %(H)s, stage, status, owner_id, kelurahan_code, kecamatan_code, source_code,
            referral_reason, referred_by_id, referred_by_agency_id, round, version, due_at, opened_at, closed_at,
            closure_reason, outcome, retention_until, created_at, updated_at
        FROM cases WHERE id <= %(cmax)s""", params)
    conn.execute("""
        INSERT INTO steps (id, case_id, stage, kind, round, agency_id, assignee_id, status, due_at, data, opened_at,
            submitted_by_id, submitted_at, decided_by_id, decided_at, decision, comment, case_owner_id, case_stage,
            case_kelurahan_code, case_kecamatan_code)
        SELECT id + %(S)s, case_id + %(C)s, stage, kind, round, agency_id, assignee_id, status, due_at, data,
            opened_at, submitted_by_id, submitted_at, decided_by_id, decided_at, decision, comment, case_owner_id,
            case_stage, case_kelurahan_code, case_kecamatan_code
        FROM steps WHERE id <= %(smax)s""", params)
    conn.execute("""
        INSERT INTO interventions (id, case_id, round, programme_id, target_person_id, agency_id, assignee_id, status,
            due_at, amount, note, milestones, delivered_on, outcome, cancel_reason, version, created_at, updated_at)
        SELECT id + %(I)s, case_id + %(C)s, round, programme_id, target_person_id + %(P)s, agency_id, assignee_id,
            status, due_at, amount, note, milestones, delivered_on, outcome, cancel_reason, version, created_at,
            updated_at
        FROM interventions WHERE id <= %(imax)s""", params)


def _canonical(text: str | None) -> str:
    """*text* (stored JSON) in ``chain_hash``'s canonical form. Rows this module wrote are already
    canonical (sorted keys, no spaces, as ``_dumps``) and are taken as they are; anything else is
    re-serialised."""
    if text is None:
        return "null"
    if ", " in text or ": " in text or not _looks_sorted(text):
        return _dumps(json.loads(text))
    return text


_SNAPSHOT_PREFIXES = ('{"owner_id":', '{"assignee_id":', '{"milestones":')


def _looks_sorted(text: str) -> bool:
    # The snapshots written by this module: case {owner_id, round, stage, status, version} and
    # intervention {assignee_id, milestones, status, version}, both sorted by _dumps.
    return text.startswith(_SNAPSHOT_PREFIXES)


def _clone_events(conn, reader_conn, off: dict[str, int], last_id: int, last_hash: str) -> tuple[int, str]:
    """Append the copy's audit events in the base order, chained (same canonical body as ``_audit``).

    PostgreSQL writes each event's canonical body and its COPY line (the JSON snapshots stored by
    this module are canonical already: sorted keys, no spaces); Python only chains the hashes.
    """
    params = {"C": off["cases"], "I": off["interventions"]}
    body = """'{"action":' || to_json(action)::text || ',"actor_id":' || coalesce(actor_id::text, 'null')
        || ',"after":' || coalesce(after::text, 'null') || ',"before":' || coalesce(before::text, 'null')
        || ',"case_id":' || (case_id + %(C)s)::text || ',"comment":' || coalesce(to_json(comment)::text, 'null')
        || ',"endpoint":null,"ip_address":null,"object_id":' || coalesce(new_object_id::text, 'null')
        || ',"object_type":' || to_json(object_type)::text || ',"occurred_at":"'
        || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00","request_id":null}'"""
    esc = ("replace(replace(replace(replace({0}, E'\\\\', E'\\\\\\\\'), E'\\t', E'\\\\t'), "
           "E'\\n', E'\\\\n'), E'\\r', E'\\\\r')")
    rest = ("concat_ws(E'\\t', "
            "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00', "
            "coalesce(actor_id::text, E'\\\\N'), action, object_type, coalesce(new_object_id::text, E'\\\\N'), "
            "(case_id + %(C)s)::text, coalesce(" + esc.format("before::text") + ", E'\\\\N'), "
            "coalesce(" + esc.format("after::text") + ", E'\\\\N'), coalesce(" + esc.format("comment")
            + ", E'\\\\N'))")
    source = ("(SELECT *, object_id + CASE object_type WHEN 'case' THEN %(C)s WHEN 'intervention' THEN %(I)s "
              "ELSE 0 END AS new_object_id FROM audit_events WHERE case_id <= %(cmax)s AND endpoint IS NULL "
              "AND ip_address IS NULL AND request_id IS NULL) e")
    params["cmax"] = off["cases"] // max(1, off["_j"])
    reader = reader_conn.cursor(name="clone_events")
    reader.itersize = 20_000
    reader.execute(f"SELECT {body}, {rest} FROM {source} ORDER BY id", params)  # noqa: S608  # nosec B608
    sha = hashlib.sha256
    with conn.cursor().copy(
            "COPY audit_events (id, occurred_at, actor_id, action, object_type, object_id, case_id, before, after, "
            "comment, prev_hash, row_hash) FROM STDIN") as copy:
        lines = []
        for text_body, line in reader:
            row_hash = sha((last_hash + text_body).encode()).hexdigest()
            last_id += 1
            lines.append(f"{last_id}\t{line}\t{last_hash}\t{row_hash}\n")
            last_hash = row_hash
            if len(lines) >= 20_000:
                copy.write("".join(lines))
                lines = []
        copy.write("".join(lines))
    reader.close()
    return last_id, last_hash
