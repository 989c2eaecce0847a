"""The DTSEN-style file layout: Indonesian headers → register fields, and the code lists of each column.

One row per person; the household columns (KK, kelurahan, address, RT, RW, desil, release) repeat on
every member's row. Headers are matched case-insensitively with spaces, dots, slashes and hyphens
read as underscores, so ``No. KK``, ``NO_KK`` and ``no kk`` are the same column. docs/import-format.md
documents this table; keep them together.
"""

from __future__ import annotations

import re

from caseapp.households.models import Relation

# field → (header as written in our template, other spellings seen in DTSEN/DTKS/P3KE exports)
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "kk": ("NO_KK", ("nomor_kk", "no_kartu_keluarga", "kk", "nokk")),
    "kelurahan_code": ("KODE_KELURAHAN", ("kode_desa", "kode_kel", "kd_kel", "kode_wilayah", "kdkel")),
    "address": ("ALAMAT", ("alamat_rumah",)),
    "rt": ("RT", ()),
    "rw": ("RW", ()),
    "desil": ("DESIL", ("desil_nasional", "peringkat_desil")),
    "release": ("RILIS", ("rilis_dtsen", "periode", "versi_data")),
    "nik": ("NIK", ("no_nik", "nomor_nik", "nik_art")),
    "name": ("NAMA", ("nama_lengkap", "nama_art")),
    "sex": ("JENIS_KELAMIN", ("jk", "jenis_kel", "kelamin")),
    "birth_date": ("TANGGAL_LAHIR", ("tgl_lahir", "tanggal_lhr")),
    "relation": ("HUBUNGAN_KK", ("hub_kk", "hubungan_dengan_kepala_keluarga", "shdk", "hubungan")),
    "marital_status": ("STATUS_KAWIN", ("sts_kawin", "status_perkawinan")),
    "school_participation": ("PARTISIPASI_SEKOLAH", ("partisipasi_sekolah", "status_sekolah")),
    "education_level": ("PENDIDIKAN", ("pendidikan_tertinggi", "ijazah_tertinggi")),
    "work_status": ("STATUS_PEKERJAAN", ("status_bekerja", "sts_kerja")),
    "work_sector": ("LAPANGAN_USAHA", ("sektor_pekerjaan", "lapangan_pekerjaan")),
    "monthly_income": ("PENGHASILAN", ("penghasilan_bulan", "pendapatan")),
    "disability_types": ("DISABILITAS", ("jenis_disabilitas", "jenis_cacat")),
    "chronic_illness": ("PENYAKIT_KRONIS", ("sakit_kronis",)),
    "pregnant": ("HAMIL", ("sedang_hamil",)),
}
REQUIRED = ("kk", "kelurahan_code", "nik", "name", "sex", "birth_date", "relation")
FIELD_ORDER = tuple(COLUMNS)

_HEADER_SEPARATORS = re.compile(r"[\s.\-/]+")


def header_key(text: object) -> str:
    return _HEADER_SEPARATORS.sub("_", str(text or "").strip().lower()).strip("_")


_ALIASES: dict[str, str] = {}
for _field, (_header, _others) in COLUMNS.items():
    for _name in (_header, _field, *_others):
        _ALIASES[header_key(_name)] = _field


def field_of(header: object) -> str | None:
    return _ALIASES.get(header_key(header))


# Relation codes as printed on the KK (SHDK): 1 kepala keluarga … 10 lainnya.
RELATION_CODES: dict[str, Relation] = {
    "1": Relation.HEAD, "kepala_keluarga": Relation.HEAD, "kepala_rumah_tangga": Relation.HEAD, "krt": Relation.HEAD,
    "2": Relation.SPOUSE, "istri": Relation.SPOUSE, "suami": Relation.SPOUSE, "suami_istri": Relation.SPOUSE,
    "3": Relation.CHILD, "anak": Relation.CHILD,
    "4": Relation.CHILD_IN_LAW, "menantu": Relation.CHILD_IN_LAW,
    "5": Relation.GRANDCHILD, "cucu": Relation.GRANDCHILD,
    "6": Relation.PARENT, "orang_tua": Relation.PARENT, "orangtua": Relation.PARENT,
    "7": Relation.PARENT_IN_LAW, "mertua": Relation.PARENT_IN_LAW,
    "8": Relation.OTHER_RELATIVE, "famili_lain": Relation.OTHER_RELATIVE,
    "9": Relation.HOUSEHOLD_HELP, "pembantu": Relation.HOUSEHOLD_HELP,
    "pembantu_rumah_tangga": Relation.HOUSEHOLD_HELP,
    "10": Relation.OTHER, "lainnya": Relation.OTHER,
}
for _relation in Relation:
    RELATION_CODES.setdefault(_relation.value, _relation)

SEX_CODES = {"1": "L", "L": "L", "l": "L", "laki_laki": "L", "lk": "L",
             "2": "P", "P": "P", "p": "P", "perempuan": "P", "pr": "P"}
BOOL_CODES = {"1": True, "ya": True, "y": True, "true": True, "2": False, "0": False, "tidak": False, "t": False,
              "false": False}

# Numeric codes of the code lists (the order of caseapp.households.operations.checks.CODE_LISTS) plus
# the codes themselves and their label words: ``2``, ``kawin`` and ``Kawin`` are the same answer.
CODE_LIST_VALUES: dict[str, tuple[str, ...]] = {
    "marital_status": ("belum_kawin", "kawin", "cerai_hidup", "cerai_mati"),
    "education_level": ("tidak_sekolah", "sd", "smp", "sma", "d3_s1"),
    "school_participation": ("sekolah", "putus_sekolah", "tidak_sekolah"),
    "work_status": ("bekerja", "tidak_bekerja", "mengurus_rumah_tangga", "sekolah"),
    "work_sector": ("buruh", "dagang", "jasa", "industri", "pertanian", "lainnya"),
    "disability_types": ("fisik", "netra", "rungu", "wicara", "mental", "intelektual"),
}


def code_map(values: tuple[str, ...]) -> dict[str, str]:
    mapping = {str(i): v for i, v in enumerate(values, start=1)}
    mapping.update({v: v for v in values})
    return mapping


CODE_MAPS: dict[str, dict[str, str]] = {name: code_map(values) for name, values in CODE_LIST_VALUES.items()}
