"""Validation of Indonesian NIK (personal ID) and KK (family card) numbers.

Standard library only, so the web app, CLI importers and background workers can all import it
without pulling in Flask. We do not use python-stdnum: it resolves two-digit years to the wrong
century (a 2005 birth becomes 1905) and cannot give bilingual, plain-language messages.

Messages end up in import reports and logs, so issue params never carry the full number.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Generic, TypeVar

from caseapp.core.masking import mask_digits

# Kemendagri province codes (38 provinces, including the 2022 Papua splits 93-96).
_PROVINCES = (
    "11 12 13 14 15 16 17 18 19 21 31 32 33 34 35 36 51 52 53 61 62 63 64 65 "
    "71 72 73 74 75 76 81 82 91 92 93 94 95 96"
)
PROVINCE_CODES: frozenset[str] = frozenset(_PROVINCES.split())
_EAST_JAVA = "35"
# East Java: 29 regencies (35.01-35.29) and 9 cities (35.71-35.79).
_EAST_JAVA_CITIES = frozenset(f"{n:02d}" for n in [*range(1, 30), *range(71, 80)])
_KOTA_KEDIRI = "71"
# Kota Kediri: 01 Mojoroto, 02 Kota, 03 Pesantren. The only kecamatan list we hold.
_KEDIRI_KECAMATAN = frozenset({"01", "02", "03"})

_SEPARATORS = re.compile(r"[\s.\-]+")
# How Excel shows a long number in a cell formatted as Number (id-ID locales use a comma).
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+")
_ASCII_DIGITS = frozenset("0123456789")
_FEMALE_DAY_OFFSET = 40

# Full sentences, no fragments spliced in, so translators can edit each one on its own.
MESSAGES: dict[str, tuple[str, str]] = {
    "nik_empty": (
        "NIK belum diisi. Salin 16 angka NIK dari KTP atau KK.",
        "NIK is missing. Copy the 16-digit NIK from the ID card or family card."),
    "nik_excel_format": (
        "NIK tertulis sebagai angka ilmiah (mis. 3,57E+15): sel ini kemungkinan berformat Angka di Excel "
        "sehingga digit terakhir hilang. Ubah format kolom menjadi Teks, lalu ketik ulang NIK dari KTP.",
        "The NIK looks like scientific notation (e.g. 3.57E+15): the cell was probably formatted as a "
        "number in Excel, which loses the last digits. Format the column as Text and retype the NIK "
        "from the ID card."),
    "nik_not_digits": (
        "NIK hanya boleh berisi angka, tetapi ada tanda lain: {chars}. Periksa kembali dari KTP atau KK.",
        "NIK may contain only digits, but it contains: {chars}. "
        "Check it against the ID card or family card."),
    "nik_length": (
        "NIK harus 16 angka; yang diisi {count} angka. Periksa kembali dari KTP atau KK.",
        "NIK must be 16 digits; {count} were entered. Check it against the ID card or family card."),
    "nik_province": (
        "Dua angka pertama NIK ({province}) bukan kode provinsi. Periksa kembali dari KTP atau KK.",
        "The first two digits of the NIK ({province}) are not a province code. "
        "Check it against the ID card or family card."),
    "nik_day": (
        "Angka ke-7 dan ke-8 NIK ({day}) harus tanggal lahir: 01-31 untuk laki-laki, 41-71 untuk perempuan "
        "(tanggal + 40). Periksa kembali dari KTP atau KK.",
        "Digits 7-8 of the NIK ({day}) must be the day of birth: 01-31 for men, 41-71 for women (day + 40). "
        "Check it against the ID card or family card."),
    "nik_month": (
        "Angka ke-9 dan ke-10 NIK ({month}) harus bulan lahir, 01-12. Periksa kembali dari KTP atau KK.",
        "Digits 9-10 of the NIK ({month}) must be the month of birth, 01-12. "
        "Check it against the ID card or family card."),
    "nik_date": (
        "Tanggal lahir di NIK ({date}) tidak mungkin: tanggal itu tidak ada di kalender atau belum terjadi. "
        "Periksa kembali dari KTP atau KK.",
        "The birth date in the NIK ({date}) is impossible: that date does not exist or is in the future. "
        "Check it against the ID card or family card."),
    "nik_serial": (
        "Empat angka terakhir NIK tidak boleh 0000. Periksa kembali dari KTP atau KK.",
        "The last four digits of the NIK cannot be 0000. Check it against the ID card or family card."),
    "nik_city_unknown": (
        "Kode kabupaten/kota di NIK ({region}) tidak ada di daftar kami. NIK tetap diterima (mungkin kode "
        "lama sebelum pemekaran wilayah), tetapi periksa angkanya.",
        "The regency/city code in the NIK ({region}) is not in our list. The NIK is accepted (it may be an "
        "old code from before a region split), but check the digits."),
    "nik_kecamatan_unknown": (
        "Kode kecamatan di NIK ({region}) bukan kecamatan Kota Kediri saat ini (Mojoroto, Kota, Pesantren). "
        "NIK tetap diterima (mungkin kode lama), tetapi periksa angkanya.",
        "The kecamatan code in the NIK ({region}) is not a current Kota Kediri kecamatan (Mojoroto, Kota, "
        "Pesantren). The NIK is accepted (it may be an old code), but check the digits."),
    "nik_sex_mismatch": (
        "Menurut NIK jenis kelaminnya {nik_sex}, tetapi yang tercatat {recorded_sex} (L = laki-laki, "
        "P = perempuan). Periksa keduanya di KTP.",
        "The NIK says sex {nik_sex}, but {recorded_sex} is recorded (L = male, P = female). "
        "Check both against the ID card."),
    "nik_birth_date_mismatch": (
        "Menurut NIK tanggal lahirnya {nik_date}, tetapi yang tercatat {recorded_date}. "
        "Periksa keduanya di KTP atau KK.",
        "The NIK says the birth date is {nik_date}, but {recorded_date} is recorded. "
        "Check both against the ID card or family card."),
    "nik_address_mismatch": (
        "NIK pertama kali terdaftar di wilayah {number_region}, berbeda dengan kecamatan alamat sekarang "
        "({address_region}). Ini wajar bila orangnya pindah; pastikan alamatnya benar.",
        "The NIK was first registered in area {number_region}, not the kecamatan of the current address "
        "({address_region}). This is normal if the person moved; make sure the address is right."),
    "kk_empty": (
        "Nomor KK belum diisi. Salin 16 angka nomor KK dari kartu keluarga.",
        "The family card (KK) number is missing. Copy the 16-digit number from the family card."),
    "kk_excel_format": (
        "Nomor KK tertulis sebagai angka ilmiah (mis. 3,57E+15): sel ini kemungkinan berformat Angka di "
        "Excel sehingga digit terakhir hilang. Ubah format kolom menjadi Teks, lalu ketik ulang nomor KK.",
        "The family card (KK) number looks like scientific notation (e.g. 3.57E+15): the cell was "
        "probably formatted as a number in Excel, which loses the last digits. Format the column as Text "
        "and retype it."),
    "kk_not_digits": (
        "Nomor KK hanya boleh berisi angka, tetapi ada tanda lain: {chars}. "
        "Periksa kembali dari kartu keluarga.",
        "The family card (KK) number may contain only digits, but it contains: {chars}. "
        "Check it against the family card."),
    "kk_length": (
        "Nomor KK harus 16 angka; yang diisi {count} angka. Periksa kembali dari kartu keluarga.",
        "The family card (KK) number must be 16 digits; {count} were entered. "
        "Check it against the family card."),
    "kk_province": (
        "Dua angka pertama nomor KK ({province}) bukan kode provinsi. Periksa kembali dari kartu keluarga.",
        "The first two digits of the family card (KK) number ({province}) are not a province code. "
        "Check it against the family card."),
    "kk_day": (
        "Angka ke-7 dan ke-8 nomor KK ({day}) harus tanggal pencatatan, 01-31. "
        "Periksa kembali dari kartu keluarga.",
        "Digits 7-8 of the family card (KK) number ({day}) must be the day it was recorded, 01-31. "
        "Check it against the family card."),
    "kk_month": (
        "Angka ke-9 dan ke-10 nomor KK ({month}) harus bulan pencatatan, 01-12. "
        "Periksa kembali dari kartu keluarga.",
        "Digits 9-10 of the family card (KK) number ({month}) must be the month it was recorded, 01-12. "
        "Check it against the family card."),
    "kk_date": (
        "Tanggal pencatatan di nomor KK ({date}) tidak mungkin: tanggal itu tidak ada di kalender atau belum "
        "terjadi. Periksa kembali dari kartu keluarga.",
        "The recording date in the family card (KK) number ({date}) is impossible: that date does not exist "
        "or is in the future. Check it against the family card."),
    "kk_serial": (
        "Empat angka terakhir nomor KK tidak boleh 0000. Periksa kembali dari kartu keluarga.",
        "The last four digits of the family card (KK) number cannot be 0000. "
        "Check it against the family card."),
    "kk_city_unknown": (
        "Kode kabupaten/kota di nomor KK ({region}) tidak ada di daftar kami. Nomor KK tetap diterima "
        "(mungkin kode lama sebelum pemekaran wilayah), tetapi periksa angkanya.",
        "The regency/city code in the family card (KK) number ({region}) is not in our list. It is accepted "
        "(it may be an old code from before a region split), but check the digits."),
    "kk_kecamatan_unknown": (
        "Kode kecamatan di nomor KK ({region}) bukan kecamatan Kota Kediri saat ini (Mojoroto, Kota, "
        "Pesantren). Nomor KK tetap diterima (mungkin kode lama), tetapi periksa angkanya.",
        "The kecamatan code in the family card (KK) number ({region}) is not a current Kota Kediri kecamatan "
        "(Mojoroto, Kota, Pesantren). It is accepted (it may be an old code), but check the digits."),
    "kk_address_mismatch": (
        "Nomor KK diterbitkan di wilayah {number_region}, berbeda dengan kecamatan alamat sekarang "
        "({address_region}). Ini wajar bila keluarganya pindah; pastikan alamatnya benar.",
        "The family card (KK) was issued in area {number_region}, not the kecamatan of the current address "
        "({address_region}). This is normal if the family moved; make sure the address is right."),
}


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class _Params(dict):
    # A missing param must not turn a validation message into a crash in a report.
    def __missing__(self, key: str) -> str:
        return "?"


@dataclass(frozen=True)
class Issue:
    """One problem found in a number; `code` is stable for programs, `message()` is for people."""

    code: str
    severity: Severity
    field: str
    # Excluded from the hash because mappings are unhashable; still compared for equality.
    params: Mapping[str, str] = dataclasses.field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def message(self, locale: str = "id") -> str:
        """Plain-language message: English for "en"/"en_US"/"en-GB", Indonesian for anything else."""
        texts = MESSAGES.get(self.code)
        if texts is None:
            return self.code
        # str() because Flask-Babel hands out Locale objects, whose str() is e.g. "en_US".
        english = str(locale).lower().replace("-", "_").split("_")[0] == "en"
        return texts[1 if english else 0].format_map(_Params(self.params))


# repr=False on the full numbers so an accidental log of a result does not leak them.
@dataclass(frozen=True)
class NikInfo:
    nik: str = dataclasses.field(repr=False)
    province: str
    city: str
    kecamatan: str
    birth_date: date
    sex: str
    serial: str


@dataclass(frozen=True)
class KkInfo:
    kk_number: str = dataclasses.field(repr=False)
    province: str
    city: str
    kecamatan: str
    recorded_on: date
    serial: str


InfoT = TypeVar("InfoT", NikInfo, KkInfo)


@dataclass(frozen=True)
class Result(Generic[InfoT]):
    """Outcome of a validation.

    `value` is the normalised number whenever it is 16 digits (so a form can show it back even
    with errors), else None. `info` is set only when there are no errors.
    """

    value: str | None = dataclasses.field(repr=False)
    info: InfoT | None
    issues: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.WARNING)


def normalize_number(raw: object) -> str:
    """Strip a typed or imported number and remove spaces, dots and hyphens between digit groups.

    Ints are accepted. Scientific notation ("3.57101E+15") and floats are NOT turned into digits:
    the digits Excel rounded away cannot be recovered, so they are returned in that form and then
    fail validation with a message telling the user to format the cell as text.
    """
    if raw is None:
        return ""
    if isinstance(raw, float):
        # pandas/openpyxl give NaN for a blank cell: that is "missing", not "has letters".
        return "" if raw != raw else f"{raw:.5E}"
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    text = str(raw).strip()
    if _SCIENTIFIC.fullmatch(text):
        return text
    return _SEPARATORS.sub("", text)


def _dotted(code6: str) -> str:
    return f"{code6[0:2]}.{code6[2:4]}.{code6[4:6]}"


def _resolve_date(day: int, month: int, yy: int, today: date) -> date | None:
    # The latest century giving a date not after today; assumes today is in 2000-2099.
    for century in (2000, 1900):
        try:
            candidate = date(century + yy, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    return None


def _address_code(kecamatan_code: str) -> str:
    code = _SEPARATORS.sub("", kecamatan_code)
    if len(code) != 6 or not set(code) <= _ASCII_DIGITS:
        raise ValueError(f"kecamatan_code must look like '35.71.02', got {kecamatan_code!r}")
    return code


def _check(raw: object, field: str, prefix: str, female_days: bool, today: date | None,
           kecamatan_code: str | None) -> tuple[str | None, list[Issue], date | None, bool]:
    """Checks shared by NIK and KK; returns (number, issues, date, female)."""
    address = _address_code(kecamatan_code) if kecamatan_code is not None else None
    today = today.date() if isinstance(today, datetime) else today or date.today()

    def issue(code: str, severity: Severity = Severity.ERROR, **params: str) -> Issue:
        return Issue(f"{prefix}_{code}", severity, field, params)

    number = normalize_number(raw)
    if not number:
        return None, [issue("empty")], None, False
    if _SCIENTIFIC.fullmatch(number):
        return None, [issue("excel_format")], None, False
    bad = [c for c in dict.fromkeys(number) if c not in _ASCII_DIGITS]
    if bad:
        # Only the offending characters (at most five), never the number itself.
        return None, [issue("not_digits", chars=", ".join(repr(c) for c in bad[:5]))], None, False
    if len(number) != 16:
        return None, [issue("length", count=str(len(number)))], None, False

    province, city, kecamatan = number[0:2], number[2:4], number[4:6]
    day, month, yy = int(number[6:8]), int(number[8:10]), int(number[10:12])
    issues: list[Issue] = []
    if province not in PROVINCE_CODES:
        issues.append(issue("province", province=province))
    female = female_days and day > _FEMALE_DAY_OFFSET
    if female:
        day -= _FEMALE_DAY_OFFSET
    day_ok, month_ok = 1 <= day <= 31, 1 <= month <= 12
    if not day_ok:
        issues.append(issue("day", day=number[6:8]))
    if not month_ok:
        issues.append(issue("month", month=number[8:10]))
    found = None
    if day_ok and month_ok:
        found = _resolve_date(day, month, yy, today)
        if found is None:
            issues.append(issue("date", date=f"{day:02d}-{month:02d}-{yy:02d}"))
    if number[12:] == "0000":
        issues.append(issue("serial"))
    if issues:
        return number, issues, None, female

    # Warnings only: a code missing from our short lists may just be a region that was split.
    region = f"{province}.{city}"
    if province == _EAST_JAVA and city not in _EAST_JAVA_CITIES:
        issues.append(issue("city_unknown", Severity.WARNING, region=region))
    elif province == _EAST_JAVA and city == _KOTA_KEDIRI and kecamatan not in _KEDIRI_KECAMATAN:
        issues.append(issue("kecamatan_unknown", Severity.WARNING, region=_dotted(number)))
    if address is not None and address != number[:6]:
        issues.append(issue("address_mismatch", Severity.WARNING, number_region=_dotted(number),
                            address_region=_dotted(address)))
    return number, issues, found, female


def validate_nik(raw: object, *, today: date | None = None, sex: str | None = None,
                 birth_date: date | None = None, kecamatan_code: str | None = None) -> Result[NikInfo]:
    """Validate a NIK (PP KK CC DDMMYY SSSS, day + 40 for women).

    `sex` ('L'/'P'), `birth_date` and `kecamatan_code` ('35.71.02') are the recorded values to
    compare with; differences are warnings only. Never raises for any `raw` value; raises
    ValueError only if the caller passes a malformed `sex` or `kecamatan_code`.
    """
    recorded_sex = sex.strip().upper() if sex is not None else None
    if recorded_sex not in (None, "L", "P"):
        raise ValueError(f"sex must be 'L' or 'P', got {sex!r}")
    number, issues, born, female = _check(raw, "nik", "nik", True, today, kecamatan_code)
    if born is None or number is None:
        return Result(number, None, tuple(issues))
    nik_sex = "P" if female else "L"
    if recorded_sex is not None and recorded_sex != nik_sex:
        issues.append(Issue("nik_sex_mismatch", Severity.WARNING, "nik",
                            {"nik_sex": nik_sex, "recorded_sex": recorded_sex}))
    if isinstance(birth_date, datetime):
        birth_date = birth_date.date()
    if birth_date is not None and birth_date != born:
        issues.append(Issue("nik_birth_date_mismatch", Severity.WARNING, "nik",
                            {"nik_date": born.strftime("%d-%m-%Y"),
                             "recorded_date": birth_date.strftime("%d-%m-%Y")}))
    info = NikInfo(number, number[0:2], number[2:4], number[4:6], born, nik_sex, number[12:])
    return Result(number, info, tuple(issues))


def validate_kk(raw: object, *, today: date | None = None,
                kecamatan_code: str | None = None) -> Result[KkInfo]:
    """Validate a family card number (PP KK CC DDMMYY SSSS; recording date, no +40).

    `kecamatan_code` ('35.71.02') is the family's current address; a different issuing area is a
    warning only. Never raises for any `raw` value.
    """
    number, issues, recorded, _ = _check(raw, "kk_number", "kk", False, today, kecamatan_code)
    if recorded is None or number is None:
        return Result(number, None, tuple(issues))
    info = KkInfo(number, number[0:2], number[2:4], number[4:6], recorded, number[12:])
    return Result(number, info, tuple(issues))


def mask_number(number: object) -> str:
    """Mask a NIK/KK for display and logs: "3571********0001"; other lengths keep only the last 4."""
    return mask_digits(normalize_number(number))


def _digits(value: str | int, width: int, name: str) -> str:
    text = f"{value:0{width}d}" if isinstance(value, int) else str(value)
    if len(text) != width or not set(text) <= _ASCII_DIGITS:
        raise ValueError(f"{name} must be {width} digits, got {value!r}")
    return text


def _prefix(province: str | int, city: str | int, kecamatan: str | int) -> str:
    return _digits(province, 2, "province") + _digits(city, 2, "city") + _digits(kecamatan, 2, "kecamatan")


def build_nik(province: str | int, city: str | int, kecamatan: str | int, birth_date: date, sex: str,
              serial: str | int) -> str:
    """Assemble a NIK from its parts (inverse of validate_nik).

    Only the shape is checked, so tests can build deliberately invalid numbers; run validate_nik
    on the result to judge it.
    """
    if sex not in ("L", "P"):
        raise ValueError(f"sex must be 'L' or 'P', got {sex!r}")
    day = birth_date.day + (_FEMALE_DAY_OFFSET if sex == "P" else 0)
    date_part = f"{day:02d}{birth_date:%m}{birth_date.year % 100:02d}"
    return _prefix(province, city, kecamatan) + date_part + _digits(serial, 4, "serial")


def build_kk(province: str | int, city: str | int, kecamatan: str | int, recorded_on: date,
             serial: str | int) -> str:
    """Assemble a family card number from its parts; shape-checked only, like build_nik."""
    date_part = f"{recorded_on:%d%m}{recorded_on.year % 100:02d}"
    return _prefix(province, city, kecamatan) + date_part + _digits(serial, 4, "serial")
