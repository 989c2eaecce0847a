"""What runs in an import worker process: its state (context, sealer, memos), the fast path for clean
CSV rows, and :func:`process_chunk`, which sends every other row through :func:`validate.check_row`.

Standard library + the row checks of :mod:`.validate` only (no Flask, no database), so a forked worker
can run it on a chunk of rows.
"""

from __future__ import annotations

import time
from datetime import date
from operator import itemgetter
from time import perf_counter

from caseapp.core.masking import mask_digits
from caseapp.households.identity import PROVINCE_CODES, validate_kk, validate_nik
from caseapp.households.imports.columns import FIELD_ORDER
from caseapp.households.imports.validate import (
    ChunkResult,
    Context,
    _birth_date,
    _copy_text,
    _household_fields,
    _household_signature,
    _person_attributes,
    _Sealer,
    _text,
    check_row,
    reset_caches,
)

_context: Context | None = None
_sealer: _Sealer | None = None
# Fast-path memos (per process, per import): distinct household column sets, person code sets, dates and
# NIK date parts are checked once, not once per row. Bounded: cleared when they grow past _MEMO_MAX.
_fast_households: dict = {}
_fast_attrs: dict = {}
_fast_dates: dict = {}
_fast_nik_dates: dict = {}
_fast_kk_dates: dict = {}
_MEMO_MAX = 50_000


def init_worker(context: Context) -> None:
    global _context, _sealer
    _context = context
    _sealer = _Sealer(context.keyring)
    reset_caches()
    for memo in (_fast_households, _fast_attrs, _fast_dates, _fast_nik_dates, _fast_kk_dates):
        memo.clear()



# --- The fast path: rows of text (CSV) that pass every check, straight to a COPY line ----------------

_HOUSEHOLD_FIELDS = ("kk", "kelurahan_code", "address", "rt", "rw", "desil", "release")
_ATTRIBUTE_FIELDS = ("sex", "relation", "marital_status", "school_participation", "education_level",
                     "work_status", "work_sector", "monthly_income", "disability_types", "chronic_illness",
                     "pregnant")
_FAIL = object()


class _Refused(Exception):
    """A value the fast path does not take: the row goes through :func:`check_row`."""


def _refuse(*_args: object) -> None:
    raise _Refused


def _fast_household(key: tuple, ctx: Context, sealer: _Sealer) -> str | object:
    """The household part of a COPY line (kk_hash … hh_sig) for household columns without any problem."""
    v = dict(zip(_HOUSEHOLD_FIELDS, key, strict=True))
    kk = v["kk"]
    if not _text(v["kelurahan_code"]) or not _plain_number_ok(kk, "kk", ctx):
        return _FAIL
    try:
        _kk, kelurahan, address, rt, rw, desil, release = _household_fields(v, ctx, _refuse, check_kk=False)
    except _Refused:
        return _FAIL
    kk_ct, kk_hash = sealer.seal(kk, "kk")
    return "\t".join((kk_hash, _copy_text(kk_ct), mask_digits(kk), _copy_text(kelurahan), _copy_text(address),
                      _copy_text(rt), _copy_text(rw), _copy_text(desil), _copy_text(release),
                      _household_signature(kelurahan, address, rt, rw, desil, release)))


def _fast_attributes(key: tuple, ctx: Context) -> tuple[str, str] | object:
    """(sex, COPY text of relation … pregnant) for person columns without any problem."""
    v = dict(zip(_ATTRIBUTE_FIELDS, key, strict=True))
    if not _text(v["sex"]) or not _text(v["relation"]):
        return _FAIL
    try:
        sex, relation, codes, income, disability, flags = _person_attributes(v, ctx, _refuse)
    except _Refused:
        return _FAIL
    values = (relation.value, codes["marital_status"], codes["school_participation"], codes["education_level"],
              codes["work_status"], codes["work_sector"], income, disability, flags["chronic_illness"],
              flags["pregnant"])
    return sex, "\t".join(map(_copy_text, values))


def _fast_birth_date(value: str, ctx: Context) -> str | object:
    try:
        born = _birth_date(value, ctx, _refuse)
    except _Refused:
        return _FAIL
    return _FAIL if born is None else born.isoformat()


def _plain_number_ok(number: str, kind: str, ctx: Context) -> bool:
    """A NIK/KK written as 16 plain digits that validate_nik/validate_kk accept (no error; warnings do not
    count). Its only other checks are the province (digits 1-2), the serial (13-16) and the date (7-12),
    and the date is checked once per distinct value, by the validator itself on a stand-in number."""
    if not (len(number) == 16 and number.isdigit() and number.isascii()) or number[:2] not in PROVINCE_CODES \
            or number[12:] == "0000":
        return False
    memo = _fast_nik_dates if kind == "nik" else _fast_kk_dates
    part = number[6:12]
    ok = memo.get(part)
    if ok is None:
        if len(memo) > _MEMO_MAX:
            memo.clear()
        validator = validate_nik if kind == "nik" else validate_kk
        ok = memo[part] = validator("110000" + part + "0001", today=ctx.today).ok
    return ok


def _memoised(memo: dict, key, compute, *args):
    """``compute(key, *args)``, once per distinct *key* (the memo is emptied past ``_MEMO_MAX``)."""
    value = memo.get(key)
    if value is None:
        if len(memo) > _MEMO_MAX:
            memo.clear()
        value = memo[key] = compute(key, *args)
    return value


def fast_row(row_no: int, raw: list, ctx: Context, sealer: _Sealer, getters: tuple,
             timing: list[float]) -> str | None:
    """The COPY line of a CSV row that passes every check (exactly what check_row would stage), else None."""
    household_of, attributes_of, person_of = getters
    try:
        household_key = household_of(raw)
        attributes_key = attributes_of(raw)
        nik, name, born_raw = person_of(raw)
    except IndexError:
        return None
    household = _memoised(_fast_households, household_key, _fast_household, ctx, sealer)
    if household is _FAIL:
        return None
    attributes = _memoised(_fast_attrs, attributes_key, _fast_attributes, ctx)
    if attributes is _FAIL:
        return None
    born = _memoised(_fast_dates, born_raw, _fast_birth_date, ctx)
    if born is _FAIL:
        return None
    if not _plain_number_ok(nik, "nik", ctx):
        return None
    name = name.strip()
    if "  " in name or "\t" in name or "\n" in name:
        name = " ".join(name.split())
    if not name or len(name) > 200:
        return None
    started = perf_counter()
    nonce = sealer.nonce()
    nik_ct = sealer.prefix + nonce + sealer.aead.encrypt(nonce, nik.encode(), b"nik")
    nik_hash = sealer.blind(nik, "nik")
    timing[1] += perf_counter() - started
    return (f"{row_no}\tt\t{household}\t{nik_hash}\t\\\\x{nik_ct.hex()}\t{nik[:4]}********{nik[12:]}"
            f"\t{_copy_text(name)}\t{attributes[0]}\t{born}\t{attributes[1]}\n")


def _getters(ctx: Context) -> tuple:
    """itemgetters over a raw CSV row (with one "" appended, which stands for every absent column)."""
    def positions(fields: tuple[str, ...]) -> list[int]:
        return [-1 if ctx.index[FIELD_ORDER.index(f)] is None else ctx.index[FIELD_ORDER.index(f)] for f in fields]

    return (itemgetter(*positions(_HOUSEHOLD_FIELDS)), itemgetter(*positions(_ATTRIBUTE_FIELDS)),
            itemgetter(*positions(("nik", "name", "birth_date"))))


def unpack_rows(chunk: tuple | list) -> list[tuple[int, list]]:
    """A chunk as sent to a worker: (row numbers, rows packed into one string) or a list of (row, cells)."""
    if isinstance(chunk, tuple):
        numbers, packed = chunk
        return list(zip(numbers, (line.split(_CELL) for line in packed.split(_ROW)), strict=True))
    return chunk


_CELL, _ROW = "\x1f", "\x1e"


def pack_rows(chunk: list[tuple[int, list]]) -> tuple | list:
    """Pack a chunk of CSV rows (lists of str) into one string: one pickled object for a worker to split,
    instead of thousands of small strings. As is when a cell holds one of the two separator characters."""
    rows = [cells for _n, cells in chunk]
    packed = _ROW.join(map(_CELL.join, rows))
    if packed.count(_CELL) != sum(map(len, rows)) - len(rows) or packed.count(_ROW) != len(rows) - 1:
        return chunk      # a cell holds one of the separators (or is not text): send the lists
    return [n for n, _cells in chunk], packed


def process_chunk(chunk: tuple | list) -> ChunkResult:
    """Validate and seal a chunk of (row number, raw cells); in a worker or in-process."""
    ctx, sealer = _context, _sealer
    assert ctx is not None and sealer is not None, "init_worker() first"
    started = time.perf_counter()
    fast = ctx.copy_format and isinstance(chunk, tuple)
    rows = unpack_rows(chunk)
    errors: list = []
    timing = [0.0, 0.0]
    staged = []
    lines = []
    if fast:
        getters = _getters(ctx)
        for row_no, raw in rows:
            raw.append("")
            line = fast_row(row_no, raw, ctx, sealer, getters, timing)
            if line is not None:
                lines.append(line)
                continue
            raw.pop()
            out = check_row(row_no, raw, ctx, sealer, errors, timing)
            if out is not None:
                lines.append("\t".join(map(_copy_text, out)) + "\n")
        payload: object = "".join(lines).encode()
    else:
        for row_no, raw in rows:
            out = check_row(row_no, raw, ctx, sealer, errors, timing)
            if out is not None:
                staged.append(out)
        if ctx.copy_format:
            payload = "".join("\t".join(map(_copy_text, row)) + "\n" for row in staged).encode()
        else:
            payload = [
                tuple(x.isoformat() if isinstance(x, date) else x for x in row) for row in staged
            ]
    total = time.perf_counter() - started
    return ChunkResult(payload, errors, len(rows), total - timing[1], timing[1])
