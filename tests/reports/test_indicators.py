"""Each indicator on a small hand-made data set, with the right answer written here.

Runs on SQLite and on PostgreSQL (``TEST_POSTGRES_URL``): the same numbers on both, including the
percentiles (linear interpolation, PostgreSQL's percentile_cont; see caseapp/reports/sql.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from caseapp.cases.models import InterventionStatus, Stage
from caseapp.extensions import db
from caseapp.reports import queries
from caseapp.reports.models import PovertyLine
from caseapp.reports.queries import ReportFilters, Scope
from tests.api.test_query_counts import counting
from tests.reports.builders import (
    BANDAR_KIDUL,
    BANDAR_LOR,
    KOTA,
    MOJOROTO,
    PESANTREN,
    SEMAMPIR,
    YEAR_2025,
    at,
    case,
    delivered,
    household,
    intervention,
    programme,
    step,
)

CITY = Scope(None)


def by(rows, **match):
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


# --- funnel ----------------------------------------------------------------------------------------

def test_funnel_counts_cases_opened_in_the_period_by_stage_reached_and_stage_at_the_end(ctx):
    graduated = case(opened=at(2025, 3, 1), stage=Stage.CLOSED, closed=at(2025, 6, 1), outcome="graduated")
    for kind, stage, day in (("triage", Stage.REFERRAL, 1), ("verification", Stage.VERIFICATION, 2),
                             ("plan", Stage.INTERVENTION, 10), ("evaluation", Stage.EVALUATION, 20)):
        step(graduated, kind, stage, opened=at(2025, 3, day), done=at(2025, 3, day + 1))
    in_verification = case(opened=at(2025, 3, 2))
    step(in_verification, "triage", Stage.REFERRAL, opened=at(2025, 3, 2), done=at(2025, 3, 3))
    step(in_verification, "verification", Stage.VERIFICATION, opened=at(2025, 3, 3))
    referral = case(opened=at(2025, 3, 3), stage=Stage.REFERRAL)
    step(referral, "triage", Stage.REFERRAL, opened=at(2025, 3, 3))
    rejected = case(opened=at(2025, 3, 4), stage=Stage.CLOSED, closed=at(2025, 3, 5), closure_reason="not_eligible")
    step(rejected, "triage", Stage.REFERRAL, opened=at(2025, 3, 4), done=at(2025, 3, 5))
    # Planned only in January 2026: at the end of 2025 it was still in verification.
    later = case(opened=at(2025, 4, 1), stage=Stage.INTERVENTION)
    step(later, "triage", Stage.REFERRAL, opened=at(2025, 4, 1), done=at(2025, 4, 2))
    step(later, "verification", Stage.VERIFICATION, opened=at(2025, 4, 2), done=at(2025, 4, 9))
    step(later, "plan", Stage.INTERVENTION, opened=at(2026, 1, 5))
    before = case(opened=at(2024, 12, 31))  # opened before the period: not counted
    step(before, "triage", Stage.REFERRAL, opened=at(2024, 12, 31))

    funnel = queries.funnel(CITY, YEAR_2025)

    assert funnel == {
        "total": 5,
        "reached": {"referral": 5, "verification": 3, "intervention": 1, "evaluation": 1, "graduated": 1},
        "now": {"referral": 1, "verification": 2, "intervention": 0, "evaluation": 0, "closed": 2},
    }


# --- overdue ---------------------------------------------------------------------------------------

def test_overdue_work_per_agency_is_measured_at_the_end_of_the_period(ctx):
    owner = case(opened=at(2025, 1, 5))
    step(owner, "verification", Stage.VERIFICATION, opened=at(2025, 11, 1), due=at(2025, 11, 15))      # open, late
    step(owner, "evaluation", Stage.EVALUATION, opened=at(2025, 12, 20), due=at(2026, 2, 1))            # open, on time
    step(owner, "plan", Stage.INTERVENTION, opened=at(2025, 10, 1), due=at(2025, 10, 5),
         done=at(2025, 10, 10))                                                                        # finished
    step(owner, "approval", Stage.VERIFICATION, opened=at(2025, 12, 1), due=at(2025, 12, 4),
         done=at(2026, 1, 10))                                                                         # late
    intervention(owner, "RTLH", created=at(2025, 6, 1), status=InterventionStatus.IN_PROGRESS,
                 due=at(2025, 9, 1))                                                                   # DPKP late
    intervention(owner, "DOKTER_KELUARGA", created=at(2025, 6, 1), status=InterventionStatus.DELIVERED,
                 delivered_on=date(2025, 11, 20), due=at(2025, 12, 1))                                 # delivered
    intervention(owner, "JKN_PBI", created=at(2025, 6, 1), due=at(2026, 3, 1))                         # DINKES on time
    intervention(owner, "MBG", created=at(2025, 9, 1), status=InterventionStatus.DELIVERED,
                 delivered_on=date(2026, 1, 5), due=at(2025, 10, 1))                                   # DISPENDIK late

    overdue = queries.overdue_by_agency(CITY, YEAR_2025)

    assert overdue == {
        "agencies": [
            {"agency": "DINKES", "name": "Dinas Kesehatan Kota Kediri", "open": 1, "overdue": 0},
            {"agency": "DINSOS", "name": "Dinas Sosial Kota Kediri", "open": 3, "overdue": 2},
            {"agency": "DISPENDIK", "name": "Dinas Pendidikan Kota Kediri", "open": 1, "overdue": 1},
            {"agency": "DPKP", "name": "Dinas Perumahan dan Kawasan Permukiman Kota Kediri", "open": 1, "overdue": 1},
        ],
        "total": {"open": 6, "overdue": 4},
    }
    only_dpkp = queries.overdue_by_agency(CITY, replace(YEAR_2025, agency="DPKP"))
    assert [(r["agency"], r["open"]) for r in only_dpkp["agencies"]] == [("DPKP", 1)]


# --- step durations: median and 90th percentile ----------------------------------------------------

def test_days_in_each_step_median_and_90th_percentile_by_agency(ctx):
    for days in (2, 4, 10):  # median 4; p90: h = 1 + 0.9·2 = 2.8 → 4 + 0.8·(10 − 4) = 8.8
        owner = case(opened=at(2025, 2, 1))
        step(owner, "verification", Stage.VERIFICATION, opened=at(2025, 2, 1, 8), done=at(2025, 2, 1 + days, 8))
    old = case(opened=at(2024, 5, 1))
    step(old, "verification", Stage.VERIFICATION, opened=at(2024, 5, 1), done=at(2024, 5, 30))  # finished in 2024
    step(old, "approval", Stage.VERIFICATION, opened=at(2025, 3, 1, 9), done=at(2025, 3, 2, 21))  # 1.5 days
    for days in (10, 20, 30, 40):  # median 25; p90: h = 1 + 0.9·3 = 3.7 → 30 + 0.7·10 = 37
        delivered(old, "RTLH", date(2025, 4, 21) + timedelta(days=days), created=at(2025, 4, 21, 8))
    rows = queries.step_durations(CITY, YEAR_2025)

    verification = by(rows, agency="DINSOS", step="verification")
    assert verification["n"] == 3
    assert verification["median"] == pytest.approx(4.0, abs=0.01)
    assert verification["p90"] == pytest.approx(8.8, abs=0.01)
    approval = by(rows, agency="DINSOS", step="approval_verification")
    assert (approval["n"], approval["median"], approval["p90"]) == (1, pytest.approx(1.5, abs=0.01),
                                                                   pytest.approx(1.5, abs=0.01))
    rtlh = by(rows, agency="DPKP", step="delivery")
    assert rtlh["n"] == 4
    assert rtlh["median"] == pytest.approx(25.0)
    assert rtlh["p90"] == pytest.approx(37.0)
    assert len(rows) == 3


def test_percentile_of_one_value_is_that_value_and_no_value_gives_no_row(ctx):
    owner = case(opened=at(2025, 2, 1))
    step(owner, "plan", Stage.INTERVENTION, opened=at(2025, 2, 1, 8), done=at(2025, 2, 8, 8))
    rows = queries.step_durations(CITY, YEAR_2025)
    assert [(r["step"], r["n"], r["median"], r["p90"]) for r in rows] == [("plan", 1, 7.0, 7.0)]
    assert queries.step_durations(CITY, ReportFilters(date(2023, 1, 1), date(2023, 12, 31))) == []


# --- interventions and budget ------------------------------------------------------------------------

@pytest.fixture
def spending(ctx):
    """Deliveries of 2025 over four programmes, tagged direct / indirect / supporting."""
    programme("JKN_PBI").budget_tag = "indirect"
    programme("PELATIHAN_KERJA").budget_tag = "supporting"
    owner = case(opened=at(2025, 1, 2))
    delivered(owner, "RTLH", date(2025, 3, 10), 20_000_000, created=at(2025, 2, 1))
    delivered(owner, "RTLH", date(2025, 8, 10), 20_000_000, created=at(2025, 2, 1))
    intervention(owner, "RTLH", created=at(2025, 11, 1), status=InterventionStatus.IN_PROGRESS)
    delivered(owner, "JKN_PBI", date(2025, 1, 20), 500_000, created=at(2025, 1, 10))
    delivered(owner, "PELATIHAN_KERJA", date(2025, 2, 1), 1_500_000, created=at(2024, 12, 1))  # queued in 2024
    intervention(owner, "DOKTER_KELUARGA", created=at(2025, 5, 1), status=InterventionStatus.CANCELLED)
    delivered(owner, "RTLH", date(2026, 2, 1), 20_000_000, created=at(2026, 1, 10))  # 2026: outside
    return owner


def test_interventions_by_programme_agency_and_strategy(spending):
    result = queries.interventions(CITY, YEAR_2025)

    assert [(r["code"], r["planned"], r["delivered"], r["amount"]) for r in result["programmes"]] == [
        ("DOKTER_KELUARGA", 1, 0, 0), ("JKN_PBI", 1, 1, 500_000), ("PELATIHAN_KERJA", 0, 1, 1_500_000),
        ("RTLH", 3, 2, 40_000_000),
    ]
    assert [(r["code"], r["planned"], r["delivered"], r["amount"]) for r in result["agencies"]] == [
        ("DINKES", 2, 1, 500_000), ("DKUMTK", 0, 1, 1_500_000), ("DPKP", 3, 2, 40_000_000),
    ]
    assert [(r["code"], r["planned"], r["delivered"], r["amount"]) for r in result["strategies"]] == [
        ("raise_income", 0, 1, 1_500_000), ("reduce_burden", 1, 1, 500_000), ("reduce_pockets", 4, 2, 40_000_000),
    ]
    assert result["total"] == {"planned": 5, "delivered": 4, "amount": 42_000_000}
    only_rtlh = queries.interventions(CITY, replace(YEAR_2025, programme="RTLH"))
    assert only_rtlh["total"] == {"planned": 3, "delivered": 2, "amount": 40_000_000}


def test_budget_by_agency_strategy_and_tag_up_to_and_within_the_quarter(spending):
    q3 = ReportFilters(date(2025, 1, 1), date(2025, 9, 30), focus_from=date(2025, 7, 1))

    budget = queries.budget(CITY, q3)

    assert [(r["agency"], r["strategy"], r["tag"], r["delivered"], r["amount"], r["delivered_focus"],
             r["amount_focus"]) for r in budget["rows"]] == [
        ("DINKES", "reduce_burden", "indirect", 1, 500_000, 0, 0),
        ("DKUMTK", "raise_income", "supporting", 1, 1_500_000, 0, 0),
        ("DPKP", "reduce_pockets", "direct", 2, 40_000_000, 1, 20_000_000),
    ]
    assert [(r["tag"], r["delivered"], r["amount"]) for r in budget["tags"]] == [
        ("direct", 2, 40_000_000), ("indirect", 1, 500_000), ("supporting", 1, 1_500_000)]
    assert budget["total"] == {"delivered": 4, "amount": 42_000_000, "delivered_focus": 1,
                               "amount_focus": 20_000_000}


# --- coverage ------------------------------------------------------------------------------------------

@pytest.fixture
def targets(ctx):
    """Four desil-1 households (two extreme-poor), one desil-2 and one that moved out."""
    db.session.add(PovertyLine(valid_from=date(2025, 1, 1), rupiah_per_capita_month=400_000, source="uji"))
    db.session.add(PovertyLine(valid_from=date(2026, 1, 1), rupiah_per_capita_month=450_000, source="uji 2026"))
    # 600 000 over three members (one with no income recorded) < 3 × 400 000: extreme; reached in May.
    a = household(BANDAR_LOR, incomes=(600_000, 0, None))
    delivered(case(a, opened=at(2025, 2, 1)), "RTLH", date(2025, 5, 1))
    household(BANDAR_LOR, incomes=(2_000_000,))                     # not extreme, not reached
    c = household(BANDAR_KIDUL, incomes=(None,))                    # income unknown: not counted extreme
    c_case = case(c, opened=at(2024, 10, 1))
    delivered(c_case, "JKN_PBI", date(2024, 12, 1))                 # delivered before the period
    step(c_case, "approval", Stage.VERIFICATION, opened=at(2025, 4, 1), done=at(2025, 4, 2),
         decision="approve_verification")
    d = household(SEMAMPIR, incomes=(100_000,))                     # extreme, reached in July; no NIK
    d.members[0].nik_hash = None
    delivered(case(d, opened=at(2025, 6, 1)), "JKN_PBI", date(2025, 7, 1))
    e = household(BANDAR_LOR, desil=2, incomes=(100_000,))          # desil 2: not a target
    delivered(case(e, opened=at(2025, 6, 1)), "RTLH", date(2025, 7, 1))
    household(BANDAR_LOR, incomes=(0,), status="moved_out")         # no longer in the register
    db.session.flush()


def test_coverage_of_desil_1_and_extreme_poor_households_by_kelurahan_kecamatan_and_city(targets):
    line = queries.poverty_line(YEAR_2025.as_of_date)
    assert line == {"rupiah_per_capita_month": 400_000, "valid_from": "2025-01-01", "source": "uji"}

    coverage = queries.coverage(CITY, YEAR_2025, line)

    def counts(row):
        return tuple(row[m] for m in queries.COVERAGE_MEASURES)
    # (desil1, desil1_covered, extreme, extreme_covered, documents, verified)
    assert counts(coverage["city"]) == (4, 2, 2, 2, 3, 1)
    assert {r["code"]: counts(r) for r in coverage["kecamatan"]} == {
        MOJOROTO: (3, 1, 1, 1, 3, 1), KOTA: (1, 1, 1, 1, 0, 0), PESANTREN: (0, 0, 0, 0, 0, 0)}
    kelurahan = {r["code"]: counts(r) for r in coverage["kelurahan"]}
    assert kelurahan[BANDAR_LOR] == (2, 1, 1, 1, 2, 0)
    assert kelurahan[BANDAR_KIDUL] == (1, 0, 0, 0, 1, 1)
    assert kelurahan[SEMAMPIR] == (1, 1, 1, 1, 0, 0)
    assert len(coverage["kelurahan"]) == 46  # every kelurahan of the city, reached or not

    only_rtlh = queries.coverage(CITY, replace(YEAR_2025, programme="RTLH"), line)
    assert counts(only_rtlh["city"]) == (4, 1, 2, 1, 3, 1)


def test_extreme_poverty_needs_a_dated_line_in_force(targets):
    assert queries.poverty_line(date(2024, 12, 31)) is None
    assert queries.poverty_line(date(2026, 3, 1))["rupiah_per_capita_month"] == 450_000
    coverage = queries.coverage(CITY, YEAR_2025, None)
    assert coverage["extreme_available"] is False
    assert coverage["city"]["extreme"] is None and coverage["city"]["desil1"] == 4


# --- graduation ------------------------------------------------------------------------------------------

def test_graduation_rate_and_days_to_graduation(ctx):
    for opened, closed in ((at(2025, 1, 1), at(2025, 1, 11)),   # 10 days
                           (at(2025, 2, 1), at(2025, 3, 3)),    # 30 days
                           (at(2025, 3, 1), at(2025, 3, 21))):  # 20 days
        case(opened=opened, stage=Stage.CLOSED, closed=closed, outcome="graduated")
    case(opened=at(2025, 1, 1), stage=Stage.CLOSED, closed=at(2025, 5, 1), outcome="refer_out")
    case(opened=at(2025, 1, 1), stage=Stage.CLOSED, closed=at(2025, 6, 1), closure_reason="not_eligible")
    case(opened=at(2024, 1, 1), stage=Stage.CLOSED, closed=at(2024, 12, 20), outcome="graduated")  # 2024

    graduation = queries.graduation(CITY, YEAR_2025)

    # rate 3 / 4; days 10, 20, 30 → median 20, p90 20 + 0.8 · 10 = 28
    assert graduation == {"closed": 5, "closed_after_evaluation": 4, "graduated": 3,
                          "median_days": pytest.approx(20.0), "p90_days": pytest.approx(28.0)}


# --- scope and filters ----------------------------------------------------------------------------------------

def test_kecamatan_scope_and_area_filters_narrow_every_indicator(ctx):
    for kelurahan, n in ((BANDAR_LOR, 2), (SEMAMPIR, 3)):
        for _ in range(n):
            owner = case(household(kelurahan), opened=at(2025, 5, 1))
            step(owner, "triage", Stage.REFERRAL, opened=at(2025, 5, 1))
    assert queries.funnel(Scope(MOJOROTO), YEAR_2025)["total"] == 2
    assert queries.funnel(Scope(KOTA), YEAR_2025)["total"] == 3
    assert queries.funnel(CITY, replace(YEAR_2025, kelurahan=SEMAMPIR))["total"] == 3
    assert queries.funnel(Scope(MOJOROTO), replace(YEAR_2025, kecamatan=KOTA))["total"] == 0  # scope wins
    coverage = queries.coverage(Scope(MOJOROTO), YEAR_2025, None)
    assert coverage["city"]["desil1"] == 2
    assert {r["code"] for r in coverage["kecamatan"]} == {MOJOROTO}
    assert {r["kecamatan"] for r in coverage["kelurahan"]} == {MOJOROTO}


def test_compute_figures_runs_a_fixed_number_of_statements(app, ctx):
    def statements() -> int:
        with counting(app) as seen:
            queries.compute_figures(CITY, YEAR_2025)
        return len(seen)

    statements()  # warm-up: the session's first statement may carry set-up
    small = statements()
    for i in range(30):
        owner = case(household(BANDAR_LOR if i % 2 else SEMAMPIR), opened=at(2025, 5, 1 + i % 20))
        step(owner, "verification", Stage.VERIFICATION, opened=at(2025, 5, 1), done=at(2025, 5, 3 + i % 7))
        delivered(owner, "RTLH", date(2025, 6, 1 + i % 20), 1_000_000)
    assert statements() == small == 9
