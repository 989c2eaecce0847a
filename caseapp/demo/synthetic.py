"""Synthetic poor households (DTSEN / Regsosek style) for demos and load tests.

Pure: no database, no Flask. Household *i* is drawn from its own ``random.Random(f"sinergi-demo-{i}")``,
so the same index always describes the same family. The only state shared between households are
the NIK and KK serials, handed out in order per area and date (as Dukcapil does); that keeps every
number unique and the output deterministic because :func:`generate_households` always starts at 0.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate

from caseapp.households.identity import build_kk, build_nik
from caseapp.households.models import Relation, Sex

# Ages and numbers are fixed against this date, not the clock, so the data never drifts.
REFERENCE_DATE = date(2025, 6, 30)
CODELIST_VERSION = "REGSOSEK-2022"
DESIL_RELEASE = "DTSEN-2025-Q2"
MAX_MEMBERS = 7
# NIKs carry a two-digit year that validators resolve to the latest century not in the future:
# someone born in 1925 would read as 2025. Nobody older than 90 keeps births at 1934 or later.
MAX_AGE = 90

MALE_NAMES = (
    "Slamet", "Sugeng", "Budi", "Agus", "Joko", "Bambang", "Suparno", "Sutrisno", "Wahyudi", "Heru",
    "Eko", "Dwi", "Teguh", "Sumarno", "Suyono", "Paimin", "Sarmidi", "Ngadiman", "Rudi", "Hendra",
    "Yusuf", "Ahmad", "Muhammad", "Imam", "Arif", "Fajar", "Rizky", "Dimas", "Bayu", "Galih",
    "Anang", "Darmaji", "Kusnadi", "Mujiono", "Parjo", "Rohmat", "Sholeh", "Tarno", "Wagiman", "Yanto",
)
FEMALE_NAMES = (
    "Siti", "Sri", "Sumarni", "Suwarni", "Painem", "Tumini", "Sulastri", "Wartini", "Ngatini", "Sutinah",
    "Endang", "Yuli", "Dewi", "Ratna", "Wulan", "Ani", "Nur", "Lilik", "Tri", "Sumiati",
    "Rina", "Fitri", "Aisyah", "Nurul", "Anisa", "Putri", "Dian", "Ayu", "Indah", "Lestari",
    "Kasiyem", "Mulyani", "Partini", "Rukmini", "Sarinah", "Tukiyem", "Umi", "Warsini", "Yatmi", "Zulaikha",
)
MALE_SECOND_NAMES = (
    "Santoso", "Wibowo", "Prasetyo", "Hidayat", "Susanto", "Setiawan", "Nugroho", "Purnomo", "Saputra",
    "Kurniawan", "Wijaya", "Hartono", "Gunawan", "Riyadi", "Hermawan", "Firmansyah", "Syahputra", "Utomo",
)
FEMALE_SECOND_NAMES = (
    "Lestari", "Wahyuni", "Rahayu", "Handayani", "Susanti", "Astuti", "Kusumawati", "Puspitasari",
    "Wulandari", "Rahmawati", "Fitriani", "Anggraini", "Safitri", "Maharani", "Ningsih", "Utami",
)
STREETS = (
    "Brawijaya", "Hayam Wuruk", "Dhoho", "Joyoboyo", "Diponegoro", "Mayor Bismo", "Kilisuci", "Semeru",
    "Penanggungan", "Sersan Bahrun", "KH Wahid Hasyim", "Imam Bonjol", "Veteran", "Ahmad Yani", "Raung",
    "Letjen Suprapto", "Panglima Sudirman", "Pattimura", "Kawi", "Argopuro", "Mauni", "Ngasinan",
)
# Kecamatan centres (Mojoroto lies west of the Brantas); every point stays within ±0.03° of the city.
CENTRES = {"01": (-7.812, 111.995), "02": (-7.818, 112.015), "03": (-7.835, 112.030)}


class _Weighted:
    """A weighted choice drawn from the caller's RNG.

    Same draw as ``rng.choices(values, cum_weights=...)[0]`` at a third of the cost (this runs
    about 20 times per household).
    """

    def __init__(self, weights: dict) -> None:
        self.values = tuple(weights)
        self.cum = tuple(accumulate(weights.values()))
        self.total = float(self.cum[-1])

    def __call__(self, rng: random.Random):
        return self.values[bisect(self.cum, rng.random() * self.total, 0, len(self.values) - 1)]


DESIL = _Weighted({1: 25, 2: 20, 3: 17, 4: 13, 5: 9, 6: 6, 7: 4, 8: 3, 9: 2, 10: 1})
CHILD_COUNT = _Weighted({0: 15, 1: 25, 2: 30, 3: 20, 4: 10})
EDUCATION_ADULT = _Weighted({"tidak_sekolah": 5, "sd": 30, "smp": 30, "sma": 31, "d3_s1": 4})
EDUCATION_ELDERLY = _Weighted({"tidak_sekolah": 30, "sd": 50, "smp": 12, "sma": 7, "d3_s1": 1})
SCHOOL = _Weighted({"sekolah": 89, "putus_sekolah": 8, "tidak_sekolah": 3})
WORK_MEN = _Weighted({"bekerja": 82, "tidak_bekerja": 15, "sekolah": 3})
WORK_WOMEN = _Weighted({"bekerja": 38, "mengurus_rumah_tangga": 50, "tidak_bekerja": 10, "sekolah": 2})
WORK_ELDERLY = _Weighted({"bekerja": 30, "tidak_bekerja": 55, "mengurus_rumah_tangga": 15})
SECTOR = _Weighted({"buruh": 35, "dagang": 25, "jasa": 20, "industri": 12, "pertanian": 8})
DISABILITY = _Weighted({"fisik": 40, "netra": 20, "rungu": 20, "mental": 20})
LONE_HEAD_MARITAL = _Weighted({"cerai_mati": 50, "cerai_hidup": 35, "belum_kawin": 15})
TENURE = _Weighted({"milik_sendiri": 70, "sewa": 15, "numpang": 15})
TOILET = _Weighted({"sendiri": 70, "bersama": 20, "tidak_ada": 10})
SEWAGE = _Weighted({"tangki_septik": 65, "lubang_tanah": 20, "sungai": 15})
WATER = _Weighted({"sumur_bor": 40, "sumur_terlindung": 25, "ledeng_meter": 15, "isi_ulang": 12,
                   "sumur_tak_terlindung": 8})
LIGHTING = _Weighted({"pln_meter": 75, "pln_tanpa_meter": 20, "non_pln": 5})
POWER_VA = _Weighted({450: 50, 900: 40, 1300: 10})
ROOF = _Weighted({"genteng": 70, "seng": 15, "asbes": 12, "rumbia": 3})
WALL = _Weighted({"tembok": 72, "kayu": 12, "bambu": 10, "seng": 6})
FLOOR = _Weighted({"keramik": 40, "semen": 40, "tanah": 10, "kayu": 6, "bambu": 4})
LAND_PROOF = _Weighted({"shm": 55, "girik": 30, "tidak_ada": 15})
ASSETS = (("tabung_gas_3kg", 0.85), ("sepeda_motor", 0.5), ("televisi", 0.7), ("kulkas", 0.25),
          ("emas", 0.05))
# The last level a child attended, by school age (7-12 SD, 13-15 SMP, 16-18 SMA).
_LEVELS = ("sd", "sd", "smp", "sma")


class _SerialIssuer:
    """Hands out the 4-digit serial of numbers sharing their first 12 digits (area + date).

    Serials climb in small random steps, as if other residents took the numbers in between. One
    counter per area and date (a few hundred thousand at most) instead of a set of every number.
    """

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def issue(self, stem: str, rng: random.Random) -> str:
        serial = self._last.get(stem, 0) + rng.randint(1, 3)
        if serial > 9999:
            raise RuntimeError(f"serials exhausted for area and date {stem[:6]}/{stem[6:]}")
        self._last[stem] = serial
        return f"{stem}{serial:04d}"


@dataclass(frozen=True)
class SyntheticPerson:
    nik: str = field(repr=False)
    name: str
    sex: Sex
    birth_date: date
    relation: Relation
    marital_status: str
    education_level: str | None
    school_participation: str | None
    work_status: str | None
    work_sector: str | None
    monthly_income: int | None
    disability_types: tuple[str, ...] | None
    chronic_illness: bool
    pregnant: bool | None


@dataclass(frozen=True)
class SyntheticHousehold:
    index: int
    kk: str = field(repr=False)
    kk_recorded_on: date
    kelurahan_code: str
    rw: int
    rt: int
    address: str
    latitude: Decimal
    longitude: Decimal
    desil: int
    members: tuple[SyntheticPerson, ...]
    housing: dict  # HousingSurvey columns

    @property
    def kecamatan_code(self) -> str:
        return self.kelurahan_code.rsplit(".", 1)[0]


def add_years(day: date, years: int) -> date:
    """*day* moved by whole calendar years (29 February becomes the 28th in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _birth_date(rng: random.Random, age: int) -> date:
    """A birth date at which the person is exactly *age* on REFERENCE_DATE."""
    latest = add_years(REFERENCE_DATE, -age)
    earliest = add_years(REFERENCE_DATE, -age - 1) + timedelta(days=1)
    return date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))


def _name(rng: random.Random, sex: Sex, age: int) -> str:
    female = sex is Sex.FEMALE
    given = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
    # Older Javanese often have a single name; younger people usually two.
    if rng.random() < (0.25 if age >= 60 else 0.6):
        return f"{given} {rng.choice(FEMALE_SECOND_NAMES if female else MALE_SECOND_NAMES)}"
    return given


def _family(rng: random.Random) -> list[tuple[Relation, Sex, int, str]]:
    """Who lives in the house: (relation, sex, age, marital status), head first."""
    female_head = rng.random() < 0.20
    head_sex, other_sex = (Sex.FEMALE, Sex.MALE) if female_head else (Sex.MALE, Sex.FEMALE)
    head_age = int(rng.triangular(18, 86, 45))
    # Women head a KK mostly as widows or divorcees, so they rarely have a spouse listed.
    has_spouse = rng.random() < (0.15 if female_head else 0.90)
    if has_spouse:
        marital = "kawin"
    elif female_head or head_age >= 30:
        marital = LONE_HEAD_MARITAL(rng)
    else:
        marital = "belum_kawin"
    people = [(Relation.HEAD, head_sex, head_age, marital)]
    parent_ages = [head_age]
    if has_spouse:
        gap = rng.randint(-3, 8)
        spouse_age = min(max(head_age - gap if not female_head else head_age + gap, 18), MAX_AGE)
        people.append((Relation.SPOUSE, other_sex, spouse_age, "kawin"))
        parent_ages.append(spouse_age)
    # Born while the younger parent was 17-42: 17 full years between ages means more than
    # 16 years between birth dates.
    youngest_child, oldest_child = max(min(parent_ages) - 42, 0), min(parent_ages) - 17
    if oldest_child >= youngest_child:
        count = CHILD_COUNT(rng)
        ages = sorted((rng.randint(youngest_child, oldest_child) for _ in range(count)), reverse=True)
        for age in ages:
            single = age < 25 or rng.random() < 0.85
            people.append((Relation.CHILD, rng.choice((Sex.MALE, Sex.FEMALE)), age,
                           "belum_kawin" if single else "cerai_hidup"))
    if head_age <= 60 and rng.random() < 0.10:
        sex = Sex.FEMALE if rng.random() < 0.7 else Sex.MALE
        people.append((Relation.PARENT, sex, min(head_age + rng.randint(20, 35), MAX_AGE), "cerai_mati"))
    if head_age >= 40 and len(people) < MAX_MEMBERS and rng.random() < 0.12:
        age = rng.randint(0, min(head_age - 34, 12))
        people.append((Relation.GRANDCHILD, rng.choice((Sex.MALE, Sex.FEMALE)), age, "belum_kawin"))
    return people


def _schooling(rng: random.Random, age: int) -> tuple[str | None, str | None]:
    """(education_level, school_participation); participation only for ages 7-18."""
    if age < 7:
        return None, None
    if age > 18:
        return (EDUCATION_ELDERLY if age >= 60 else EDUCATION_ADULT)(rng), None
    participation = SCHOOL(rng)
    if participation == "tidak_sekolah":
        return "tidak_sekolah", participation
    level = _LEVELS[min((age - 7) // 3, 3)]
    if participation == "putus_sekolah" and level != "sd":
        level = "sd" if level == "smp" else "smp"  # dropped out during the level before
    return level, participation


def _work(rng: random.Random, sex: Sex, age: int,
          school: str | None) -> tuple[str | None, str | None, int | None]:
    """(work_status, work_sector, monthly_income); working-age questions start at 15."""
    if age < 15:
        return None, None, None
    if age <= 18:
        status = "sekolah" if school == "sekolah" else ("bekerja" if rng.random() < 0.4 else "tidak_bekerja")
    elif age >= 65:
        status = WORK_ELDERLY(rng)
    else:
        status = (WORK_WOMEN if sex is Sex.FEMALE else WORK_MEN)(rng)
        if status == "sekolah" and age > 24:
            status = "tidak_bekerja"
    if status != "bekerja":
        return status, None, None
    # Beta(1.4, 3.5) skews towards the bottom of Rp300k-3m, as in the lowest desils.
    income = 300_000 + int(round(rng.betavariate(1.4, 3.5) * 2_700_000, -4))
    return status, SECTOR(rng), min(income, 3_000_000)


def _health(rng: random.Random, relation: Relation, sex: Sex, age: int, marital: str):
    """(disability_types, chronic_illness, pregnant)."""
    disability = None
    if rng.random() < 0.05:
        first = DISABILITY(rng)
        second = DISABILITY(rng) if rng.random() < 0.1 else first
        disability = tuple(dict.fromkeys((first, second)))
    chronic = rng.random() < (0.30 if age >= 60 else 0.08 if age >= 18 else 0.01)
    pregnant = None
    if sex is Sex.FEMALE:
        eligible = relation in (Relation.HEAD, Relation.SPOUSE) and 18 <= age <= 40 and marital == "kawin"
        pregnant = eligible and rng.random() < 0.08
    return disability, chronic, pregnant


def _person(rng: random.Random, niks: _SerialIssuer, kecamatan: str, member: tuple) -> SyntheticPerson:
    relation, sex, age, marital = member
    born = _birth_date(rng, age)
    # Everyone was registered in the household's kecamatan, so the NIK matches the address.
    nik = niks.issue(build_nik("35", "71", kecamatan, born, sex.value, 0)[:12], rng)
    education, school = _schooling(rng, age)
    status, sector, income = _work(rng, sex, age, school)
    disability, chronic, pregnant = _health(rng, relation, sex, age, marital)
    return SyntheticPerson(nik, _name(rng, sex, age), sex, born, relation, marital, education, school,
                           status, sector, income, disability, chronic, pregnant)


def _housing(rng: random.Random, occupants: int) -> dict:
    """One RTLH-style survey: about 30% below 7.2 m² per person, some damage, ~10% earth floors."""
    per_person = rng.uniform(4.0, 7.0) if rng.random() < 0.30 else rng.uniform(7.5, 20.0)
    surveyed = date(2024, 1, 1) + timedelta(days=rng.randint(0, (REFERENCE_DATE - date(2024, 1, 1)).days))
    tenure, toilet, lighting = TENURE(rng), TOILET(rng), LIGHTING(rng)
    assets = [asset for asset, share in ASSETS if rng.random() < share]
    return {
        "surveyed_on": surveyed,
        "tenure": tenure,
        "floor_area_m2": Decimal(f"{per_person * occupants:.2f}"),
        "occupants": occupants,
        "roof_material": ROOF(rng),
        "roof_condition": "rusak" if rng.random() < 0.25 else "baik",
        "wall_material": WALL(rng),
        "wall_condition": "rusak" if rng.random() < 0.20 else "baik",
        "floor_material": FLOOR(rng),
        "floor_condition": "rusak" if rng.random() < 0.15 else "baik",
        "toilet": toilet,
        "sewage": None if toilet == "tidak_ada" else SEWAGE(rng),
        "water_source": WATER(rng),
        "lighting": lighting,
        "power_va": POWER_VA(rng) if lighting == "pln_meter" else None,
        "cooking_fuel": "kayu" if rng.random() < 0.15 else "lpg_3kg",
        "land_proof": LAND_PROOF(rng) if tenure == "milik_sendiri" else "tidak_ada",
        "assets": assets,
    }


def _household(index: int, kelurahan_codes: Sequence[str], niks: _SerialIssuer,
               kks: _SerialIssuer) -> SyntheticHousehold:
    rng = random.Random(f"sinergi-demo-{index}")
    kelurahan = rng.choice(kelurahan_codes)
    kecamatan = kelurahan.split(".")[2]
    members = tuple(_person(rng, niks, kecamatan, member) for member in _family(rng))
    # The KK was recorded once the head was an adult (17+), and before the reference date.
    adult = add_years(members[0].birth_date, 17) + timedelta(days=1)
    earliest = max(adult, date(1995, 1, 1))
    recorded = date.fromordinal(rng.randint(earliest.toordinal(), REFERENCE_DATE.toordinal() - 30))
    kk = kks.issue(build_kk("35", "71", kecamatan, recorded, 0)[:12], rng)
    street = f"Jl. {rng.choice(STREETS)}"
    if rng.random() < 0.3:
        street += f" Gg. {rng.randint(1, 9)}"
    lat, lon = CENTRES[kecamatan]
    return SyntheticHousehold(
        index=index, kk=kk, kk_recorded_on=recorded, kelurahan_code=kelurahan,
        rw=rng.randint(1, 12), rt=rng.randint(1, 15), address=f"{street} No. {rng.randint(1, 150)}",
        latitude=Decimal(f"{lat + rng.uniform(-0.012, 0.012):.6f}"),
        longitude=Decimal(f"{lon + rng.uniform(-0.01, 0.01):.6f}"),
        desil=DESIL(rng), members=members, housing=_housing(rng, len(members)),
    )


def generate_households(kelurahan_codes: Sequence[str], n: int) -> Iterator[SyntheticHousehold]:
    """Households 0..n-1, lazily. Codes are sorted so the caller's order cannot change the data."""
    codes = tuple(sorted(kelurahan_codes))
    if not codes:
        raise ValueError("no kelurahan codes: load the regions first")
    niks, kks = _SerialIssuer(), _SerialIssuer()
    for index in range(n):
        yield _household(index, codes, niks, kks)
