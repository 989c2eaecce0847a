"""The data behind each dashboard chart, read by ``static/js/dashboard.js`` from a JSON block.

Built from the *presented* figures, so a hidden count is a gap (``null``) in the chart too.
"""

from __future__ import annotations

from flask_babel import gettext as _

from caseapp.reports import labels
from caseapp.reports.presenters import NOW, REACHED


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def chart_data(fig: dict) -> dict:
    funnel = fig["funnel"]
    overdue = fig["overdue"]["agencies"]
    durations = [row for row in fig["durations"] if row["median"] is not None]
    coverage_level, coverage = _coverage_rows(fig["coverage"])
    # Where the on-time / late split is hidden, the open total (public) still shows, in grey.
    unsplit = [row["open"] if row["overdue"] is None else None for row in overdue]
    strategies = fig["interventions"]["strategies"]
    agencies = fig["interventions"]["agencies"]
    return {
        "funnel": {
            "labels": [labels.label(labels.STAGES, s) for s in REACHED],
            "series": [{"label": _("Pernah mencapai tahap"), "data": [funnel["reached"][s] for s in REACHED]}],
        },
        "stages": {
            "labels": [labels.label(labels.STAGES, s) for s in NOW],
            "series": [{"label": _("Kasus pada tahap ini"), "data": [funnel["now"][s] for s in NOW]}],
        },
        "overdue": {
            "labels": [row["agency"] for row in overdue],
            "stacked": True,
            "series": [
                {"label": _("Tepat waktu"), "tone": "ok",
                 "data": [None if row["open"] is None or row["overdue"] is None else row["open"] - row["overdue"]
                          for row in overdue]},
                {"label": _("Terlambat"), "tone": "late", "data": [row["overdue"] for row in overdue]},
                *([{"label": _("Terbuka, rincian disembunyikan"), "tone": "muted", "data": unsplit}]
                  if any(v is not None for v in unsplit) else []),
            ],
        },
        "durations": {
            # Two-line labels (agency, step) stay readable on a phone.
            "labels": [[row["agency"], labels.label(labels.STEPS, row["step"])] for row in durations],
            "series": [
                {"label": _("Median (hari)"), "data": [row["median"] for row in durations]},
                {"label": _("Persentil ke-90 (hari)"), "tone": "late", "data": [row["p90"] for row in durations]},
            ],
        },
        "strategies": {
            "labels": [labels.label(labels.STRATEGIES, row["code"]) for row in strategies],
            "series": [{"label": _("Intervensi tersalurkan"), "data": [row["delivered"] for row in strategies]}],
        },
        "agencies": {
            "labels": [row["code"] for row in agencies],
            "series": [
                {"label": _("Direncanakan"), "tone": "muted", "data": [row["planned"] for row in agencies]},
                {"label": _("Tersalurkan"), "data": [row["delivered"] for row in agencies]},
            ],
        },
        "coverage": {
            "labels": [row["name"] for row in coverage],
            "level": coverage_level,
            "hidden": len(fig["coverage"][coverage_level]) - len(coverage),
            "percent": True,
            "series": [
                {"label": _("Desil 1 terjangkau (%)"), "data": [_percent(row["desil1_share"]) for row in coverage]},
                *([{"label": _("Miskin ekstrem terjangkau (%)"), "tone": "late",
                    "data": [_percent(row["extreme_share"]) for row in coverage]}]
                  if fig["coverage"]["extreme_available"] else []),
            ],
        },
    }


def _coverage_rows(coverage: dict) -> tuple[str, list[dict]]:
    """Kelurahan with a visible share, lowest first (where to act next); when most kelurahan are hidden
    (small numbers for aggregate readers) the chart falls back to the kecamatan."""
    def visible(rows):
        return [row for row in rows if row["desil1"] and row["desil1_share"] is not None]

    with_targets = [row for row in coverage["kelurahan"] if row["desil1"] != 0]
    kelurahan = visible(coverage["kelurahan"])
    if len(kelurahan) * 2 >= len(with_targets):
        return "kelurahan", sorted(kelurahan, key=lambda row: (row["desil1_share"], row["name"]))
    rows = sorted(visible(coverage["kecamatan"]), key=lambda row: (row["desil1_share"], row["name"]))
    if len(coverage["kecamatan"]) > 1:  # the whole area as the last bar, for comparison
        rows += [coverage["city"] | {"name": _("Kota Kediri")}] if visible([coverage["city"]]) else []
    return "kecamatan", rows
