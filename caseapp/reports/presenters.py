"""Raw figures → what a reader gets: suppression for aggregate-only roles, then derived shares.

A hidden value becomes ``None`` and its row gains ``"suppressed": {field: reason}``; shares, medians
and Rupiah amounts follow the counts they come from (see :mod:`caseapp.reports.suppression`).
"""

from __future__ import annotations

import copy

from caseapp.reports.queries import COVERAGE_MEASURES, STAGE_RANK
from caseapp.reports.suppression import COMPLEMENTARY, Disclosure

STAGES = [stage.value for stage in STAGE_RANK]
REACHED = ["referral", "verification", "intervention", "evaluation", "graduated"]
NOW = [*STAGES, "closed"]
# (derived field, the count it follows) per table
FOLLOWERS = {
    "durations": (("median", "n"), ("p90", "n")),
    "interventions": (("amount", "delivered"),),
    "budget": (("amount", "delivered"), ("amount_focus", "delivered_focus")),
    "graduation": (("median_days", "graduated"), ("p90_days", "graduated")),
}


def present(figures: dict, *, suppress: bool) -> dict:
    """A deep copy of *figures*, suppressed when *suppress*, with shares added."""
    fig = copy.deepcopy(figures)
    if suppress:
        _suppress(fig)
    _derive(fig)
    fig["suppression"] = {"applied": suppress, "threshold": 5}
    return fig


# --- suppression ---------------------------------------------------------------------------------

class _Cells:
    """Maps disclosure keys to (row dict, field) so hidden cells can be blanked afterwards."""

    def __init__(self) -> None:
        self.disclosure = Disclosure()
        self.where: dict[tuple, tuple[dict, str]] = {}

    def add(self, key: tuple, row: dict, field: str) -> tuple:
        self.disclosure.cell(key, row.get(field))
        self.where[key] = (row, field)
        return key

    def implied(self, key: tuple, value: int | None) -> tuple:
        self.disclosure.cell(key, value, implied=True)
        return key

    def add_sum(self, total: tuple, parts: list[tuple]) -> None:
        self.disclosure.add_sum(total, parts)


def _suppress(fig: dict) -> None:
    cells = _Cells()
    _funnel_cells(cells, fig["funnel"])
    _overdue_cells(cells, fig["overdue"])
    for i, row in enumerate(fig["durations"]):
        cells.add(("dur", i, "n"), row, "n")
    _intervention_cells(cells, fig["interventions"])
    _budget_cells(cells, fig["budget"])
    _coverage_cells(cells, fig["coverage"])
    _graduation_cells(cells, fig["graduation"])
    for key, reason in cells.disclosure.solve().items():
        row, field = cells.where[key]
        row[field] = None
        row.setdefault("suppressed", {})[field] = reason
    _follow(fig)


def _funnel_cells(cells: _Cells, funnel: dict) -> None:
    total = cells.add(("funnel", "total"), funnel, "total")
    reached = [cells.add(("reached", s), funnel["reached"], s) for s in REACHED]
    now = [cells.add(("now", s), funnel["now"], s) for s in NOW]
    cells.add_sum(total, now)
    cells.add_sum(total, [reached[0]])
    # Each stage = the next one + those that stopped there (implied); graduated ⊂ reached evaluation.
    for here, nxt, name_here, name_next in zip(reached, reached[1:], REACHED, REACHED[1:], strict=False):
        stopped = cells.implied(("stopped", name_here),
                                funnel["reached"][name_here] - funnel["reached"][name_next])
        cells.add_sum(here, [nxt, stopped])


def _overdue_cells(cells: _Cells, overdue: dict) -> None:
    rows, total = overdue["agencies"], overdue["total"]
    for field in ("open", "overdue"):
        cells.add(("overdue", "total", field), total, field)
    for row in rows:
        code = row["agency"]
        open_, late = cells.add(("overdue", code, "open"), row, "open"), cells.add(("overdue", code, "overdue"), row,
                                                                                   "overdue")
        on_time = cells.implied(("overdue", code, "on_time"), row["open"] - row["overdue"])
        cells.add_sum(open_, [late, on_time])
    for field in ("open", "overdue"):
        cells.add_sum(("overdue", "total", field), [("overdue", r["agency"], field) for r in rows])


def _intervention_cells(cells: _Cells, data: dict) -> None:
    for field in ("planned", "delivered"):
        total = cells.add(("iv", "total", field), data["total"], field)
        for level in ("programmes", "agencies", "strategies"):
            for row in data[level]:
                cells.add(("iv", level, row["code"], field), row, field)
        for group, attribute in (("agencies", "agency"), ("strategies", "strategy")):
            cells.add_sum(total, [("iv", group, row["code"], field) for row in data[group]])
            for row in data[group]:
                parts = [("iv", "programmes", p["code"], field) for p in data["programmes"]
                         if p[attribute] == row["code"]]
                cells.add_sum(("iv", group, row["code"], field), parts)


def _budget_cells(cells: _Cells, data: dict) -> None:
    if data["total"] is None:
        return
    fields = ("delivered", "delivered_focus") if data.get("focus_from") else ("delivered",)
    keyed = [(("budget", "row", i), row) for i, row in enumerate(data["rows"])]
    keyed += [(("budget", "tag", row["tag"]), row) for row in data["tags"]]
    keyed.append((("budget", "total"), data["total"]))
    for prefix, row in keyed:
        for field in fields:
            cells.add((*prefix, field), row, field)
        if data.get("focus_from"):  # cumulative = this quarter + before it
            before = cells.implied((*prefix, "before"), row["delivered"] - row["delivered_focus"])
            cells.add_sum((*prefix, "delivered"), [(*prefix, "delivered_focus"), before])
    for field in fields:
        for tag in data["tags"]:
            cells.add_sum(("budget", "tag", tag["tag"], field),
                          [("budget", "row", i, field) for i, r in enumerate(data["rows"]) if r["tag"] == tag["tag"]])
        cells.add_sum(("budget", "total", field), [("budget", "tag", tag["tag"], field) for tag in data["tags"]])


def _coverage_cells(cells: _Cells, data: dict) -> None:
    rows = [("kel", r["code"], r) for r in data["kelurahan"]] + [("kec", r["code"], r) for r in data["kecamatan"]]
    rows.append(("city", "", data["city"]))
    measures = [m for m in COVERAGE_MEASURES if data["city"].get(m) is not None]
    for level, code, row in rows:
        for m in measures:
            cells.add(("cov", level, code, m), row, m)
        key = lambda m, level=level, code=code: ("cov", level, code, m)  # noqa: E731
        within = [("desil1", "desil1_covered"), ("desil1", "documents"), ("desil1", "verified"),
                  ("desil1", "extreme"), ("extreme", "extreme_covered"), ("desil1_covered", "extreme_covered")]
        for whole, part in within:
            if whole in measures and part in measures:
                rest = cells.implied(("cov", level, code, f"{whole}-{part}"), row[whole] - row[part])
                cells.add_sum(key(whole), [key(part), rest])
    for m in measures:
        for kec in data["kecamatan"]:
            cells.add_sum(("cov", "kec", kec["code"], m),
                          [("cov", "kel", k["code"], m) for k in data["kelurahan"] if k["kecamatan"] == kec["code"]])
        cells.add_sum(("cov", "city", "", m), [("cov", "kec", k["code"], m) for k in data["kecamatan"]])


def _graduation_cells(cells: _Cells, data: dict) -> None:
    closed = cells.add(("grad", "closed"), data, "closed")
    after = cells.add(("grad", "after"), data, "closed_after_evaluation")
    graduated = cells.add(("grad", "graduated"), data, "graduated")
    cells.add_sum(after, [graduated, cells.implied(("grad", "refer_out"),
                                                   data["closed_after_evaluation"] - data["graduated"])])
    cells.add_sum(closed, [after, cells.implied(("grad", "other"), data["closed"] - data["closed_after_evaluation"])])


def _follow(fig: dict) -> None:
    """Hide derived values whose count is hidden."""
    groups = {
        "durations": fig["durations"],
        "interventions": [*fig["interventions"]["programmes"], *fig["interventions"]["agencies"],
                          *fig["interventions"]["strategies"], fig["interventions"]["total"]],
        "budget": [*fig["budget"]["rows"], *fig["budget"]["tags"]] + ([fig["budget"]["total"]]
                                                                      if fig["budget"]["total"] else []),
        "graduation": [fig["graduation"]],
    }
    for table, rows in groups.items():
        for row in rows:
            for derived, count in FOLLOWERS[table]:
                if row.get(count) is None and derived in row:
                    row[derived] = None
                    row.setdefault("suppressed", {})[derived] = COMPLEMENTARY


# --- derived shares ------------------------------------------------------------------------------

def share(part: int | None, whole: int | None) -> float | None:
    """part / whole as a fraction, or None when either is hidden or the whole is zero."""
    if part is None or not whole:
        return None
    return round(part / whole, 4)


def _derive(fig: dict) -> None:
    coverage = fig["coverage"]
    for row in [*coverage["kelurahan"], *coverage["kecamatan"], coverage["city"]]:
        row["desil1_share"] = share(row["desil1_covered"], row["desil1"])
        row["extreme_share"] = share(row.get("extreme_covered"), row.get("extreme"))
        row["documents_share"] = share(row["documents"], row["desil1"])
        row["verified_share"] = share(row["verified"], row["desil1"])
    for row in [*fig["overdue"]["agencies"], fig["overdue"]["total"]]:
        row["share"] = share(row["overdue"], row["open"])
    grad = fig["graduation"]
    grad["rate"] = share(grad["graduated"], grad["closed_after_evaluation"])
    budget = fig["budget"]
    total_amount = budget["total"]["amount"] if budget["total"] else None
    for row in budget["tags"]:
        row["share"] = share(row["amount"], total_amount)
