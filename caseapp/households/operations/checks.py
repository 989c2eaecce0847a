"""Checks on household and member input, the code lists they use, and duplicate NIK/KK look-ups.

Every check adds to a :class:`Problems` map (``{field: [messages]}``) instead of raising, so an
operation can report all problems at once. Messages are Indonesian msgids; NIK/KK messages come
from :mod:`caseapp.households.identity` in the request's language. None ever holds a full number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseapp.agencies.models import Region, RegionLevel
from caseapp.auth.models import User
from caseapp.core.errors import Conflict
from caseapp.core.identifiers import lookup_hash
from caseapp.core.models import utcnow
from caseapp.households.identity import validate_kk, validate_nik
from caseapp.households.models import Household, HouseholdKK, Person, Relation, Sex
from caseapp.households.queries import household_scope

JAKARTA = ZoneInfo("Asia/Jakarta")
CODELIST_VERSION = "REGSOSEK-2022"
MAX_MEMBERS = 30

# Code lists of the member questions (Regsosek style); the version travels with every answer.
CODE_LISTS: dict[str, dict[str, Any]] = {
    "marital_status": {
        "belum_kawin": _l("Belum kawin"), "kawin": _l("Kawin"),
        "cerai_hidup": _l("Cerai hidup"), "cerai_mati": _l("Cerai mati"),
    },
    "education_level": {
        "tidak_sekolah": _l("Tidak/belum sekolah"), "sd": _l("SD/sederajat"), "smp": _l("SMP/sederajat"),
        "sma": _l("SMA/SMK/sederajat"), "d3_s1": _l("Diploma/S1 ke atas"),
    },
    "school_participation": {
        "sekolah": _l("Masih sekolah"), "putus_sekolah": _l("Putus sekolah"),
        "tidak_sekolah": _l("Tidak pernah sekolah"),
    },
    "work_status": {
        "bekerja": _l("Bekerja"), "tidak_bekerja": _l("Tidak bekerja"),
        "mengurus_rumah_tangga": _l("Mengurus rumah tangga"), "sekolah": _l("Sekolah"),
    },
    "work_sector": {
        "buruh": _l("Buruh"), "dagang": _l("Dagang"), "jasa": _l("Jasa"), "industri": _l("Industri"),
        "pertanian": _l("Pertanian"), "lainnya": _l("Lainnya"),
    },
    "disability_types": {
        "fisik": _l("Fisik"), "netra": _l("Netra"), "rungu": _l("Rungu"), "wicara": _l("Wicara"),
        "mental": _l("Mental"), "intelektual": _l("Intelektual"),
    },
}
RELATION_LABELS: dict[Relation, Any] = {
    Relation.HEAD: _l("Kepala keluarga"), Relation.SPOUSE: _l("Suami/istri"), Relation.CHILD: _l("Anak"),
    Relation.CHILD_IN_LAW: _l("Menantu"), Relation.GRANDCHILD: _l("Cucu"), Relation.PARENT: _l("Orang tua"),
    Relation.PARENT_IN_LAW: _l("Mertua"), Relation.OTHER_RELATIVE: _l("Famili lain"),
    Relation.HOUSEHOLD_HELP: _l("Pembantu rumah tangga"), Relation.OTHER: _l("Lainnya"),
}
SEX_LABELS: dict[Sex, Any] = {Sex.MALE: _l("Laki-laki"), Sex.FEMALE: _l("Perempuan")}
# Why a family card number changed (DOMAIN.md §4): stored with the new HouseholdKK row.
KK_CHANGE_REASONS: dict[str, Any] = {
    "moved": _l("Pindah alamat"), "head_died": _l("Kepala keluarga meninggal"), "divorce": _l("Perceraian"),
    "split": _l("Pecah KK"), "correction": _l("Perbaikan data oleh Dukcapil"), "other": _l("Lainnya"),
}

# Why a KK history row started, for display: the change reasons plus how first rows came in.
KK_HISTORY_LABELS: dict[str, Any] = {
    "initial": _l("Data awal (impor)"), "registered": _l("Saat didaftarkan"),
    "dtsen_update": _l("Pembaruan dari impor DTSEN"), **KK_CHANGE_REASONS,
}
# Housing survey answers (DOMAIN.md §5, Regsosek style), for display.
HOUSING_LABELS: dict[str, dict[str, Any]] = {
    "tenure": {"milik_sendiri": _l("Milik sendiri"), "sewa": _l("Sewa/kontrak"), "numpang": _l("Menumpang")},
    "material": {
        "genteng": _l("Genteng"), "seng": _l("Seng"), "asbes": _l("Asbes"), "rumbia": _l("Rumbia/ijuk"),
        "tembok": _l("Tembok"), "kayu": _l("Kayu/papan"), "bambu": _l("Bambu"), "keramik": _l("Keramik"),
        "semen": _l("Semen/plester"), "tanah": _l("Tanah"),
    },
    "condition": {"baik": _l("baik"), "rusak": _l("rusak")},
    "toilet": {"sendiri": _l("Milik sendiri"), "bersama": _l("Bersama"), "tidak_ada": _l("Tidak ada")},
    "sewage": {"tangki_septik": _l("Tangki septik"), "lubang_tanah": _l("Lubang tanah"),
               "sungai": _l("Sungai/selokan")},
    "water_source": {
        "sumur_bor": _l("Sumur bor/pompa"), "sumur_terlindung": _l("Sumur terlindung"),
        "ledeng_meter": _l("Ledeng PDAM (meteran)"), "isi_ulang": _l("Air isi ulang"),
        "sumur_tak_terlindung": _l("Sumur tak terlindung"),
    },
    "lighting": {"pln_meter": _l("Listrik PLN dengan meteran"), "pln_tanpa_meter": _l("Listrik PLN tanpa meteran"),
                 "non_pln": _l("Listrik non-PLN")},
    "land_proof": {"shm": _l("Sertifikat hak milik (SHM)"), "girik": _l("Girik/letter C"),
                   "tidak_ada": _l("Tidak ada")},
    "assets": {"tabung_gas_3kg": _l("Tabung gas 3 kg"), "sepeda_motor": _l("Sepeda motor"),
               "televisi": _l("Televisi"), "kulkas": _l("Kulkas"), "emas": _l("Emas/perhiasan")},
}

MEMBER_FIELDS = (
    "nik", "name", "sex", "birth_date", "relation", "marital_status", "education_level", "school_participation",
    "work_status", "work_sector", "monthly_income", "disability_types", "chronic_illness", "pregnant",
)
ADDRESS_FIELDS = ("address", "rw", "rt", "latitude", "longitude")
HOUSEHOLD_FIELDS = ("kk_number", "kelurahan_code", *ADDRESS_FIELDS, "desil", "desil_release", "members")
REQUIRED_MEMBER_FIELDS = ("name", "sex", "birth_date", "relation")


class DuplicateNumber(Conflict):
    """A NIK or KK that is already in the register.

    ``household_id`` is set only when the actor may see that household; otherwise the message says
    only that it lies outside their area (scope is never confirmed or located).
    """

    def __init__(self, message: str, fields: dict[str, list[str]], household_id: int | None = None) -> None:
        super().__init__(message, fields)
        self.household_id = household_id


class Problems(dict):
    """field → messages, in the order found."""

    def add(self, field: str, message: object) -> None:
        self.setdefault(field, []).append(str(message))


def today_jakarta() -> date:
    """Today's date in Kota Kediri (validity dates of KK rows are local calendar days)."""
    return utcnow().astimezone(JAKARTA).date()


def request_locale() -> str:
    locale = get_locale()
    return str(locale) if locale else "id"


def blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def kecamatan_of(kelurahan_code: str) -> str:
    return kelurahan_code.rsplit(".", 1)[0]


# --- field cleaning --------------------------------------------------------------------------

def clean_int(value: object, field: str, problems: Problems, low: int, high: int, message: str) -> int | None:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        problems.add(field, message)
        return None
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        problems.add(field, message)
        return None
    if not low <= number <= high:
        problems.add(field, message)
        return None
    return number


def clean_date(value: object, field: str, problems: Problems, today: date) -> date | None:
    if isinstance(value, date):
        born = value
    else:
        try:
            born = date.fromisoformat(str(value).strip())
        except ValueError:
            problems.add(field, _("Tanggal lahir tidak terbaca. Tulis dengan format TTTT-BB-HH, "
                                  "misalnya 1980-05-17."))
            return None
    if born > today:
        problems.add(field, _("Tanggal lahir tidak boleh di masa depan."))
        return None
    if born.year < 1900:
        problems.add(field, _("Tanggal lahir terlalu lama (sebelum 1900). Periksa tahunnya."))
        return None
    return born


def clean_coordinate(value: object, field: str, problems: Problems, limit: int) -> Decimal | None:
    if blank(value):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or not -limit <= number <= limit:
        problems.add(field, _("Koordinat harus angka desimal antara -%(limit)s dan %(limit)s, "
                              "misalnya -7.8123.", limit=limit))
        return None
    return number.quantize(Decimal("0.000001"))


def clean_bool(value: object, field: str, problems: Problems) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    problems.add(field, _("Pilih ya atau tidak."))
    return None


def clean_address(data: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """address, rw, rt, latitude, longitude, only the keys present in *data*."""
    cleaned: dict[str, Any] = {}
    if "address" in data:
        address = data["address"].strip() if isinstance(data["address"], str) else ""
        if not address:
            problems.add("address", _("Isi alamat: nama jalan/gang dan nomor rumah."))
        elif len(address) > 300:
            problems.add("address", _("Alamat paling banyak 300 karakter."))
        else:
            cleaned["address"] = address
    for name, label in (("rw", "RW"), ("rt", "RT")):
        if name not in data:
            continue
        if blank(data[name]):
            problems.add(name, _("Isi nomor %(label)s (1 sampai 999).", label=label))
        else:
            cleaned[name] = clean_int(data[name], name, problems, 1, 999,
                                       _("%(label)s harus angka 1 sampai 999.", label=label))
    if "latitude" in data:
        cleaned["latitude"] = clean_coordinate(data["latitude"], "latitude", problems, 90)
    if "longitude" in data:
        cleaned["longitude"] = clean_coordinate(data["longitude"], "longitude", problems, 180)
    if ("latitude" in data or "longitude" in data) and (
        (cleaned.get("latitude") is None) != (cleaned.get("longitude") is None)
        and not (set(problems) & {"latitude", "longitude"})
    ):
        problems.add("latitude", _("Isi lintang dan bujur bersama-sama, atau kosongkan keduanya."))
    return cleaned


def clean_member(
    data: Mapping[str, Any], prefix: str, problems: Problems, warnings: Problems, *,
    kecamatan_code: str | None, today: date, partial: bool = False,
) -> dict[str, Any]:
    """Check one member; *prefix* names its fields (``members[1].``). Returns the cleaned values.

    With *partial*, only the keys present are checked (an update); otherwise the required ones
    must be there. ``nik`` comes back normalised (or None when not given).
    """
    cleaned: dict[str, Any] = {}

    def f(name: str) -> str:
        return f"{prefix}{name}"

    for name in data:
        if name not in MEMBER_FIELDS:
            problems.add(f(name), _("Kolom ini tidak dikenal."))
    if not partial:
        for name in REQUIRED_MEMBER_FIELDS:
            if blank(data.get(name)):
                problems.add(f(name), {
                    "name": _("Isi nama sesuai KTP atau KK."),
                    "sex": _("Pilih jenis kelamin: L (laki-laki) atau P (perempuan)."),
                    "birth_date": _("Isi tanggal lahir sesuai KTP atau KK."),
                    "relation": _("Pilih hubungan dengan kepala keluarga."),
                }[name])

    if not blank(data.get("name")):
        name = " ".join(str(data["name"]).split())
        if len(name) > 200:
            problems.add(f("name"), _("Nama paling banyak 200 karakter."))
        else:
            cleaned["name"] = name
    if not blank(data.get("sex")):
        sex = str(data["sex"]).strip().upper()
        if sex in {s.value for s in Sex}:
            cleaned["sex"] = Sex(sex)
        else:
            problems.add(f("sex"), _("Pilih jenis kelamin: L (laki-laki) atau P (perempuan)."))
    if not blank(data.get("birth_date")):
        cleaned["birth_date"] = clean_date(data["birth_date"], f("birth_date"), problems, today)
    if not blank(data.get("relation")):
        try:
            cleaned["relation"] = Relation(str(data["relation"]).strip())
        except ValueError:
            problems.add(f("relation"), _("Hubungan dengan kepala keluarga tidak dikenal. Pilih dari daftar."))

    for name, codes in CODE_LISTS.items():
        if name not in data:
            continue
        value = data[name]
        if name == "disability_types":
            if value is None or value == [] or value == ():
                cleaned[name] = None
            elif isinstance(value, list | tuple) and all(isinstance(v, str) and v in codes for v in value):
                cleaned[name] = list(dict.fromkeys(value))
            else:
                problems.add(f(name), _("Jenis disabilitas tidak dikenal. Pilih dari: %(codes)s.",
                                        codes=", ".join(codes)))
        elif blank(value):
            cleaned[name] = None
        elif isinstance(value, str) and value.strip() in codes:
            cleaned[name] = value.strip()
        else:
            problems.add(f(name), _("Pilihan tidak dikenal. Pilih salah satu: %(codes)s.", codes=", ".join(codes)))

    if "monthly_income" in data:
        if blank(data["monthly_income"]):
            cleaned["monthly_income"] = None
        else:
            cleaned["monthly_income"] = clean_int(
                data["monthly_income"], f("monthly_income"), problems, 0, 1_000_000_000,
                _("Penghasilan per bulan harus angka rupiah tanpa titik, misalnya 1500000."))
    for name in ("chronic_illness", "pregnant"):
        if name in data:
            cleaned[name] = clean_bool(data[name], f(name), problems)
    if cleaned.get("pregnant") and cleaned.get("sex", data.get("sex")) == Sex.MALE:
        problems.add(f("pregnant"), _("Hanya anggota perempuan yang dapat tercatat hamil."))

    if not blank(data.get("nik")):
        result = validate_nik(
            data["nik"], today=today, kecamatan_code=kecamatan_code,
            sex=str(cleaned["sex"]) if cleaned.get("sex") else None, birth_date=cleaned.get("birth_date"),
        )
        locale = request_locale()
        for issue in result.errors:
            problems.add(f("nik"), issue.message(locale))
        for issue in result.warnings:
            warnings.add(f("nik"), issue.message(locale))
        cleaned["nik"] = result.value if result.ok else None
    elif "nik" in data:
        cleaned["nik"] = None
    return cleaned


def clean_kk(raw: object, field: str, problems: Problems, warnings: Problems, *,
              kecamatan_code: str | None, today: date) -> str | None:
    result = validate_kk(raw, today=today, kecamatan_code=kecamatan_code)
    locale = request_locale()
    for issue in result.errors:
        problems.add(field, issue.message(locale))
    for issue in result.warnings:
        warnings.add(field, issue.message(locale))
    return result.value if result.ok else None


def kelurahan_region(session: Session, code: object) -> Region | None:
    if not isinstance(code, str) or not code.strip():
        return None
    region = session.get(Region, code.strip())
    return region if region is not None and region.level == RegionLevel.KELURAHAN else None


def area_name(actor: User, session: Session) -> str:
    code = actor.kelurahan_code or actor.kecamatan_code
    region = session.get(Region, code) if code else None
    return region.name if region is not None else _("wilayah tugas Anda")


# --- duplicates ------------------------------------------------------------------------------

def household_of_nik(session: Session, nik: str) -> int | None:
    return session.scalar(select(Person.household_id).where(Person.nik_hash == lookup_hash(nik, "nik")))


def household_of_kk(session: Session, kk: str) -> int | None:
    """The household holding *kk* now, else the one that held it last (KK history)."""
    kk_hash = lookup_hash(kk, "kk")
    current = session.scalar(select(Household.id).where(Household.kk_hash == kk_hash))
    if current is not None:
        return current
    return session.scalar(
        select(HouseholdKK.household_id).where(HouseholdKK.kk_hash == kk_hash)
        .order_by(HouseholdKK.valid_from.desc(), HouseholdKK.id.desc()).limit(1)
    )


def in_scope(session: Session, actor: User, household_id: int) -> bool:
    found = session.scalar(select(Household.id).where(Household.id == household_id, household_scope(actor)))
    return found is not None


def kelurahan_name_of(session: Session, household_id: int) -> str:
    household = session.get(Household, household_id)
    region = session.get(Region, household.kelurahan_code) if household is not None else None
    return region.name if region is not None else "?"


def duplicate_message(session: Session, actor: User, household_id: int, *, what: str,
                       member_number: int | None = None) -> tuple[str, bool]:
    """The message naming the household that already holds a number, and whether it may be named."""
    if in_scope(session, actor, household_id):
        params = {"id": household_id, "kelurahan": kelurahan_name_of(session, household_id)}
        if what == "kk":
            return _("Nomor KK sudah terdaftar di rumah tangga #%(id)s (Kel. %(kelurahan)s).", **params), True
        if member_number is not None:
            return _("NIK anggota ke-%(n)s sudah terdaftar di rumah tangga #%(id)s (Kel. %(kelurahan)s).",
                     n=member_number, **params), True
        return _("NIK ini sudah terdaftar di rumah tangga #%(id)s (Kel. %(kelurahan)s).", **params), True
    if what == "kk":
        return _("Nomor KK sudah terdaftar di rumah tangga di luar wilayah Anda. Hubungi penyelia Anda "
                 "untuk menindaklanjutinya."), False
    if member_number is not None:
        return _("NIK anggota ke-%(n)s sudah terdaftar di rumah tangga di luar wilayah Anda. Hubungi "
                 "penyelia Anda untuk menindaklanjutinya.", n=member_number), False
    return _("NIK ini sudah terdaftar di rumah tangga di luar wilayah Anda. Hubungi penyelia Anda "
             "untuk menindaklanjutinya."), False


def raise_duplicates(found: list[tuple[str, str, int | None]]) -> None:
    """*found*: (field, message, household id if nameable). Raises when anything was found."""
    if not found:
        return
    fields: dict[str, list[str]] = {}
    for field, message, _hid in found:
        fields.setdefault(field, []).append(message)
    nameable = next((hid for _f, _m, hid in found if hid is not None), None)
    raise DuplicateNumber(" ".join(dict.fromkeys(m for _f, m, _h in found)), fields, household_id=nameable)


def race_conflict() -> Conflict:
    return Conflict(_("NIK atau nomor KK ini baru saja didaftarkan orang lain. Cari nomornya lalu coba lagi."))
