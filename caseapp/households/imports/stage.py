"""Parse → validate + seal (worker processes) → staging table (COPY on PostgreSQL), then set-based checks.

The staging table is a TEMP table of the import's own connection (on PostgreSQL ``ON COMMIT DROP``: it
lives exactly as long as the import's transaction). Rows whose KK is usable are staged even when
invalid (``valid = false``), so the household-level checks can condemn their whole household.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import Connection, text

from caseapp.households.imports.parse import Opened
from caseapp.households.imports.validate import (
    STAGE_COLUMNS,
    ChunkResult,
    Context,
    init_worker,
    pack_rows,
    process_chunk,
)

CHUNK_ROWS = 2000
MAX_MEMBERS = 30
MAX_KEPT_ERRORS = 20_000

_TYPES_PG = {"row_no": "integer", "valid": "boolean", "kk_ct": "bytea", "nik_ct": "bytea", "rt": "integer",
             "rw": "integer", "desil": "integer", "monthly_income": "bigint", "birth_date": "date",
             "chronic_illness": "boolean", "pregnant": "boolean"}
_TYPES_SQLITE = {**_TYPES_PG, "kk_ct": "blob", "nik_ct": "blob", "birth_date": "text"}


@dataclass
class StageStats:
    rows: int = 0
    staged: int = 0
    errors: list = field(default_factory=list)
    error_count: int = 0
    seconds: dict = field(default_factory=lambda: {"parse_validate": 0.0, "encrypt": 0.0, "load": 0.0,
                                                    "checks": 0.0, "pipeline_wall": 0.0})
    workers: int = 0

    def add_errors(self, errors: list) -> None:
        self.error_count += len(errors)
        room = MAX_KEPT_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])


def create_stage(conn: Connection) -> None:
    postgres = conn.dialect.name == "postgresql"
    types = _TYPES_PG if postgres else _TYPES_SQLITE
    columns = ", ".join(f"{name} {types.get(name, 'text')}" for name in STAGE_COLUMNS)
    drop_stage(conn)
    if postgres:
        conn.execute(text(f"CREATE TEMP TABLE import_stage ({columns}) ON COMMIT DROP"))  # nosec B608 - fixed names
        conn.execute(text("CREATE TEMP TABLE import_hh (kk_hash text PRIMARY KEY, first_row integer, "
                          "kk_ct bytea, kk_masked text, kelurahan_code text, address text, rt integer, "
                          "rw integer, desil integer, release text, head_nik_hash text, household_id integer, "
                          "matched text, is_new boolean DEFAULT false) ON COMMIT DROP"))
    else:
        conn.execute(text(f"CREATE TEMP TABLE import_stage ({columns})"))  # nosec B608 - fixed names
        conn.execute(text("CREATE TEMP TABLE import_hh (kk_hash text PRIMARY KEY, first_row integer, "
                          "kk_ct blob, kk_masked text, kelurahan_code text, address text, rt integer, "
                          "rw integer, desil integer, release text, head_nik_hash text, household_id integer, "
                          "matched text, is_new boolean DEFAULT 0)"))


def drop_stage(conn: Connection) -> None:
    schema = "pg_temp" if conn.dialect.name == "postgresql" else "temp"
    conn.execute(text(f"DROP TABLE IF EXISTS {schema}.import_stage"))  # nosec B608 - fixed names
    conn.execute(text(f"DROP TABLE IF EXISTS {schema}.import_hh"))  # nosec B608 - fixed names


def _chunks(rows: Iterator[tuple[int, list]], size: int) -> Iterator[list[tuple[int, list]]]:
    while True:
        chunk = list(islice(rows, size))
        if not chunk:
            return
        yield chunk


def worker_count(requested: int | None) -> int:
    """Processes to validate in: all cores, but none inside a daemonic process (a Celery prefork child)."""
    if multiprocessing.current_process().daemon:
        return 0
    if requested is not None:
        return max(requested, 0)
    return os.cpu_count() or 1


def load(conn: Connection, opened: Opened, context: Context, *, workers: int | None,
         progress: Callable[[int, int], None] | None = None) -> StageStats:
    """Stream *opened* through the validators into ``import_stage``; returns counts, errors and timings."""
    stats = StageStats()
    started = time.perf_counter()
    postgres = conn.dialect.name == "postgresql"
    chunks = _chunks(opened.rows, CHUNK_ROWS)
    first = next(chunks, None)
    if first is None:
        return stats
    second = next(chunks, None)
    processes = worker_count(workers) if second is not None else 0
    stats.workers = processes

    def all_chunks():
        yield first
        if second is not None:
            yield second
        yield from chunks

    def sent_chunks():
        # CSV rows are all text: packed into one string per chunk (far cheaper to pickle and unpickle).
        if opened.kind == "csv":
            return map(pack_rows, all_chunks())
        return all_chunks()

    copy_sql = f"COPY import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"  # nosec B608 - fixed names
    insert_sql = text(f"INSERT INTO import_stage ({', '.join(STAGE_COLUMNS)}) "  # noqa: S608  # nosec B608
                      f"VALUES ({', '.join(':' + c for c in STAGE_COLUMNS)})")

    def consume(results: Iterator[ChunkResult], sink) -> None:
        for result in results:
            stats.rows += result.rows
            stats.seconds["parse_validate"] += result.validate_seconds
            stats.seconds["encrypt"] += result.encrypt_seconds
            stats.add_errors(result.errors)
            t0 = time.perf_counter()
            stats.staged += sink(result.payload)
            stats.seconds["load"] += time.perf_counter() - t0
            if progress is not None:
                progress(stats.rows, stats.error_count)

    def run(sink) -> None:
        if processes:
            pool_context = multiprocessing.get_context("fork")
            with pool_context.Pool(processes, initializer=init_worker, initargs=(context,)) as pool:
                consume(pool.imap(process_chunk, sent_chunks(), chunksize=1), sink)
        else:
            init_worker(context)
            consume(map(process_chunk, sent_chunks()), sink)

    if postgres:
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            def sink(payload: bytes) -> int:
                copy.write(payload)
                return payload.count(b"\n")
            run(sink)
    else:
        def sink(payload: list) -> int:
            if payload:
                conn.execute(insert_sql, [dict(zip(STAGE_COLUMNS, row, strict=True)) for row in payload])
            return len(payload)
        run(sink)
    stats.seconds["pipeline_wall"] = time.perf_counter() - started
    return stats


def household_checks(conn: Connection, stats: StageStats, headers: dict[str, str]) -> None:
    """Set-based checks across rows: duplicate NIK, heads per KK, one address per KK, size, register clashes.

    Each adds errors to *stats*; afterwards every row of a household with any error is ``valid = false``.
    """
    started = time.perf_counter()
    kk_header, nik_header = headers.get("kk", "NO_KK"), headers.get("nik", "NIK")
    rel_header = headers.get("relation", "HUBUNGAN_KK")
    if conn.dialect.name == "postgresql":
        # No indexes on the stage: every statement on it reads it whole (hash joins and aggregates). The
        # planner gets the row count and statistics of the columns that are joined or grouped on only
        # (ANALYZE of all 28 columns cost as much as the checks themselves).
        conn.execute(text("ANALYZE import_stage (valid, kk_hash, nik_hash, row_no, relation)"))
    else:
        conn.execute(text("CREATE INDEX temp.ix_import_stage_kk ON import_stage (kk_hash)"))
        conn.execute(text("CREATE INDEX temp.ix_import_stage_nik ON import_stage (nik_hash)"))
    errors: list[tuple[int, str, str, str]] = []

    # The same NIK on two rows of the file (a duplicated row, or two people given one number).
    duplicates = conn.execute(text(
        "SELECT s.nik_hash, s.row_no, s.nik_masked FROM import_stage s WHERE s.nik_hash IN "
        "(SELECT nik_hash FROM import_stage WHERE nik_hash IS NOT NULL GROUP BY nik_hash HAVING COUNT(*) > 1) "
        "ORDER BY s.nik_hash, s.row_no")).all()
    groups: dict[str, list[tuple[int, str]]] = {}
    for nik_hash, row_no, masked in duplicates:
        groups.setdefault(nik_hash, []).append((row_no, masked))
    for rows in groups.values():
        for row_no, masked in rows:
            others = ", ".join(str(r) for r, _m in rows if r != row_no)
            errors.append((row_no, nik_header, masked,
                           f"NIK ini juga ada di baris {others}. Satu orang hanya boleh satu baris; hapus baris "
                           "ganda atau perbaiki NIK yang salah."))

    # Exactly one head per KK, at most MAX_MEMBERS members, one address/desil per KK.
    for _kk_hash, row_no, masked, heads, members, signatures in conn.execute(text(
        "SELECT kk_hash, MIN(row_no), MIN(kk_masked), "
        "SUM(CASE WHEN relation = 'head' THEN 1 ELSE 0 END), COUNT(*), COUNT(DISTINCT hh_sig) "
        "FROM import_stage WHERE valid GROUP BY kk_hash "
        "HAVING SUM(CASE WHEN relation = 'head' THEN 1 ELSE 0 END) <> 1 OR COUNT(*) > :most "
        "OR COUNT(DISTINCT hh_sig) > 1"), {"most": MAX_MEMBERS}):
        if heads == 0:
            errors.append((row_no, rel_header, masked or "", "KK ini tidak punya kepala keluarga. Tandai satu "
                           "anggota dengan hubungan 1 (kepala keluarga)."))
        elif heads > 1:
            errors.append((row_no, rel_header, masked or "", f"KK ini punya {heads} kepala keluarga; hanya boleh "
                           "satu. Ubah hubungan anggota lain (mis. 2 = suami/istri)."))
        if members > MAX_MEMBERS:
            errors.append((row_no, kk_header, masked or "", f"KK ini punya {members} anggota; paling banyak "
                           f"{MAX_MEMBERS}. Periksa nomor KK di baris-barisnya."))
        if signatures > 1:
            errors.append((row_no, kk_header, masked or "", "Baris-baris dengan nomor KK ini berbeda pada kolom "
                           "rumah tangga (kelurahan, alamat, RT, RW, desil, rilis). Samakan isinya di semua "
                           "baris KK ini."))

    # A NIK already in the register for someone with another name and another birth date.
    for row_no, masked in conn.execute(text(
        "SELECT s.row_no, s.nik_masked FROM import_stage s JOIN persons p ON p.nik_hash = s.nik_hash "
        "WHERE s.valid AND UPPER(p.name) <> UPPER(s.name) "
        "AND (p.birth_date IS NULL OR p.birth_date <> s.birth_date) ORDER BY s.row_no")):
        errors.append((row_no, nik_header, masked, "NIK ini sudah terdaftar untuk orang dengan nama dan tanggal "
                       "lahir lain. Data tidak digabung: periksa NIK di KTP/KK."))

    errors.sort()
    stats.add_errors(errors)
    # A household goes in whole or not at all.
    conn.execute(text(
        "UPDATE import_stage SET valid = false WHERE valid AND kk_hash IN "
        "(SELECT kk_hash FROM import_stage WHERE NOT valid)"))
    if errors:
        bad_rows = sorted({e[0] for e in errors})
        for start in range(0, len(bad_rows), 500):
            part = bad_rows[start:start + 500]
            conn.execute(text(
                "UPDATE import_stage SET valid = false WHERE kk_hash IN "  # noqa: S608 - ints
                f"(SELECT kk_hash FROM import_stage WHERE row_no IN ({', '.join(str(int(r)) for r in part)}))"  # nosec B608 - ints
            ))
    stats.seconds["checks"] = time.perf_counter() - started
