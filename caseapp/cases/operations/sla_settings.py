"""SLA settings: days allowed per step kind and per programme, with reminder and escalation offsets.

Step kinds keep their days in ``sla_settings`` (``key`` = step kind); a programme keeps its days in
``programmes.sla_days`` (what new interventions read) and its offsets in ``sla_settings`` under its
code (what the SLA scan reads). Due dates are fixed when a step or intervention opens, so a change
applies to new steps only; the screen says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseapp.agencies.models import Programme
from caseapp.cases.models import SlaSetting
from caseapp.cases.workflow import DEFAULT_SLA_DAYS, StepKind
from caseapp.core.audit import record_audit_event
from caseapp.core.errors import ValidationFailed

DEFAULT_REMIND_DAYS = 2      # as caseapp.notifications.sla reads when no row exists
DEFAULT_ESCALATE_DAYS = 3
MAX_DAYS = 1095


@dataclass(frozen=True)
class SlaRow:
    key: str
    kind: str               # "step" | "programme"
    name: str
    days: int
    remind_days_before: int
    escalate_days_after: int
    customised: bool


def sla_rows(session: Session) -> list[SlaRow]:
    """Every step kind, then every programme, with the values in force."""
    settings = {s.key: s for s in session.scalars(select(SlaSetting))}
    rows = []
    for kind in StepKind:
        s = settings.get(kind.value)
        rows.append(SlaRow(kind.value, "step", kind.value, s.days if s else DEFAULT_SLA_DAYS[kind],
                           s.remind_days_before if s else DEFAULT_REMIND_DAYS,
                           s.escalate_days_after if s else DEFAULT_ESCALATE_DAYS, s is not None))
    for programme in session.scalars(select(Programme).order_by(Programme.code)):
        s = settings.get(programme.code)
        rows.append(SlaRow(programme.code, "programme", programme.name, programme.sla_days,
                           s.remind_days_before if s else DEFAULT_REMIND_DAYS,
                           s.escalate_days_after if s else DEFAULT_ESCALATE_DAYS, s is not None))
    return rows


def _number(errors: dict[str, list[str]], field: str, value: Any, low: int, high: int, message: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        errors[field] = [message]
    return number


def save_sla_setting(session: Session, actor, key: str, *, days: Any, remind_days_before: Any,
                     escalate_days_after: Any) -> SlaRow:
    """Set the days and offsets of one step kind or programme (audited; applies to new steps)."""
    current = {row.key: row for row in sla_rows(session)}.get(key)
    if current is None:
        raise ValidationFailed({"key": [_("Tahap atau program %(key)s tidak dikenal.", key=str(key)[:32])]})
    errors: dict[str, list[str]] = {}
    days = _number(errors, "days", days, 1, MAX_DAYS, _("Batas waktu: bilangan bulat 1 sampai 1095 hari."))
    remind = _number(errors, "remind_days_before", remind_days_before, 0, 60,
                     _("Pengingat: 0 sampai 60 hari sebelum jatuh tempo."))
    escalate = _number(errors, "escalate_days_after", escalate_days_after, 0, 90,
                       _("Eskalasi: 0 sampai 90 hari setelah jatuh tempo."))
    if not errors and remind >= days:
        errors["remind_days_before"] = [_("Pengingat harus lebih pendek dari batas waktunya (%(days)d hari).",
                                          days=days)]
    if errors:
        raise ValidationFailed(errors)
    setting = session.get(SlaSetting, key)
    if setting is None:
        setting = SlaSetting(key=key, days=days)
        session.add(setting)
    setting.days, setting.remind_days_before, setting.escalate_days_after = days, remind, escalate
    if current.kind == "programme":
        programme = session.scalar(select(Programme).where(Programme.code == key))
        programme.sla_days = days
    session.flush()
    before = {"days": current.days, "remind_days_before": current.remind_days_before,
              "escalate_days_after": current.escalate_days_after}
    after = {"days": days, "remind_days_before": remind, "escalate_days_after": escalate}
    if before != after:
        record_audit_event(session, actor_id=actor.id, action="update_sla_setting", object_type="sla_setting",
                           comment=key, before={"key": key, **before}, after={"key": key, **after})
    return SlaRow(key, current.kind, current.name, days, remind, escalate, True)
