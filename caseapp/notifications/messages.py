"""What each kind of notification says, rendered from its payload in the reader's language.

Payloads are data (case number, actor's name, dates, counts), never prose, so one row can be read in
Indonesian in the notification centre and sent in English to a recipient whose locale is ``en``.
Call :func:`render` inside ``flask_babel.force_locale`` to pick the language. msgids are Indonesian.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from caseapp.cases.labels import STAGES
from caseapp.cases.models import Stage
from caseapp.notifications.models import Kind

TITLES = {
    Kind.NEW_REFERRAL: _l("Rujukan baru %(case)s menunggu ditelaah"),
    Kind.ASSIGNED: _l("Kasus %(case)s ditugaskan kepada Anda"),
    Kind.REFERRAL_ACCEPTED: _l("Rujukan %(case)s diterima"),
    Kind.REFERRAL_REJECTED: _l("Rujukan %(case)s ditolak"),
    Kind.APPROVAL_REQUESTED: _l("Kasus %(case)s menunggu persetujuan Anda"),
    Kind.APPROVED: _l("Langkah kasus %(case)s disetujui"),
    Kind.RETURNED: _l("Kasus %(case)s dikembalikan dengan komentar"),
    Kind.NEW_IN_QUEUE: _l("Intervensi baru di antrean dinas Anda: %(case)s"),
    Kind.EVALUATION_DUE: _l("Kasus %(case)s siap dievaluasi"),
    Kind.CLOSED: _l("Kasus %(case)s ditutup"),
    Kind.DUE_SOON: _l("%(task)s kasus %(case)s jatuh tempo %(date)s"),
    Kind.DUE_TODAY: _l("%(task)s kasus %(case)s jatuh tempo hari ini"),
    Kind.OVERDUE: _l("%(task)s kasus %(case)s terlambat sejak %(date)s"),
    Kind.ESCALATION: _l("Eskalasi: %(task)s kasus %(case)s terlambat %(days)s hari"),
    Kind.DIGEST: _l("Ringkasan pekerjaan terbuka Anda, %(date)s"),
}

# Short names for the preferences page.
KIND_LABELS = {
    Kind.NEW_REFERRAL: _l("Rujukan baru di wilayah saya"),
    Kind.ASSIGNED: _l("Kasus ditugaskan kepada saya"),
    Kind.REFERRAL_ACCEPTED: _l("Rujukan saya diterima"),
    Kind.REFERRAL_REJECTED: _l("Rujukan saya ditolak"),
    Kind.APPROVAL_REQUESTED: _l("Permintaan persetujuan"),
    Kind.APPROVED: _l("Langkah saya disetujui"),
    Kind.RETURNED: _l("Dikembalikan dengan komentar"),
    Kind.NEW_IN_QUEUE: _l("Intervensi baru di antrean dinas"),
    Kind.EVALUATION_DUE: _l("Kasus siap dievaluasi"),
    Kind.CLOSED: _l("Kasus ditutup"),
    Kind.DUE_SOON: _l("Jatuh tempo dua hari lagi"),
    Kind.DUE_TODAY: _l("Jatuh tempo hari ini"),
    Kind.OVERDUE: _l("Terlambat"),
    Kind.ESCALATION: _l("Eskalasi (terlambat 3 hari atau lebih)"),
    Kind.DIGEST: _l("Ringkasan harian pukul 07.00 WIB"),
}

# The unit of work a reminder is about (step kinds of cases.workflow, plus interventions).
TASKS = {
    "triage": _l("Telaah rujukan"),
    "verification": _l("Verifikasi"),
    "plan": _l("Rencana intervensi"),
    "evaluation": _l("Evaluasi"),
    "approval": _l("Persetujuan penyelia"),
}
INTERVENTION_TASK = _l("Intervensi %(program)s")

BY_ACTOR = _l("Oleh %(actor)s. Tahap sekarang: %(stage)s.")
RETURNED_BODY = _l("%(actor)s mengembalikan langkah ini dengan komentar. Buka kasus untuk membaca komentar "
                   "dan memperbaikinya.")
DUE_BODY = _l("Jatuh tempo: %(date)s.")
ESCALATION_BODY = _l("Jatuh tempo %(date)s. Mohon tindak lanjuti bersama petugasnya.")
DIGEST_BODY = _l("Pekerjaan terbuka: %(open)s · terlambat: %(overdue)s · jatuh tempo hari ini: %(due_today)s")
DIGEST_ITEM = _l("%(task)s kasus %(case)s, jatuh tempo %(date)s")
OVERDUE_MARK = _l("terlambat")


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    items: list[str] = field(default_factory=list)


def _date(value: str | None) -> str:
    if not value:
        return "–"
    try:
        return format_date(date.fromisoformat(value), "medium")
    except ValueError:
        return "–"


def task_label(payload: dict) -> str:
    if payload.get("program"):
        return str(INTERVENTION_TASK % {"program": payload["program"]})
    label = TASKS.get(str(payload.get("task", "")))
    return str(label) if label is not None else str(payload.get("task", ""))


def _stage(payload: dict) -> str:
    try:
        return str(STAGES[Stage(payload.get("stage"))])
    except (KeyError, ValueError):
        return str(payload.get("stage") or "–")


def render(kind: str, payload: dict) -> Rendered:
    """Title, body and (for the digest) item lines of one notification, in the current locale."""
    payload = payload or {}
    params = {
        "case": payload.get("case_number") or "–",
        "task": task_label(payload),
        "date": _date(payload.get("due_date") or payload.get("date")),
        "days": payload.get("days", 0),
    }
    try:
        known = Kind(kind)
    except ValueError:
        return Rendered(title=str(kind), body="")
    title = str(TITLES[known] % params)
    items: list[str] = []
    if known == Kind.RETURNED:
        body = str(RETURNED_BODY % {"actor": payload.get("actor") or "–"})
    elif known in (Kind.DUE_SOON, Kind.DUE_TODAY, Kind.OVERDUE):
        body = str(DUE_BODY % {"date": params["date"]})
    elif known == Kind.ESCALATION:
        body = str(ESCALATION_BODY % {"date": params["date"]})
    elif known == Kind.DIGEST:
        counts = payload.get("counts") or {}
        body = str(DIGEST_BODY % {"open": counts.get("open", 0), "overdue": counts.get("overdue", 0),
                                  "due_today": counts.get("due_today", 0)})
        for item in payload.get("items") or []:
            line = str(DIGEST_ITEM % {"task": task_label(item), "case": item.get("case_number") or "–",
                                      "date": _date(item.get("due_date"))})
            items.append(f"{line} ({OVERDUE_MARK})" if item.get("overdue") else line)
    else:
        body = str(BY_ACTOR % {"actor": payload.get("actor") or "Sinergi", "stage": _stage(payload)})
    return Rendered(title=title, body=body, items=items)
