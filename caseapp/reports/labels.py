"""Words for the report's codes (Indonesian msgids; the English catalogue translates them)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

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

INTERVENTION_STATUSES = {
    "pending": _l("dalam antrean"),
    "claimed": _l("diambil petugas"),
    "in_progress": _l("sedang dikerjakan"),
    "delivered": _l("diserahkan"),
    "cancelled": _l("dibatalkan"),
}


def label(table: dict, code: str | None) -> str:
    return str(table.get(code, code or "–"))
