"""Programme suggestions for an intervention plan (DESIGN.md §2).

When a plan is drafted the system proposes programmes from the household's data. Every rule lives
in one table, :data:`RULES`; each rule says *why* it fired in plain words with the numbers
("luas lantai 5,1 m² per orang (di bawah 7,2 m²)"), so a social worker can check it and a supervisor
can see where a suggestion came from. Suggestions are advice only: the worker picks the programmes.

The rules read :class:`HouseholdFacts`, a plain snapshot, so they are pure and testable without a
database; :func:`household_facts` builds it in three queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from caseapp.core.errors import NotFound
from caseapp.households.models import Household, HousingSurvey, Person, Relation

# RTLH crowding threshold. 7.2 m² per person is the figure the city's RTLH criteria use today; some
# PUPR material says 9 m² (and BPS's poverty criteria 8 m²), so this becomes an admin setting later.
MIN_FLOOR_AREA_PER_PERSON = Decimal("7.2")
ELDERLY_AGE = 60
SCHOOL_AGES = range(7, 19)      # 7-18: the ages school participation is asked for (Regsosek)
WORKING_AGES = range(18, 60)    # 18-59: job training is for adults below the elderly age
TODDLER_AGE = 5                 # MBG reaches children under five through the posyandu
MAX_PBI_DESIL = 5               # government-paid JKN is for the bottom half of DTSEN

OUT_OF_SCHOOL = {"putus_sekolah": ("putus sekolah", "dropped out of school"),
                 "tidak_sekolah": ("tidak pernah sekolah", "never attended school")}
NOT_WORKING = "tidak_bekerja"
DAMAGED = "rusak"
NO_TOILET = "tidak_ada"
# Non-durable materials after BPS's poverty criteria (earth/bamboo floor, bamboo wall, thatch roof).
NON_DURABLE = {"roof": {"rumbia"}, "wall": {"bambu"}, "floor": {"tanah", "bambu"}}
PARTS = {"roof": ("atap", "roof"), "wall": ("dinding", "walls"), "floor": ("lantai", "floor")}
MATERIALS_EN = {"rumbia": "thatch", "bambu": "bamboo", "tanah": "earth"}
DISABILITIES_EN = {"fisik": "physical", "netra": "visual", "rungu": "hearing", "mental": "mental"}
LOCAL_TZ = ZoneInfo("Asia/Jakarta")  # ages turn over at midnight in Kediri, not in UTC


@dataclass(frozen=True)
class MemberFacts:
    id: int
    name: str
    age: int | None            # whole years on the reference day; None without a birth date
    sex: str
    relation: str
    has_nik: bool
    school_participation: str | None = None
    work_status: str | None = None
    disability_types: tuple[str, ...] = ()
    chronic_illness: bool = False
    pregnant: bool = False


@dataclass(frozen=True)
class SurveyFacts:
    floor_area_m2: Decimal | None = None
    occupants: int | None = None
    roof_material: str | None = None
    roof_condition: str | None = None
    wall_material: str | None = None
    wall_condition: str | None = None
    floor_material: str | None = None
    floor_condition: str | None = None
    toilet: str | None = None


@dataclass(frozen=True)
class HouseholdFacts:
    desil: int | None
    kk_known: bool
    members: tuple[MemberFacts, ...] = ()
    survey: SurveyFacts | None = None     # the latest housing survey, if any


@dataclass(frozen=True)
class Suggestion:
    program: str               # programme code (agencies/data/programs.csv)
    person_id: int | None      # target member of a person-targeted programme, else None
    reason_id: str
    reason_en: str
    rule: str                  # name of the rule; "A, B" when several rules gave the same suggestion

    def reason(self, locale: object = "id") -> str:
        """The reason in English for "en"/"en_US"/"en-GB", in Indonesian for anything else."""
        # str() because Flask-Babel hands out Locale objects, whose str() is e.g. "en_US".
        english = str(locale).lower().replace("-", "_").split("_")[0] == "en"
        return self.reason_en if english else self.reason_id


Finding = tuple[int | None, str, str]   # (person_id, reason_id, reason_en)


@dataclass(frozen=True)
class Rule:
    name: str
    program: str
    description_id: str
    description_en: str
    check: Callable[[HouseholdFacts], list[Finding]]


def _num(value: Decimal | int, locale: str) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text.replace(".", ",") if locale == "id" else text


def _age_words(age: int) -> tuple[str, str]:
    return f"usia {age} tahun", f"aged {age}"


def _disabilities(member: MemberFacts) -> tuple[str, str]:
    kinds = member.disability_types
    return (f"disabilitas {', '.join(kinds)}",
            f"disability: {', '.join(DISABILITIES_EN.get(k, k) for k in kinds)}")


# --- the rules -------------------------------------------------------------------------------------

def _floor_area(facts: HouseholdFacts) -> list[Finding]:
    survey = facts.survey
    if survey is None or survey.floor_area_m2 is None:
        return []
    # The surveyed occupant count is what the house held; the register may list absent members.
    occupants = survey.occupants or len(facts.members)
    if occupants <= 0:
        return []
    per_person = Decimal(survey.floor_area_m2) / occupants
    if per_person >= MIN_FLOOR_AREA_PER_PERSON:
        return []
    # Rounded down so the shown figure is never the threshold itself ("7,2 ... di bawah 7,2").
    shown = per_person.quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    limit = MIN_FLOOR_AREA_PER_PERSON
    return [(None, f"luas lantai {_num(shown, 'id')} m² per orang (di bawah {_num(limit, 'id')} m²)",
             f"floor area {_num(shown, 'en')} m² per person (below {_num(limit, 'en')} m²)")]


def _material(facts: HouseholdFacts) -> list[Finding]:
    survey = facts.survey
    if survey is None:
        return []
    parts_id, parts_en = [], []
    for part, (word_id, word_en) in PARTS.items():
        material = getattr(survey, f"{part}_material")
        if getattr(survey, f"{part}_condition") == DAMAGED:
            parts_id.append(f"{word_id} rusak")
            parts_en.append(f"{word_en} damaged")
        if material in NON_DURABLE[part]:
            parts_id.append(f"{word_id} {material} (tidak permanen)")
            parts_en.append(f"{word_en} of {MATERIALS_EN.get(material, material)} (non-durable)")
    return [(None, ", ".join(parts_id), ", ".join(parts_en))] if parts_id else []


def _no_toilet(facts: HouseholdFacts) -> list[Finding]:
    if facts.survey is None or facts.survey.toilet != NO_TOILET:
        return []
    return [(None, "tidak ada jamban", "no toilet")]


def _family_doctor(facts: HouseholdFacts) -> list[Finding]:
    # DOKTER_KELUARGA serves the household: one finding naming each member who needs it and why.
    who_id, who_en = [], []
    for m in facts.members:
        why_id, why_en = [], []
        if m.chronic_illness:
            why_id.append("penyakit kronis")
            why_en.append("chronic illness")
        if m.disability_types:
            text_id, text_en = _disabilities(m)
            why_id.append(text_id)
            why_en.append(text_en)
        if m.age is not None and m.age >= ELDERLY_AGE:
            age_id, age_en = _age_words(m.age)
            why_id.append(age_id)
            why_en.append(age_en)
        if why_id:
            who_id.append(f"{m.name} ({', '.join(why_id)})")
            who_en.append(f"{m.name} ({', '.join(why_en)})")
    return [(None, "; ".join(who_id), "; ".join(who_en))] if who_id else []


def _disability(facts: HouseholdFacts) -> list[Finding]:
    return [(m.id, *_disabilities(m)) for m in facts.members if m.disability_types]


def _out_of_school(facts: HouseholdFacts) -> list[Finding]:
    found = []
    for m in facts.members:
        if m.age in SCHOOL_AGES and m.school_participation in OUT_OF_SCHOOL:
            age_id, age_en = _age_words(m.age)
            state_id, state_en = OUT_OF_SCHOOL[m.school_participation]
            found.append((m.id, f"{age_id}, {state_id}", f"{age_en}, {state_en}"))
    return found


def _unemployed(facts: HouseholdFacts) -> list[Finding]:
    found = []
    for m in facts.members:
        if m.age in WORKING_AGES and m.work_status == NOT_WORKING:
            age_id, age_en = _age_words(m.age)
            found.append((m.id, f"{age_id}, tidak bekerja", f"{age_en}, not working"))
    return found


def _documents(facts: HouseholdFacts) -> list[Finding]:
    found: list[Finding] = [(m.id, "belum punya NIK", "no NIK recorded") for m in facts.members if not m.has_nik]
    if not facts.kk_known:
        # ADMINDUK targets a person; a KK is applied for by the head (or whoever is left).
        head = next((m for m in facts.members if m.relation == Relation.HEAD), None)
        target = head or (facts.members[0] if facts.members else None)
        found.append((target.id if target else None, "KK belum tercatat", "no family card (KK) recorded"))
    return found


def _pbi(facts: HouseholdFacts) -> list[Finding]:
    if facts.desil is None or facts.desil > MAX_PBI_DESIL:
        return []
    found = []
    for m in facts.members:
        needs_id = [w for w, yes in (("hamil", m.pregnant), ("penyakit kronis", m.chronic_illness)) if yes]
        needs_en = [w for w, yes in (("pregnant", m.pregnant), ("chronic illness", m.chronic_illness)) if yes]
        if needs_id:
            found.append((m.id, f"{', '.join(needs_id)}, desil {facts.desil}",
                          f"{', '.join(needs_en)}, desil {facts.desil}"))
    return found


def _rice(facts: HouseholdFacts) -> list[Finding]:
    return [(None, "desil 1 menurut DTSEN", "desil 1 according to DTSEN")] if facts.desil == 1 else []


def _meals(facts: HouseholdFacts) -> list[Finding]:
    found: list[Finding] = []
    for m in facts.members:
        if m.pregnant:
            found.append((m.id, "hamil", "pregnant"))
        if m.age is not None and m.age < TODDLER_AGE:
            age_id, age_en = ("usia di bawah 1 tahun", "under 1 year old") if m.age == 0 else _age_words(m.age)
            found.append((m.id, f"balita, {age_id}", f"child under five, {age_en}"))
    return found


RULES: tuple[Rule, ...] = (
    Rule("RTLH_FLOOR_AREA", "RTLH", "Luas lantai per orang di bawah batas rumah layak huni",
         "Floor area per person below the decent-housing limit", _floor_area),
    Rule("RTLH_MATERIAL", "RTLH", "Atap, dinding atau lantai rusak atau dari bahan tidak permanen",
         "Roof, walls or floor damaged or of non-durable material", _material),
    Rule("RTLH_NO_TOILET", "RTLH", "Rumah tanpa jamban", "House without a toilet", _no_toilet),
    Rule("DOKTER_KELUARGA", "DOKTER_KELUARGA", "Anggota dengan penyakit kronis, disabilitas atau usia 60+",
         "Member with chronic illness, disability or aged 60+", _family_doctor),
    Rule("DISABILITAS", "DISABILITAS", "Anggota dengan disabilitas", "Member with a disability", _disability),
    Rule("SEKOLAH_RAKYAT", "SEKOLAH_RAKYAT", "Anak usia 7-18 tahun tidak bersekolah",
         "Child aged 7-18 not in school", _out_of_school),
    Rule("PELATIHAN_KERJA", "PELATIHAN_KERJA", "Anggota usia 18-59 tahun tidak bekerja",
         "Member aged 18-59 not working", _unemployed),
    Rule("ADMINDUK", "ADMINDUK", "Anggota tanpa NIK atau keluarga tanpa KK",
         "Member without NIK or family without KK", _documents),
    Rule("JKN_PBI", "JKN_PBI", "Desil 1-5 dengan anggota hamil atau berpenyakit kronis",
         "Desil 1-5 with a pregnant or chronically ill member", _pbi),
    Rule("ATM_BERAS", "ATM_BERAS", "Desil 1 menurut DTSEN", "Desil 1 according to DTSEN", _rice),
    Rule("MBG", "MBG", "Ibu hamil dan anak di bawah lima tahun", "Pregnant women and children under five", _meals),
)


def suggest(facts: HouseholdFacts, rules: Iterable[Rule] = RULES) -> list[Suggestion]:
    """Run the rule table over *facts*: one suggestion per (programme, person), in table order,
    then by person id (household-level first). Reasons of repeated suggestions are merged with "; ".
    """
    merged: dict[tuple[str, int | None], list] = {}
    for rule in rules:
        findings = sorted(rule.check(facts), key=lambda f: -1 if f[0] is None else f[0])
        for person_id, reason_id, reason_en in findings:
            entry = merged.setdefault((rule.program, person_id), [[], [], []])
            for texts, text in zip(entry, (reason_id, reason_en, rule.name), strict=True):
                if text not in texts:
                    texts.append(text)
    return [Suggestion(program, person_id, "; ".join(ids), "; ".join(ens), ", ".join(names))
            for (program, person_id), (ids, ens, names) in merged.items()]


def age_on(birth_date: date | None, today: date) -> int | None:
    """Whole years from *birth_date* to *today* (None without a birth date)."""
    if birth_date is None:
        return None
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def household_facts(session, household_id: int, *, today: date | None = None) -> HouseholdFacts:
    """Snapshot of a household for the rules: active members and the latest housing survey.

    Three queries whatever the household size. Raises NotFound for an unknown household.
    """
    today = today or datetime.now(LOCAL_TZ).date()
    row = session.execute(select(Household.desil, Household.kk_hash).where(Household.id == household_id)).first()
    if row is None:
        raise NotFound("Keluarga tidak ditemukan.")
    people = session.execute(
        select(Person.id, Person.name, Person.birth_date, Person.sex, Person.relation, Person.nik_hash,
               Person.school_participation, Person.work_status, Person.disability_types,
               Person.chronic_illness, Person.pregnant)
        .where(Person.household_id == household_id, Person.active.is_(True))
        .order_by(Person.id)
    ).all()
    survey = session.execute(
        select(HousingSurvey.floor_area_m2, HousingSurvey.occupants, HousingSurvey.roof_material,
               HousingSurvey.roof_condition, HousingSurvey.wall_material, HousingSurvey.wall_condition,
               HousingSurvey.floor_material, HousingSurvey.floor_condition, HousingSurvey.toilet)
        .where(HousingSurvey.household_id == household_id)
        # Surveys are only ever added; the newest visit describes the house as it is now.
        .order_by(HousingSurvey.surveyed_on.desc(), HousingSurvey.id.desc())
        .limit(1)
    ).first()
    members = tuple(
        MemberFacts(id=p.id, name=p.name, age=age_on(p.birth_date, today), sex=str(p.sex),
                    relation=str(p.relation), has_nik=p.nik_hash is not None,
                    school_participation=p.school_participation, work_status=p.work_status,
                    disability_types=tuple(p.disability_types or ()), chronic_illness=bool(p.chronic_illness),
                    pregnant=bool(p.pregnant))
        for p in people
    )
    return HouseholdFacts(desil=row.desil, kk_known=row.kk_hash is not None, members=members,
                          survey=SurveyFacts(**survey._asdict()) if survey else None)


def suggest_for_household(session, household_id: int, *, exclude_programs: Iterable[str] = (),
                          today: date | None = None) -> list[Suggestion]:
    """Suggestions for a household, leaving out *exclude_programs* (e.g. already in the plan)."""
    excluded = set(exclude_programs)
    return [s for s in suggest(household_facts(session, household_id, today=today)) if s.program not in excluded]
