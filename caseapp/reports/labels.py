"""Words for the report's codes (Indonesian msgids; the English catalogue translates them)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# One vocabulary across the product: an intervention's status and the lookup helper are the case
# screens' own, so the report never names a status differently from the case page.
from caseapp.cases.labels import INTERVENTION_STATUSES, label

__all__ = ["INTERVENTION_STATUSES", "STAGES", "STEPS", "STRATEGIES", "TAGS", "label"]

STAGES = {
    "referral": _l("Rujukan"),
    "verification": _l("Verifikasi"),
    "intervention": _l("Intervensi"),
    "evaluation": _l("Evaluasi"),
    "graduated": _l("Lulus (graduasi)"),
    "closed": _l("Ditutup"),
}

STEPS = {
    "triage": _l("Telaah rujukan"),
    "verification": _l("Verifikasi (kunjungan rumah)"),
    "approval_verification": _l("Persetujuan verifikasi"),
    "plan": _l("Penyusunan rencana intervensi"),
    "approval_intervention": _l("Persetujuan rencana"),
    "evaluation": _l("Evaluasi"),
    "approval_evaluation": _l("Persetujuan evaluasi"),
    "delivery": _l("Penyerahan intervensi"),
}

STRATEGIES = {
    "reduce_burden": _l("Mengurangi beban pengeluaran"),
    "raise_income": _l("Meningkatkan pendapatan"),
    "reduce_pockets": _l("Mengurangi kantong kemiskinan"),
}

TAGS = {
    "direct": _l("Langsung"),
    "indirect": _l("Tidak langsung"),
    "supporting": _l("Pendukung"),
}
