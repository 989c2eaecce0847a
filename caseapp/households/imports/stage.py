"""Parse → validate + seal (worker processes) → staging table (COPY on PostgreSQL), then set-based checks.

The staging table is a TEMP table of the import's own connection (on PostgreSQL ``ON COMMIT DROP``: it
lives exactly as long as the import's transaction). Rows whose KK is usable are staged even when
invalid (``valid = false``), so the household-level checks can condemn their whole household.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import Connection, text

from caseapp.households.imports.parse import Opened
from caseapp.households.imports.validate import STAGE_COLUMNS, ChunkResult, Context
from caseapp.households.imports.worker import init_worker, pack_rows, process_chunk

CHUNK_ROWS = 2000
BATCH_ROWS = 100_000
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


_HH_COLUMNS = ("kk_hash text PRIMARY KEY, first_row integer, kk_ct {blob}, kk_masked text, kelurahan_code text, "
               "address text, rt integer, rw integer, desil integer, release text, head_nik_hash text, "
               "household_id integer, matched text, old_kk_hash text, is_new boolean DEFAULT {false}")


def create_stage(conn: Connection, *, batches: bool = False) -> None:
    """The staging tables; with *batches* (PostgreSQL) also ``import_batch`` (the rows of one batch, merged
    while the next is validated) and ``import_hh_all`` (every batch's household rows, for the final checks)."""
    postgres = conn.dialect.name == "postgresql"
    types = _TYPES_PG if postgres else _TYPES_SQLITE
    columns = ", ".join(f"{name} {types.get(name, 'text')}" for name in STAGE_COLUMNS)
    drop_stage(conn)
    if postgres:
        hh = _HH_COLUMNS.format(blob="bytea", false="false")
        conn.execute(text(f"CREATE TEMP TABLE import_stage ({columns}) ON COMMIT DROP"))  # nosec B608 - fixed names
        conn.execute(text(f"CREATE TEMP TABLE import_hh ({hh}) ON COMMIT DROP"))  # nosec B608 - fixed names
        if batches:
            conn.execute(text(f"CREATE TEMP TABLE import_batch ({columns}) ON COMMIT DROP"))  # nosec B608
            conn.execute(text("CREATE TEMP TABLE import_hh_all (LIKE import_hh) ON COMMIT DROP"))
            conn.execute(text("CREATE TEMP TABLE import_hold (LIKE import_batch) ON COMMIT DROP"))
    else:
        hh = _HH_COLUMNS.format(blob="blob", false="0")
        conn.execute(text(f"CREATE TEMP TABLE import_stage ({columns})"))  # nosec B608 - fixed names
        conn.execute(text(f"CREATE TEMP TABLE import_hh ({hh})"))  # nosec B608 - fixed names


def drop_stage(conn: Connection) -> None:
    schema = "pg_temp" if conn.dialect.name == "postgresql" else "temp"
    for table in ("import_stage", "import_hh", "import_batch", "import_hh_all", "import_hold"):
        conn.execute(text(f"DROP TABLE IF EXISTS {schema}.{table}"))  # nosec B608 - fixed names


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
         progress: Callable[[int, int], None] | None = None,
         on_batch: Callable[[StageStats, bool], None] | None = None,
         batch_rows: int = BATCH_ROWS) -> StageStats:
    """Stream *opened* through the validators into ``import_stage``; returns counts, errors and timings.

    With *on_batch* (PostgreSQL), rows go to ``import_batch`` instead, and every *batch_rows* rows (and once
    at the end) the COPY is closed and ``on_batch(stats, final)`` is called — it merges the batch and moves it to
    ``import_stage`` — while the worker processes go on validating the next rows (at most about one batch
    ahead: memory stays bounded).
    """
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
    batching = postgres and on_batch is not None

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

    insert_sql = text(f"INSERT INTO import_stage ({', '.join(STAGE_COLUMNS)}) "  # noqa: S608  # nosec B608
                      f"VALUES ({', '.join(':' + c for c in STAGE_COLUMNS)})")

    def consume(results: Iterator[ChunkResult], sink, done: Callable[[], None]) -> None:
        for result in results:
            done()
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
        if not processes:
            init_worker(context)
            consume(map(process_chunk, sent_chunks()), sink, lambda: None)
            return
        # Chunks in flight (sent, not yet consumed) are bounded: while the main process merges a batch the
        # workers validate ahead, but not further than about one batch.
        slots = threading.Semaphore(max(batch_rows // CHUNK_ROWS, 1) + 2 * processes)
        stop = threading.Event()

        def fed():
            for chunk in sent_chunks():
                while not slots.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                yield chunk

        pool_context = multiprocessing.get_context("fork")
        with pool_context.Pool(processes, initializer=init_worker, initargs=(context,)) as pool:
            try:
                consume(pool.imap(process_chunk, fed(), chunksize=1), sink, slots.release)
            finally:
                stop.set()      # before the pool is shut down: its feeding thread may wait for a slot

    if postgres:
        raw = conn.connection.driver_connection
        table = "import_batch" if batching else "import_stage"
        copy_sql = f"COPY {table} ({', '.join(STAGE_COLUMNS)}) FROM STDIN"  # nosec B608 - fixed names
        with ExitStack() as stack:
            state: dict = {"copy": None, "rows": 0}

            def close() -> None:
                if state["copy"] is not None:
                    stack.close()
                    state["copy"] = None

            def sink(payload: bytes) -> int:
                if state["copy"] is None:
                    cursor = stack.enter_context(raw.cursor())
                    state["copy"] = stack.enter_context(cursor.copy(copy_sql))
                state["copy"].write(payload)
                count = payload.count(b"\n")
                state["rows"] += count
                if batching and state["rows"] >= batch_rows:
                    close()
                    state["rows"] = 0
                    on_batch(stats, False)
                return count

            run(sink)
            close()
        if batching:
            on_batch(stats, True)      # the rest, and the rows held back from the last batch
    else:
        def sink(payload: list) -> int:
            if payload:
                conn.execute(insert_sql, [dict(zip(STAGE_COLUMNS, row, strict=True)) for row in payload])
            return len(payload)
        run(sink)
    stats.seconds["pipeline_wall"] = time.perf_counter() - started
    return stats


def register_clashes(conn: Connection, headers: dict[str, str], table: str = "import_stage") -> list:
    """Rows whose NIK is in the register for someone with another name and another birth date."""
    if table not in ("import_stage", "import_batch"):
        raise ValueError(table)
    nik_header = headers.get("nik", "NIK")
    return [(row_no, nik_header, masked, "NIK ini sudah terdaftar untuk orang dengan nama dan tanggal lahir lain. "
             "Data tidak digabung: periksa NIK di KTP/KK.") for row_no, masked in conn.execute(text(
                 f"SELECT s.row_no, s.nik_masked FROM {table} s JOIN persons p ON p.nik_hash = s.nik_hash "  # noqa: S608  # nosec B608
                 "WHERE s.valid AND UPPER(p.name) <> UPPER(s.name) "
                 "AND (p.birth_date IS NULL OR p.birth_date <> s.birth_date) ORDER BY s.row_no"))]


def batch_has_duplicates(conn: Connection) -> bool:
    """Whether two valid rows of ``import_batch`` share a NIK (they must not both reach the merge)."""
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM import_batch WHERE valid AND nik_hash IS NOT NULL "
        "GROUP BY nik_hash HAVING COUNT(*) > 1)")).scalar())


def batches_disagree(conn: Connection) -> bool:
    """After a batched merge: whether merging the file whole could have matched differently.

    True when a household's rows were in two batches, two households of the file went to one household
    of the register, or a household was matched through its head's NIK while its old KK is in the file
    too. Then the batched merge is rolled back and the file merged whole (``engine.run_import``).
    """
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM import_hh_all GROUP BY kk_hash HAVING COUNT(*) > 1) "
        "OR EXISTS (SELECT 1 FROM import_hh_all GROUP BY household_id HAVING COUNT(*) > 1) "
        "OR EXISTS (SELECT 1 FROM import_hh_all a JOIN import_hh_all b ON b.kk_hash = a.old_kk_hash "
        "WHERE a.matched = 'head')")).scalar())


def household_checks(conn: Connection, stats: StageStats, headers: dict[str, str], *, clashes: bool = True) -> None:
    """Set-based checks across rows: duplicate NIK, heads per KK, one address per KK, size, register clashes.

    Each adds errors to *stats*; afterwards every row of a household with any error is ``valid = false``.
    ``clashes=False``: the register clashes were checked batch by batch before each batch was merged.
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
    if clashes:
        errors.extend(register_clashes(conn, headers))

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
