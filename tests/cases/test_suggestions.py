"""Programme suggestions (DESIGN.md §2): the rule table on hand-made facts, then one trip to the database."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event

from caseapp.cases.suggestions import (
    MIN_FLOOR_AREA_PER_PERSON,
    RULES,
    HouseholdFacts,
    MemberFacts,
    Suggestion,
    SurveyFacts,
    age_on,
    household_facts,
    suggest,
    suggest_for_household,
)
from caseapp.core.errors import NotFound
from caseapp.households.models import HousingSurvey, Relation, Sex
from tests.factories import HouseholdFactory, PersonFactory

PROGRAMS_CSV = Path(__file__).resolve().parents[2] / "caseapp" / "agencies" / "data" / "programs.csv"
GOOD_HOUSE = SurveyFacts(floor_area_m2=Decimal("40"), occupants=4, roof_material="genteng", roof_condition="baik",
                         wall_material="tembok", wall_condition="baik", floor_material="keramik",
                         floor_condition="baik", toilet="sendiri")


def member(id: int, **kw) -> MemberFacts:
    base = {"name": f"Warga {id}", "age": 40, "sex": "L", "relation": "child", "has_nik": True,
            "school_participation": None, "work_status": "bekerja"}
    return MemberFacts(id=id, **{**base, **kw})


def household(*members: MemberFacts, desil: int | None = 3, kk_known: bool = True, **survey) -> HouseholdFacts:
    head = member(1, name="Slamet", relation="head")
    return HouseholdFacts(desil=desil, kk_known=kk_known, members=(head, *members),
                          survey=replace(GOOD_HOUSE, **survey))


def found(facts: HouseholdFacts) -> list[tuple[str, int | None, str, str]]:
    return [(s.program, s.person_id, s.reason_id, s.reason_en) for s in suggest(facts)]


def test_nothing_wrong_suggests_nothing():
    assert suggest(household()) == []
    assert suggest(HouseholdFacts(desil=None, kk_known=True)) == []


@pytest.mark.parametrize(("facts", "expected"), [
    pytest.param(household(floor_area_m2=Decimal("20.4")),
                 [("RTLH", None, "luas lantai 5,1 m² per orang (di bawah 7,2 m²)",
                   "floor area 5.1 m² per person (below 7.2 m²)")], id="floor-area"),
    pytest.param(household(roof_condition="rusak", floor_material="tanah"),
                 [("RTLH", None, "atap rusak, lantai tanah (tidak permanen)",
                   "roof damaged, floor of earth (non-durable)")], id="material"),
    pytest.param(household(wall_material="bambu", roof_material="rumbia"),
                 [("RTLH", None, "atap rumbia (tidak permanen), dinding bambu (tidak permanen)",
                   "roof of thatch (non-durable), walls of bamboo (non-durable)")], id="non-durable"),
    pytest.param(household(toilet="tidak_ada"), [("RTLH", None, "tidak ada jamban", "no toilet")], id="toilet"),
    pytest.param(household(member(2, name="Painem", age=68, relation="parent", work_status="tidak_bekerja",
                                  chronic_illness=True)),
                 [("DOKTER_KELUARGA", None, "Painem (penyakit kronis, usia 68 tahun)",
                   "Painem (chronic illness, aged 68)"),
                  ("JKN_PBI", 2, "penyakit kronis, desil 3", "chronic illness, desil 3")], id="elderly-chronic"),
    pytest.param(household(member(2, name="Budi", age=30, disability_types=("fisik", "netra"))),
                 [("DOKTER_KELUARGA", None, "Budi (disabilitas fisik, netra)",
                   "Budi (disability: physical, visual)"),
                  ("DISABILITAS", 2, "disabilitas fisik, netra", "disability: physical, visual")], id="disability"),
    pytest.param(household(member(2, age=12, school_participation="putus_sekolah", work_status=None),
                           member(3, age=7, school_participation="tidak_sekolah", work_status=None),
                           member(4, age=18, school_participation="sekolah", work_status="sekolah")),
                 [("SEKOLAH_RAKYAT", 2, "usia 12 tahun, putus sekolah", "aged 12, dropped out of school"),
                  ("SEKOLAH_RAKYAT", 3, "usia 7 tahun, tidak pernah sekolah", "aged 7, never attended school")],
                 id="out-of-school"),
    pytest.param(household(member(2, age=18, work_status="tidak_bekerja")),
                 [("PELATIHAN_KERJA", 2, "usia 18 tahun, tidak bekerja", "aged 18, not working")], id="unemployed"),
    pytest.param(household(member(2, has_nik=False)),
                 [("ADMINDUK", 2, "belum punya NIK", "no NIK recorded")], id="no-nik"),
    pytest.param(household(kk_known=False),
                 [("ADMINDUK", 1, "KK belum tercatat", "no family card (KK) recorded")], id="no-kk-targets-head"),
    pytest.param(household(desil=1), [("ATM_BERAS", None, "desil 1 menurut DTSEN", "desil 1 according to DTSEN")],
                 id="desil-1"),
    pytest.param(household(member(2, name="Siti", age=28, sex="P", relation="spouse", pregnant=True),
                           member(3, age=3, work_status=None), member(4, age=0, work_status=None), desil=6),
                 [("MBG", 2, "hamil", "pregnant"),
                  ("MBG", 3, "balita, usia 3 tahun", "child under five, aged 3"),
                  ("MBG", 4, "balita, usia di bawah 1 tahun", "child under five, under 1 year old")], id="meals"),
    pytest.param(household(member(2, age=28, sex="P", relation="spouse", pregnant=True), desil=5),
                 [("JKN_PBI", 2, "hamil, desil 5", "pregnant, desil 5"), ("MBG", 2, "hamil", "pregnant")],
                 id="pbi-pregnant"),
])
def test_each_rule_fires_with_its_reason(facts, expected):
    assert found(facts) == expected


@pytest.mark.parametrize(("facts", "expected"), [
    pytest.param(household(floor_area_m2=MIN_FLOOR_AREA_PER_PERSON * 4), [], id="exactly-7.2-m2-is-fit"),
    pytest.param(household(floor_area_m2=None), [], id="floor-area-unknown"),
    pytest.param(household(member(2, age=59)), [], id="age-59-not-elderly"),
    pytest.param(household(member(2, age=17, work_status="tidak_bekerja")), [], id="age-17-no-job-training"),
    pytest.param(household(member(2, age=60, work_status="tidak_bekerja")), ["DOKTER_KELUARGA"],
                 id="age-60-elderly-not-job-training"),
    pytest.param(household(member(2, age=19, school_participation="putus_sekolah")), [], id="age-19-not-school"),
    pytest.param(household(member(2, age=6, school_participation="tidak_sekolah")), [], id="age-6-not-school"),
    pytest.param(household(member(2, age=5)), [], id="age-5-no-mbg"),
    pytest.param(household(member(2, age=4, pregnant=False)), ["MBG"], id="age-4-mbg"),
    pytest.param(household(desil=2), [], id="desil-2-no-rice"),
    pytest.param(household(member(2, pregnant=True), desil=6), ["MBG"], id="desil-6-no-pbi"),
    pytest.param(household(toilet="bersama", wall_material="kayu", floor_material="semen"), [],
                 id="shared-toilet-wood-wall"),
    pytest.param(HouseholdFacts(desil=3, kk_known=True, members=(member(1, relation="head"),)), [],
                 id="no-survey"),
])
def test_thresholds(facts, expected):
    assert [s.program for s in suggest(facts)] == expected


def test_floor_area_boundary():
    just_below = household(floor_area_m2=Decimal("28.79"))  # 7.1975 per person: shown rounded down
    assert found(just_below) == [("RTLH", None, "luas lantai 7,1 m² per orang (di bawah 7,2 m²)",
                                  "floor area 7.1 m² per person (below 7.2 m²)")]
    assert suggest(household(floor_area_m2=Decimal("28.80"))) == []
    # Without a surveyed occupant count the listed members stand in.
    assert found(household(member(2), floor_area_m2=Decimal("10"), occupants=None))[0][2].startswith(
        "luas lantai 5 m² per orang")


def test_age_60_is_elderly_59_is_not():
    assert found(household(member(2, name="Tumini", age=60))) == [
        ("DOKTER_KELUARGA", None, "Tumini (usia 60 tahun)", "Tumini (aged 60)")]
    assert suggest(household(member(2, age=59))) == []


def test_chronic_illness_pbi_only_up_to_desil_5():
    sick = member(2, name="Sumarni", chronic_illness=True)
    assert [s.program for s in suggest(household(sick, desil=5))] == ["DOKTER_KELUARGA", "JKN_PBI"]
    assert [s.program for s in suggest(household(sick, desil=6))] == ["DOKTER_KELUARGA"]
    assert [s.program for s in suggest(household(sick, desil=None))] == ["DOKTER_KELUARGA"]


def test_same_programme_and_person_is_merged():
    facts = household(floor_area_m2=Decimal("20.4"), wall_condition="rusak", toilet="tidak_ada", kk_known=False)
    facts = replace(facts, members=(replace(facts.members[0], has_nik=False),))
    result = suggest(facts)
    assert [(s.program, s.person_id) for s in result] == [("RTLH", None), ("ADMINDUK", 1)]
    rtlh, documents = result
    assert rtlh.reason_id == "luas lantai 5,1 m² per orang (di bawah 7,2 m²); dinding rusak; tidak ada jamban"
    assert rtlh.reason("en") == "floor area 5.1 m² per person (below 7.2 m²); walls damaged; no toilet"
    assert rtlh.rule == "RTLH_FLOOR_AREA, RTLH_MATERIAL, RTLH_NO_TOILET"
    assert documents.reason("id") == "belum punya NIK; KK belum tercatat"
    assert documents.rule == "ADMINDUK"


def test_order_is_table_order_then_person_id():
    members = (member(5, age=10, school_participation="putus_sekolah", work_status=None),
               member(3, age=14, school_participation="tidak_sekolah", work_status=None, has_nik=False),
               member(4, age=40, work_status="tidak_bekerja", has_nik=False))
    facts = HouseholdFacts(desil=1, kk_known=True, members=(member(1, relation="head"), *members),
                           survey=replace(GOOD_HOUSE, toilet="tidak_ada"))
    expected = [("RTLH", None), ("SEKOLAH_RAKYAT", 3), ("SEKOLAH_RAKYAT", 5), ("PELATIHAN_KERJA", 4),
                ("ADMINDUK", 3), ("ADMINDUK", 4), ("ATM_BERAS", None)]
    assert [(s.program, s.person_id) for s in suggest(facts)] == expected
    shuffled = replace(facts, members=tuple(reversed(facts.members)))
    assert suggest(shuffled) == suggest(facts)


def test_targets_match_programs_csv():
    with PROGRAMS_CSV.open(newline="") as fh:
        targets = {row["code"]: row["target"] for row in csv.DictReader(fh)}
    everything = HouseholdFacts(
        desil=1, kk_known=False,
        members=(member(1, relation="head", age=65, chronic_illness=True, has_nik=False, disability_types=("rungu",)),
                 member(2, age=30, sex="P", pregnant=True, work_status="tidak_bekerja"),
                 member(3, age=12, school_participation="putus_sekolah", work_status=None),
                 member(4, age=2, work_status=None)),
        survey=replace(GOOD_HOUSE, floor_area_m2=Decimal("10"), floor_material="tanah", toilet="tidak_ada"))
    result = suggest(everything)
    assert {s.program for s in result} == {rule.program for rule in RULES}
    for s in result:
        assert (s.person_id is None) == (targets[s.program] == "household"), s
    assert len({(s.program, s.person_id) for s in result}) == len(result)
    assert len({rule.name for rule in RULES}) == len(RULES)


def test_reason_locale():
    s = Suggestion("ATM_BERAS", None, "desil 1 menurut DTSEN", "desil 1 according to DTSEN", "ATM_BERAS")
    assert s.reason() == s.reason("id") == s.reason("jv") == "desil 1 menurut DTSEN"
    assert s.reason("en") == s.reason("en_US") == s.reason("en-GB") == "desil 1 according to DTSEN"


def test_age_on():
    assert age_on(date(2000, 6, 30), date(2025, 6, 29)) == 24
    assert age_on(date(2000, 6, 30), date(2025, 6, 30)) == 25
    assert age_on(date(2004, 2, 29), date(2025, 2, 28)) == 20
    assert age_on(None, date(2025, 1, 1)) is None


def test_suggest_for_household_from_the_database(ctx):
    head = PersonFactory(household=HouseholdFactory(desil=4), name="Sugeng", relation=Relation.HEAD)
    home = head.household
    PersonFactory(household=home, name="Pindah", relation=Relation.CHILD, birth_date=date(2012, 1, 1),
                  school_participation="putus_sekolah", active=False)  # moved out: not a member any more
    ctx.add_all([
        HousingSurvey(household_id=home.id, surveyed_on=date(2024, 1, 10), floor_area_m2=Decimal("90"),
                      occupants=1, toilet="tidak_ada"),
        HousingSurvey(household_id=home.id, surveyed_on=date(2025, 3, 1), floor_area_m2=Decimal("5.10"),
                      occupants=1, roof_condition="baik", toilet="sendiri"),
    ])
    ctx.flush()
    facts = household_facts(ctx, home.id, today=date(2025, 6, 30))
    assert [(m.name, m.age, m.has_nik, m.sex) for m in facts.members] == [("Sugeng", 45, True, Sex.MALE)]
    assert facts.kk_known and facts.desil == 4

    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = ctx.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = suggest_for_household(ctx, home.id, today=date(2025, 6, 30))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert 0 < len(statements) <= 3, statements  # > 0: the listener did see the queries
    # Only the latest survey counts: the old one's missing toilet is no reason any more.
    assert [(s.program, s.person_id, s.reason_id) for s in result] == [
        ("RTLH", None, "luas lantai 5,1 m² per orang (di bawah 7,2 m²)")]
    assert suggest_for_household(ctx, home.id, exclude_programs=["RTLH"], today=date(2025, 6, 30)) == []

    with pytest.raises(NotFound):
        household_facts(ctx, 10**9)
