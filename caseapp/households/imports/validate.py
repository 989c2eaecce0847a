"""Row checks and sealing, run in worker processes: one raw row in, one staging row or its errors out.

Standard library + :mod:`caseapp.households.identity` + the keyring only (no Flask, no database), so a
forked worker can run it on a chunk of rows. Messages are Indonesian sentences for the error report;
the value shown next to an error never holds a full NIK or KK (masked).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from caseapp.core.crypto import FORMAT_VERSION, Keyring
from caseapp.core.masking import mask_digits
from caseapp.households.identity import normalize_number, validate_kk, validate_nik
from caseapp.households.imports.columns import (
    BOOL_CODES,
    CODE_MAPS,
    COLUMNS,
    FIELD_ORDER,
    RELATION_CODES,
    REQUIRED,
    SEX_CODES,
    header_key,
)
from caseapp.households.models import Relation

STAGE_COLUMNS = (
    "row_no", "valid", "kk_hash", "kk_ct", "kk_masked", "kelurahan_code", "address", "rt", "rw", "desil",
    "release", "hh_sig", "nik_hash", "nik_ct", "nik_masked", "name", "sex", "birth_date", "relation",
    "marital_status", "school_participation", "education_level", "work_status", "work_sector",
    "monthly_income", "disability_types", "chronic_illness", "pregnant",
)
_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%y", "%d/%m/%y")
_INT_TEXT = re.compile(r"[0-9]+(?:[.,]0+)?")
_MONEY_NOISE = re.compile(r"(?i)^rp\.?\s*|[\s.,]")
_SPLIT = re.compile(r"[,;|/]+")
_DMY = re.compile(r"([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})")
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")

MESSAGES = {
    "required": "Kolom ini wajib diisi.",
    "kelurahan_unknown": "Kode kelurahan tidak ada di daftar kelurahan Kota Kediri. Tulis kode lengkap, "
                         "misalnya 35.71.01.1001.",
    "kelurahan_scope": "Kelurahan ini di luar wilayah tugas Anda; baris ini tidak bisa Anda impor.",
    "rt_rw": "Harus angka 1 sampai 999.",
    "desil": "Desil harus angka 1 sampai 10.",
    "release_missing": "Desil harus disertai nama rilis DTSEN (kolom RILIS), misalnya DTSEN-2025-Q2.",
    "release_long": "Nama rilis paling banyak 32 karakter.",
    "name_long": "Nama paling banyak 200 karakter.",
    "address_long": "Alamat paling banyak 300 karakter.",
    "sex": "Jenis kelamin harus L/1 (laki-laki) atau P/2 (perempuan).",
    "date": "Tanggal tidak terbaca. Tulis HH-BB-TTTT (mis. 17-05-1980) atau TTTT-BB-HH.",
    "date_future": "Tanggal lahir tidak boleh di masa depan.",
    "date_old": "Tanggal lahir sebelum 1900. Periksa tahunnya.",
    "relation": "Hubungan dengan kepala keluarga tidak dikenal. Pakai kode 1-10 (1 = kepala keluarga).",
    "code": "Kode tidak dikenal. Pakai salah satu: {codes}.",
    "income": "Penghasilan harus angka rupiah per bulan, misalnya 1500000.",
    "bool": "Isi Ya/1 atau Tidak/2.",
    "pregnant_male": "Hanya anggota perempuan yang dapat tercatat hamil.",
}


@dataclass
class Context:
    """What every worker needs, set once per import (picklable; fork shares it for free)."""

    keyring: Keyring
    index: tuple[int | None, ...]          # FIELD_ORDER position → column position in the file
    headers: dict[str, str]                # field → header as written in the file
    kelurahan: frozenset[str]
    allowed: frozenset[str] | None         # None: every kelurahan (CLI, admin)
    today: date
    copy_format: bool                       # True: PostgreSQL COPY text lines; False: tuples
    codelists: dict = field(default_factory=lambda: CODE_MAPS)


@dataclass
class ChunkResult:
    payload: object                          # bytes (COPY) or list of tuples
    errors: list[tuple[int, str, str, str]]  # (row, header, shown value, message)
    rows: int
    validate_seconds: float
    encrypt_seconds: float


class _Sealer:
    """The keyring's encrypt/blind_index with the key objects built once (per process).

    Same output as :meth:`Keyring.encrypt` / :meth:`Keyring.blind_index` (tests check it), cheaper per
    value: the HMAC's inner and outer SHA-256 states are keyed once and copied, and the random nonces
    are taken from one ``os.urandom`` read per 4,096 values.
    """

    _NONCES = 4096

    def __init__(self, keyring: Keyring) -> None:
        key = keyring.encryption_keys[0]
        self.aead = AESGCM(key)
        self.prefix = FORMAT_VERSION + hashlib.sha256(b"sinergi-key-id" + key).digest()[:4]
        blind = keyring.blind_index_key
        if len(blind) > 64:                       # HMAC's rule for keys longer than the block
            blind = hashlib.sha256(blind).digest()
        blind = blind.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in blind))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in blind))
        self.nonces = b""
        self.used = 0

    def nonce(self) -> bytes:
        if self.used >= len(self.nonces):
            self.nonces, self.used = os.urandom(12 * self._NONCES), 0
        start = self.used
        self.used = start + 12
        return self.nonces[start:start + 12]

    def blind(self, number: str, purpose: str) -> str:
        inner = self.inner.copy()
        inner.update(f"{purpose}\x00{number}".encode())
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def seal(self, number: str, purpose: str) -> tuple[bytes, str]:
        nonce = self.nonce()
        token = self.prefix + nonce + self.aead.encrypt(nonce, number.encode(), purpose.encode())
        return token, self.blind(number, purpose)


_kk_cache: dict = {}
_sealed_kk: dict = {}


def reset_caches() -> None:
    """Forget the KK checks and seals of an earlier import (a worker process serves one import)."""
    _kk_cache.clear()
    _sealed_kk.clear()


def _text(value: object) -> str | None:
    """Trimmed text with inner runs of spaces collapsed; None for blank."""
    if value is None:
        return None
    if type(value) is str:
        text = value.strip()
        if "  " in text or "\t" in text or "\n" in text:
            text = " ".join(text.split())
        return text or None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    return text or None


def _small_int(value: object, low: int, high: int) -> int | str | None:
    """int, None for blank, or "bad"."""
    if type(value) is str and value.isdigit() and value.isascii():
        number = int(value)
        return number if low <= number <= high else "bad"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return "bad"
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            return "bad"
        number = int(value)
    else:
        text = str(value).strip()
        if not _INT_TEXT.fullmatch(text):
            return "bad"
        number = int(re.split(r"[.,]", text)[0])
    return number if low <= number <= high else "bad"


def parse_date(value: object) -> date | None:
    """A birth date as Excel or people write it; None when unreadable. Serial numbers are Excel's (1900)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    serial = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        serial = value
    else:
        text = str(value).strip()
        match = _DMY.fullmatch(text)
        if match:
            day, month, year = match.groups()
            try:
                return date(int(year), int(month), int(day))
            except ValueError:
                return None
        if re.fullmatch(r"[0-9]{1,5}(?:\.0+)?", text):
            serial = float(text)
        else:
            text = text.split(" ")[0].split("T")[0]
            for fmt in _DATE_FORMATS:
                try:
                    return datetime.strptime(text, fmt).date()
                except ValueError:
                    continue
            return None
    if serial is None or not 1 <= serial < 100_000:
        return None
    return _EXCEL_EPOCH + timedelta(days=int(serial))


def _code(value: str, mapping: dict) -> object:
    found = mapping.get(value)
    if found is not None:
        return found
    return mapping.get(header_key(value)) or mapping.get(value.strip().lower())


def _copy_text(value: object) -> str:
    kind = type(value)
    if kind is str:
        if _COPY_SPECIAL.search(value) is None:
            return value
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    if value is None:
        return "\\N"
    if kind is int:
        return str(value)
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


def _kelurahan(value: object, ctx: Context) -> tuple[str | None, str | None]:
    """(code, None) for a known kelurahan the importer may import; (None, message key) otherwise."""
    kelurahan = _text(value)
    if not kelurahan:
        return None, None
    digits = re.sub(r"\D", "", kelurahan)
    if len(digits) == 10:
        kelurahan = f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}.{digits[6:10]}"
    if kelurahan not in ctx.kelurahan:
        return None, "kelurahan_unknown"
    if ctx.allowed is not None and kelurahan not in ctx.allowed:
        return None, "kelurahan_scope"
    return kelurahan, None


def _household_fields(v: dict, ctx: Context, bad: Callable[..., None], *, check_kk: bool = True) -> tuple:
    """The household columns of one row: (kk result, kelurahan, address, rt, rw, desil, release).

    ``check_kk=False``: the caller has checked the KK already (the kk result is then None).
    """
    kelurahan, problem = _kelurahan(v["kelurahan_code"], ctx)
    if problem:
        bad("kelurahan_code", MESSAGES[problem])

    kk_result = None
    if check_kk:
        kk_result = _kk_cache.get(v["kk"]) if isinstance(v["kk"], str | int) else None
        if kk_result is None:
            kk_result = validate_kk(v["kk"], today=ctx.today)
            if isinstance(v["kk"], str | int):
                if len(_kk_cache) > 64:
                    _kk_cache.clear()
                _kk_cache[v["kk"]] = kk_result
        for issue in kk_result.errors:
            bad("kk", issue.message("id"), mask_digits(normalize_number(v["kk"])))

    rt = _small_int(v["rt"], 1, 999)
    rw = _small_int(v["rw"], 1, 999)
    if rt == "bad":
        bad("rt", MESSAGES["rt_rw"])
    if rw == "bad":
        bad("rw", MESSAGES["rt_rw"])
    desil = _small_int(v["desil"], 1, 10)
    if desil == "bad":
        bad("desil", MESSAGES["desil"])
    release = _text(v["release"])
    if isinstance(desil, int) and not release:
        bad("release", MESSAGES["release_missing"], "")
    if release and len(release) > 32:
        bad("release", MESSAGES["release_long"])
    address = _text(v["address"])
    if address and len(address) > 300:
        bad("address", MESSAGES["address_long"], address[:40])
    return kk_result, kelurahan, address, rt, rw, desil, release


def _birth_date(value: object, ctx: Context, bad: Callable[..., None]) -> date | None:
    born = None
    if value is not None and _text(value):
        born = parse_date(value)
        if born is None:
            bad("birth_date", MESSAGES["date"])
        elif born > ctx.today:
            bad("birth_date", MESSAGES["date_future"], born.isoformat())
            born = None
        elif born.year < 1900:
            bad("birth_date", MESSAGES["date_old"], born.isoformat())
            born = None
    return born


def _person_attributes(v: dict, ctx: Context, bad: Callable[..., None]) -> tuple:
    """(sex, relation, codes, income, disability, flags) of one row; problems go to *bad*."""
    sex = None
    if _text(v["sex"]):
        sex = _code(_text(v["sex"]), SEX_CODES)
        if sex is None:
            bad("sex", MESSAGES["sex"])
    relation = None
    if _text(v["relation"]):
        relation = _code(_text(v["relation"]), RELATION_CODES)
        if relation is None:
            bad("relation", MESSAGES["relation"])

    codes: dict[str, object] = {}
    for name_ in ("marital_status", "school_participation", "education_level", "work_status", "work_sector"):
        text = _text(v[name_])
        codes[name_] = None
        if text:
            code = _code(text, ctx.codelists[name_])
            if code is None:
                bad(name_, MESSAGES["code"].format(codes=", ".join(dict.fromkeys(ctx.codelists[name_].values()))))
            codes[name_] = code
    disability = None
    text = _text(v["disability_types"])
    if text and header_key(text) not in ("tidak", "tidak_ada", "0", "none"):
        parts = [p for p in _SPLIT.split(text) if p.strip()]
        mapped = [_code(p, ctx.codelists["disability_types"]) for p in parts]
        if any(m is None for m in mapped):
            bad("disability_types", MESSAGES["code"].format(codes=", ".join(dict.fromkeys(
                ctx.codelists["disability_types"].values()))))
        else:
            disability = json.dumps(list(dict.fromkeys(mapped)))
    income = None
    text = _text(v["monthly_income"])
    if text:
        cleaned = _MONEY_NOISE.sub("", text)
        if cleaned.isdigit() and int(cleaned) <= 1_000_000_000:
            income = int(cleaned)
        else:
            bad("monthly_income", MESSAGES["income"])
    flags: dict[str, bool | None] = {}
    for name_ in ("chronic_illness", "pregnant"):
        text = _text(v[name_])
        flags[name_] = None
        if text:
            flag = _code(text, BOOL_CODES)
            if flag is None:
                bad(name_, MESSAGES["bool"])
            flags[name_] = flag
    if flags["pregnant"] and sex == "L":
        bad("pregnant", MESSAGES["pregnant_male"])
    return sex, relation, codes, income, disability, flags


def check_row(row_no: int, raw: list, ctx: Context, sealer: _Sealer,
              errors: list, timing: list[float]) -> tuple | None:
    """One file row → a staging tuple (in STAGE_COLUMNS order), or None when its KK is unusable.

    The reference path: every check, every message. :func:`fast_row` gives the same staged row for
    the rows that pass every check, cheaper, and hands anything else back to this function.
    """
    values = [raw[i] if i is not None and i < len(raw) else None for i in ctx.index]
    v = dict(zip(FIELD_ORDER, values, strict=True))
    found: list[tuple[str, str, str]] = []   # (field, shown value, message)

    def bad(name: str, message: str, shown: object = None) -> None:
        found.append((name, _text(v.get(name)) if shown is None else str(shown), message))

    for name in REQUIRED:
        blank = v[name] is None or (isinstance(v[name], str) and not v[name].strip())
        if blank and name not in ("kk", "nik"):
            bad(name, MESSAGES["required"], "")

    kk_result, kelurahan, address, rt, rw, desil, release = _household_fields(v, ctx, bad)
    kk = kk_result.value if kk_result.ok else None

    name = _text(v["name"])
    if name and len(name) > 200:
        bad("name", MESSAGES["name_long"], name[:40])
    born = _birth_date(v["birth_date"], ctx, bad)
    sex, relation, codes, income, disability, flags = _person_attributes(v, ctx, bad)

    nik = None
    nik_raw = v["nik"]
    nik_result = validate_nik(nik_raw, today=ctx.today, sex=sex, birth_date=born)
    for issue in nik_result.errors:
        bad("nik", issue.message("id"), mask_digits(normalize_number(nik_raw)))
    if nik_result.ok:
        nik = nik_result.value

    for name_, shown, message in found:
        errors.append((row_no, ctx.headers.get(name_, COLUMNS[name_][0]), shown, message))
    if kk is None:
        return None
    started = time.perf_counter()
    # Members of one household follow each other: their KK is sealed once.
    sealed_kk = _sealed_kk.get(kk)
    if sealed_kk is None:
        _sealed_kk.clear()
        sealed_kk = _sealed_kk[kk] = sealer.seal(kk, "kk")
    kk_ct, kk_hash = sealed_kk
    if found or nik is None:
        timing[1] += time.perf_counter() - started
        return (row_no, False, kk_hash) + (None,) * (len(STAGE_COLUMNS) - 3)
    nik_ct, nik_hash = sealer.seal(nik, "nik")
    timing[1] += time.perf_counter() - started
    return (
        row_no, True, kk_hash, kk_ct, mask_digits(kk), kelurahan, address, rt, rw, desil, release,
        _household_signature(kelurahan, address, rt, rw, desil, release), nik_hash, nik_ct, mask_digits(nik),
        name, sex, born, relation.value if isinstance(relation, Relation) else None,
        codes["marital_status"], codes["school_participation"], codes["education_level"], codes["work_status"],
        codes["work_sector"], income, disability, flags["chronic_illness"], flags["pregnant"],
    )


def _household_signature(kelurahan, address, rt, rw, desil, release) -> str:
    signature = f"{kelurahan}|{address}|{rt}|{rw}|{desil}|{release}"
    return hashlib.blake2b(signature.encode(), digest_size=8).hexdigest()
