"""Small-count suppression (caseapp/reports/suppression.py): the rule on hand-made tables, and a
property test that no published sum ever leaves exactly one hidden cell to be recovered."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from caseapp.reports.presenters import present
from caseapp.reports.suppression import COMPLEMENTARY, PRIMARY, Disclosure


def test_a_count_from_1_to_4_is_hidden_and_so_is_its_smallest_partner_in_a_sum():
    d = Disclosure()
    for key, value in (("a", 3), ("b", 10), ("c", 25), ("total", 38)):
        d.cell(key, value)
    d.add_sum("total", ["a", "b", "c"])
    assert d.solve() == {"a": PRIMARY, "b": COMPLEMENTARY}


def test_zero_is_shown_and_five_is_shown():
    d = Disclosure()
    for key, value in (("a", 0), ("b", 5), ("total", 5)):
        d.cell(key, value)
    d.add_sum("total", ["a", "b"])
    assert d.solve() == {}


def test_a_small_implied_remainder_hides_a_printed_cell():
    """Target 10, reached 8: "2 not reached" follows by subtraction, so "reached" is hidden."""
    d = Disclosure()
    d.cell("target", 10)
    d.cell("reached", 8)
    d.cell("not_reached", 2, implied=True)
    d.add_sum("target", ["reached", "not_reached"])
    assert d.solve() == {"reached": COMPLEMENTARY}


def test_hiding_cascades_through_subtotals():
    """Kelurahan 2 and 7 make kecamatan 9; kecamatan 9 and 30 make the city 39."""
    d = Disclosure()
    for key, value in (("kel1", 2), ("kel2", 7), ("kec1", 9), ("kec2", 30), ("city", 39), ("kel3", 30)):
        d.cell(key, value)
    d.add_sum("kec1", ["kel1", "kel2"])
    d.add_sum("kec2", ["kel3"])
    d.add_sum("city", ["kec1", "kec2"])
    assert d.solve() == {"kel1": PRIMARY, "kel2": COMPLEMENTARY}


def test_a_lone_hidden_total_hides_a_part():
    d = Disclosure()
    for key, value in (("total", 4), ("a", 0), ("b", 0), ("c", 4)):
        d.cell(key, value)
    d.add_sum("total", ["a", "b", "c"])
    hidden = d.solve()
    assert hidden["total"] == PRIMARY and hidden["c"] == PRIMARY


GROUP = st.tuples(st.lists(st.integers(0, 12), min_size=1, max_size=5), st.integers(0, 9))


@given(st.lists(GROUP, min_size=1, max_size=5))
def test_no_sum_ever_has_exactly_one_protected_unknown(groups):
    """Random tables: rows add up to a group, groups to a total, and each group is the reached part
    of a published target (target − group is implied). After solving, no sum has exactly one unknown
    cell unless that one is an implied remainder that is not small."""
    d = Disclosure()
    for g, (rows, rest) in enumerate(groups):
        for r, value in enumerate(rows):
            d.cell(("row", g, r), value)
        d.cell(("group", g), sum(rows))
        d.add_sum(("group", g), [("row", g, r) for r in range(len(rows))])
        d.cell(("target", g), sum(rows) + rest)
        d.cell(("rest", g), rest, implied=True)
        d.add_sum(("target", g), [("group", g), ("rest", g)])
    d.cell("total", sum(sum(rows) for rows, _rest in groups))
    d.add_sum("total", [("group", g) for g in range(len(groups))])
    hidden = d.solve()
    unknown = set(hidden) | d.implied
    for total, parts in d.sums:
        lone = [m for m in (total, *parts) if m in unknown]
        assert len(lone) != 1 or (lone[0] in d.implied and not d.small(lone[0]))
    assert all(d.small(k) for k, reason in hidden.items() if reason == PRIMARY)
    assert not any(d.small(k) for k in d.values if k not in d.implied and k not in hidden)


def figures() -> dict:
    """A minimal figures dict in the shape compute_figures returns."""
    return {
        "schema": 1, "scope": {"kecamatan": None}, "filters": {}, "as_of": "2026-01-01T00:00:00+07:00",
        "poverty_line": None,
        "funnel": {"total": 20, "reached": {"referral": 20, "verification": 17, "intervention": 10, "evaluation": 6,
                                            "graduated": 3},
                   "now": {"referral": 3, "verification": 7, "intervention": 4, "evaluation": 3, "closed": 3}},
        "overdue": {"agencies": [{"agency": "DINSOS", "name": "x", "open": 30, "overdue": 2},
                                 {"agency": "DPKP", "name": "y", "open": 12, "overdue": 6}],
                    "total": {"open": 42, "overdue": 8}},
        "durations": [{"agency": "DINSOS", "name": "x", "step": "plan", "n": 3, "median": 4.0, "p90": 8.8},
                      {"agency": "DINSOS", "name": "x", "step": "verification", "n": 9, "median": 2.0, "p90": 5.0}],
        "interventions": {
            "programmes": [{"code": "RTLH", "name": "r", "agency": "DPKP", "strategy": "reduce_pockets",
                            "planned": 9, "delivered": 2, "amount": 40_000_000},
                           {"code": "DOKTER_KELUARGA", "name": "d", "agency": "DINKES", "strategy": "reduce_pockets",
                            "planned": 12, "delivered": 8, "amount": 0}],
            "agencies": [{"code": "DINKES", "name": "k", "planned": 12, "delivered": 8, "amount": 0},
                         {"code": "DPKP", "name": "p", "planned": 9, "delivered": 2, "amount": 40_000_000}],
            "strategies": [{"code": "reduce_pockets", "name": "reduce_pockets", "planned": 21, "delivered": 10,
                            "amount": 40_000_000}],
            "total": {"planned": 21, "delivered": 10, "amount": 40_000_000}},
        "budget": {"rows": [{"agency": "DPKP", "name": "p", "strategy": "reduce_pockets", "tag": "direct",
                             "delivered": 2, "amount": 40_000_000},
                            {"agency": "DINKES", "name": "k", "strategy": "reduce_pockets", "tag": "direct",
                             "delivered": 8, "amount": 0}],
                   "tags": [{"tag": "direct", "delivered": 10, "amount": 40_000_000}],
                   "total": {"delivered": 10, "amount": 40_000_000}, "focus_from": None},
        "coverage": {
            "kelurahan": [{"code": "k1", "name": "K1", "kecamatan": "m", "desil1": 12, "desil1_covered": 10,
                           "extreme": None, "extreme_covered": None, "documents": 12, "verified": 6},
                          {"code": "k2", "name": "K2", "kecamatan": "m", "desil1": 30, "desil1_covered": 15,
                           "extreme": None, "extreme_covered": None, "documents": 25, "verified": 20}],
            "kecamatan": [{"code": "m", "name": "M", "kecamatan": None, "desil1": 42, "desil1_covered": 25,
                           "extreme": None, "extreme_covered": None, "documents": 37, "verified": 26}],
            "city": {"desil1": 42, "desil1_covered": 25, "extreme": None, "extreme_covered": None, "documents": 37,
                     "verified": 26},
            "extreme_available": False},
        "graduation": {"closed": 9, "closed_after_evaluation": 6, "graduated": 3, "median_days": 40.0,
                       "p90_days": 70.0},
    }


def test_viewers_get_hidden_cells_and_derived_values_follow_their_counts():
    raw = figures()
    fig = present(raw, suppress=True)
    assert raw == figures(), "presenting never changes the raw figures (snapshots stay raw)"

    funnel = fig["funnel"]
    assert funnel["now"]["referral"] is None and funnel["now"]["suppressed"]["referral"] == PRIMARY
    assert sum(1 for v in funnel["now"].values() if v is None) >= 2
    assert funnel["reached"]["graduated"] is None

    plan, verification = fig["durations"]
    assert (plan["n"], plan["median"], plan["p90"]) == (None, None, None)
    assert verification["median"] == 2.0

    rtlh = fig["interventions"]["programmes"][0]
    assert rtlh["delivered"] is None and rtlh["amount"] is None, "Rupiah of 2 deliveries is hidden with them"
    dpkp = next(r for r in fig["interventions"]["agencies"] if r["code"] == "DPKP")
    assert dpkp["delivered"] is None and dpkp["amount"] is None

    k1 = fig["coverage"]["kelurahan"][0]
    assert k1["desil1_covered"] is None, "12 − 10 = 2 not reached would single out two households"
    assert k1["desil1_share"] is None

    grad = fig["graduation"]
    assert grad["graduated"] is None and grad["rate"] is None and grad["median_days"] is None
    dinsos = fig["overdue"]["agencies"][0]
    assert dinsos["overdue"] is None and dinsos["share"] is None
    assert fig["suppression"] == {"applied": True, "threshold": 5}


def test_supervisors_and_admins_get_every_count():
    fig = present(figures(), suppress=False)
    assert fig["funnel"]["now"]["referral"] == 3
    assert fig["graduation"]["rate"] == 0.5
    assert fig["coverage"]["city"]["desil1_share"] == round(25 / 42, 4)
    assert "suppressed" not in fig["funnel"]["now"]
    assert fig["suppression"]["applied"] is False


def test_suppressed_figures_leave_no_lone_hidden_cell_in_the_funnel():
    fig = present(copy.deepcopy(figures()), suppress=True)
    now = fig["funnel"]["now"]
    assert [k for k, v in now.items() if k != "suppressed" and v is None] != ["referral"]
