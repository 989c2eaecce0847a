"""The import's fast path (CSV rows straight to COPY lines) stages exactly what the full row check stages.

Pure Python (no database): every row is run through :func:`check_row` (the reference, every check and
message) and :func:`fast_row`; when the fast path takes a row, the full check must find nothing wrong
with it and the COPY line must be the same, field by field (ciphertexts compared after decryption:
their nonces are random).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import date

import pytest

from caseapp.core.crypto import Keyring
from caseapp.households.imports import validate as v
from caseapp.households.imports import worker as w
from caseapp.households.imports.columns import FIELD_ORDER
from caseapp.households.imports.parse import _map_headers
from caseapp.households.imports.sample import HEADER
from tests.households.dtsen import KELURAHAN, col, rows_for

TODAY = date(2026, 11, 28)


def context(header=None, allowed=None) -> v.Context:
    headers, index, _ignored = _map_headers(header or HEADER)
    return v.Context(keyring=Keyring((os.urandom(32),), os.urandom(32)), index=index, headers=headers,
                     kelurahan=frozenset(KELURAHAN), allowed=allowed, today=TODAY, copy_format=True)


def decrypted(ctx: v.Context, line: str) -> list[str]:
    """A COPY line's fields, the two ciphertexts replaced by their plaintexts."""
    fields = line.rstrip("\n").split("\t")
    for name, purpose in (("kk_ct", "kk"), ("nik_ct", "nik")):
        i = v.STAGE_COLUMNS.index(name)
        fields[i] = ctx.keyring.decrypt(bytes.fromhex(fields[i].removeprefix("\\\\x")), purpose)
    return fields


def both(ctx: v.Context, rows: list[list[str]]) -> list[tuple[str | None, list, tuple | None]]:
    w.init_worker(ctx)
    sealer, getters = w._sealer, w._getters(ctx)
    out = []
    for n, row in enumerate(rows, start=2):
        fast = w.fast_row(n, [*row, ""], ctx, sealer, getters, [0.0, 0.0])
        errors: list = []
        slow = v.check_row(n, list(row), ctx, sealer, errors, [0.0, 0.0])
        out.append((fast, errors, slow))
    return out


def assert_same(ctx, results) -> int:
    taken = 0
    for fast, errors, slow in results:
        if fast is None:
            continue
        taken += 1
        assert not errors and slow is not None and slow[1] is True
        reference = "\t".join(map(v._copy_text, slow)) + "\n"
        assert decrypted(ctx, fast) == decrypted(ctx, reference)
    return taken


def test_fast_path_stages_the_same_rows_as_the_full_check():
    ctx = context()
    rows = rows_for(60)
    results = both(ctx, rows)
    assert assert_same(ctx, results) == len(rows)          # a clean file goes through the fast path whole


def messy(rows: list[list[str]]) -> list[list[str]]:
    """One change per row, each something the full check accepts differently or refuses."""
    changes = [
        ("NO_KK", " {} "), ("NO_KK", "{}x"), ("NO_KK", "3571014"), ("NIK", "{}0"), ("NIK", "3.57101E+15"),
        ("NIK", "99{}"), ("NIK", " {} "), ("KODE_KELURAHAN", "3571011001"), ("KODE_KELURAHAN", "35.71.09.9999"),
        ("KODE_KELURAHAN", ""), ("RT", "0"), ("RT", "12.0"), ("RT", ""), ("RW", "abc"), ("DESIL", "11"),
        ("DESIL", ""), ("RILIS", ""), ("RILIS", "X" * 40), ("ALAMAT", "  Jl.  Mawar\t 3 "), ("ALAMAT", "A" * 301),
        ("NAMA", ""), ("NAMA", "  Siti   Aminah "), ("NAMA", "N" * 201), ("NAMA", "Back\\slash"),
        ("NAMA", "Cr\rname"), ("JENIS_KELAMIN", "x"), ("JENIS_KELAMIN", " L "), ("JENIS_KELAMIN", "perempuan"),
        ("TANGGAL_LAHIR", "31-02-1980"), ("TANGGAL_LAHIR", "1980-05-17"), ("TANGGAL_LAHIR", "17-05-2099"),
        ("TANGGAL_LAHIR", "01-01-1850"), ("TANGGAL_LAHIR", "29221"), ("TANGGAL_LAHIR", ""),
        ("HUBUNGAN_KK", "kepala keluarga"), ("HUBUNGAN_KK", "99"), ("HUBUNGAN_KK", ""), ("STATUS_KAWIN", "Kawin"),
        ("STATUS_KAWIN", "9"), ("PENDIDIKAN", " 3 "), ("STATUS_PEKERJAAN", "bekerja"), ("LAPANGAN_USAHA", "77"),
        ("PENGHASILAN", "Rp 1.500.000"), ("PENGHASILAN", "abc"), ("PENGHASILAN", "2000000000"),
        ("DISABILITAS", "1,3"), ("DISABILITAS", "tidak"), ("DISABILITAS", "fisik;zz"), ("PENYAKIT_KRONIS", "ya"),
        ("PENYAKIT_KRONIS", "mungkin"), ("HAMIL", "1"), ("PARTISIPASI_SEKOLAH", "2"),
    ]
    out = []
    for i, row in enumerate(rows):
        header, template = changes[i % len(changes)]
        changed = list(row)
        changed[col(header)] = template.format(row[col(header)])
        out.append(changed)
    return out


def test_fast_path_refuses_or_matches_on_messy_values():
    ctx = context()
    rows = messy(rows_for(80))
    results = both(ctx, rows)
    taken = assert_same(ctx, results)
    refused = [errors for fast, errors, _slow in results if fast is None]
    assert taken and refused
    assert sum(1 for errors in refused if errors) > 20        # the row check reported what the fast path left


def test_fast_path_with_columns_missing_reordered_and_out_of_scope():
    optional = [h for h in HEADER if h not in ("DISABILITAS", "HAMIL", "PENGHASILAN")]
    header = list(reversed(optional))
    source = rows_for(30)
    rows = [[row[HEADER.index(h)] for h in header] for row in source]
    ctx = context(header)
    assert ctx.index[FIELD_ORDER.index("pregnant")] is None
    assert assert_same(ctx, both(ctx, rows)) == len(rows)
    scoped = context(header, allowed=frozenset(KELURAHAN[:1]))
    results = both(scoped, rows)
    assert_same(scoped, results)
    assert any(fast is None and errors for fast, errors, _slow in results)


def test_short_rows_go_to_the_full_check():
    ctx = context()
    rows = [row[:5] for row in rows_for(3)]
    assert all(fast is None and errors for fast, errors, _slow in both(ctx, rows))


@pytest.mark.parametrize("key_length", [32, 64, 100])
def test_sealer_matches_the_keyring(key_length):
    keyring = Keyring((os.urandom(32),), os.urandom(key_length))
    sealer = v._Sealer(keyring)
    for number in ("3571014501800001", "3571010101100002"):
        token, blind = sealer.seal(number, "nik")
        assert blind == keyring.blind_index(number, "nik")
        assert blind == hmac.new(keyring.blind_index_key, f"nik\x00{number}".encode(), hashlib.sha256).hexdigest()
        assert keyring.decrypt(token, "nik") == number
    nonces = {sealer.nonce() for _ in range(10_000)}
    assert len(nonces) == 10_000


def test_packed_chunks_round_trip_and_refuse_separators():
    chunk = [(2, ["a", "b", ""]), (5, ["", "c\x1ed", "e"])]
    assert w.pack_rows(chunk) is chunk
    clean = [(2, ["a", "b", ""]), (5, ["", "c d", "e"]), (6, [""])]
    packed = w.pack_rows(clean)
    assert isinstance(packed, tuple) and w.unpack_rows(packed) == clean
