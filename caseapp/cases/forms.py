"""Forms of the case screens (Flask-WTF, CSRF on every POST).

The workflow's own checks (required fields, choices, guards) stay in ``transition_case``: these
forms render the fields, carry the version the user was shown, and turn the posted values into the
operation's arguments. Field errors from the operation are put back on the fields they name.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from caseapp.cases import labels
from caseapp.cases.workflow import Action

PLAN_ROWS = 5
MAX_PLAN_ROWS = 20
TEXT_MAX = 4000
_MONEY_NOISE = re.compile(r"(?i)rp\.?|\s")


def unique_ids(form: Form, prefix: str) -> Form:
    """Give every field an id unique on the page (several forms share field names like ``comment``)."""
    for field in form:
        if isinstance(field, FieldList):
            for entry in field:
                for sub in entry.form:
                    sub.id = sub.label.field_id = f"{prefix}-{sub.name}"
        else:
            field.id = field.label.field_id = f"{prefix}-{field.name}"
    return form


def add_errors(form: Form, errors: dict[str, list[str]]) -> list[str]:
    """Put an operation's field errors on the form's fields; returns those that match no field."""
    unplaced = []
    for name, messages in errors.items():
        target = getattr(form, name, None) if name in form else None
        if target is None:
            unplaced.extend(messages)
            continue
        target.errors = [*list(target.errors or ()), *messages]
    return unplaced


def money(raw: str | None) -> str | None:
    """"Rp 20.000.000" or "20000000" → "20000000"; blank → None (the operation validates the number)."""
    text = _MONEY_NOISE.sub("", raw or "")
    if not text:
        return None
    if re.fullmatch(r"\d{1,3}(\.\d{3})+(,\d+)?", text):  # Indonesian thousands dots
        text = text.replace(".", "").replace(",", ".")
    return text.replace(",", ".")


def options(items, blank=None) -> list[SelectChoice]:
    """(value, label[, group]) tuples → SelectChoice list, with an optional blank first option."""
    out = [SelectChoice("", blank)] if blank is not None else []
    for value, label, *group in items:
        out.append(SelectChoice(str(value), label, optgroup=group[0] if group else None))
    return out


def _blank_to_none(value: Any) -> Any:
    return None if value in ("", None) else value


# --- caseload --------------------------------------------------------------------------------

SORT_CHOICES = options([
    ("due", _l("Jatuh tempo")), ("opened", _l("Tanggal dibuka")), ("number", _l("Nomor kasus")),
    ("name", _l("Nama kepala keluarga")), ("desil", _l("Desil")),
])
PER_PAGE_CHOICES = options([("25", "25"), ("50", "50"), ("100", "100")])


class CaseFilterForm(Form):
    """The caseload's filters; a GET form (plain WTForms: no CSRF, the values live in the URL)."""

    q = StringField(_l("Nama atau nomor kasus"), validators=[Optional(), Length(max=100)],
                    render_kw={"placeholder": _l("Nama atau nomor kasus"), "autocomplete": "off"})
    stage = HiddenField()
    status = SelectField(_l("Status"), validate_choice=False)
    kelurahan = SelectField(_l("Kelurahan"), validate_choice=False)
    programme = SelectField(_l("Program"), validate_choice=False)
    desil = SelectField(_l("Desil"), validate_choice=False,
                        choices=options([(n, str(n)) for n in range(1, 11)], _l("Semua desil")))
    overdue = BooleanField(_l("Hanya yang terlambat"))
    sort = SelectField(_l("Urutkan"), choices=SORT_CHOICES, validate_choice=False)
    dir = SelectField(_l("Arah"), choices=options([("asc", _l("Naik")), ("desc", _l("Turun"))]),
                      validate_choice=False)
    per_page = SelectField(_l("Per halaman"), choices=PER_PAGE_CHOICES, validate_choice=False)

    def set_choices(self, kelurahan, programmes) -> CaseFilterForm:
        self.status.choices = options([(k.value, v) for k, v in labels.STATUSES.items()], _l("Semua status"))
        self.kelurahan.choices = options([(o.value, o.label, o.group) for o in kelurahan], _l("Semua kelurahan"))
        self.programme.choices = options([(o.value, o.label, o.group) for o in programmes], _l("Semua program"))
        return self


class IdentitySearchForm(FlaskForm):
    """Exact NIK/KK search: posted, never put in a URL."""

    number = StringField(
        _l("NIK atau nomor KK"),
        validators=[DataRequired(_l("Isi 16 angka NIK atau nomor KK.")), Length(max=40)],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "placeholder": "3571…"},
    )


# --- referral --------------------------------------------------------------------------------

class ReferralForm(FlaskForm):
    source = SelectField(_l("Sumber rujukan"), validate_choice=False)
    reason = TextAreaField(
        _l("Alasan rujukan"),
        validators=[DataRequired(_l("Tulis alasan rujukan: apa yang dialami rumah tangga ini.")),
                    Length(max=TEXT_MAX)],
        render_kw={"rows": 4},
    )


# --- case actions ----------------------------------------------------------------------------

class CaseActionForm(FlaskForm):
    """Base of every action form: which action, and the case version the user saw."""

    action = HiddenField()
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])

    def payload(self) -> dict[str, Any]:
        return {}


class CommentMixin:
    def _comment(self) -> dict[str, Any]:
        value = (self.comment.data or "").strip()
        return {"comment": value} if value else {}


class ApproveForm(CaseActionForm, CommentMixin):
    comment = TextAreaField(_l("Catatan (tidak wajib)"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 2})

    def payload(self):
        return self._comment()


class ReturnForm(CaseActionForm):
    comment = TextAreaField(_l("Apa yang harus diperbaiki?"), validators=[Length(max=TEXT_MAX)],
                            render_kw={"rows": 3})

    def payload(self):
        return {"comment": self.comment.data or ""}


class AssignForm(CaseActionForm):
    assignee_id = SelectField(_l("Pekerja sosial"), validate_choice=False)

    def payload(self):
        return {"assignee_id": _blank_to_none(self.assignee_id.data)}


class ReopenForm(CaseActionForm):
    comment = TextAreaField(_l("Alasan membuka kembali"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 2})
    assignee_id = SelectField(_l("Pekerja sosial"), validate_choice=False)

    def payload(self):
        data = {"comment": self.comment.data or ""}
        if self.assignee_id.data:
            data["assignee_id"] = self.assignee_id.data
        return data


class ReasonForm(CaseActionForm, CommentMixin):
    reason = SelectField(_l("Alasan"), validate_choice=False)
    comment = TextAreaField(_l("Keterangan (tidak wajib)"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 2})

    def payload(self):
        return {"reason": self.reason.data or "", **self._comment()}


class VerificationForm(CaseActionForm):
    findings = TextAreaField(
        _l("Hasil kunjungan rumah"), validators=[Length(max=TEXT_MAX)],
        render_kw={"rows": 5, "placeholder": _l("Tanggal kunjungan, kondisi rumah dan keluarga, "
                                                 "kebutuhan utama, dokumen yang dicek…")})

    def payload(self):
        return {"findings": self.findings.data or ""}


class EvaluationForm(CaseActionForm):
    outcome = SelectField(_l("Hasil evaluasi"), validate_choice=False)
    findings = TextAreaField(_l("Catatan evaluasi"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 4})

    def payload(self):
        data = {"outcome": self.outcome.data or ""}
        if (self.findings.data or "").strip():
            data["findings"] = self.findings.data
        return data


class PlanRowForm(Form):
    program = SelectField(_l("Program"), validate_choice=False)
    person_id = SelectField(_l("Penerima"), validate_choice=False)
    note = StringField(_l("Catatan"), validators=[Length(max=1000)])
    amount = StringField(_l("Nilai (Rp)"), validators=[Length(max=30)],
                         render_kw={"inputmode": "decimal", "placeholder": _l("mis. 20.000.000")})


class PlanForm(CaseActionForm):
    rows = FieldList(FormField(PlanRowForm), min_entries=PLAN_ROWS, max_entries=MAX_PLAN_ROWS)

    def set_choices(self, programmes, members) -> PlanForm:
        programme_choices = options(programmes, _l("— tidak dipakai —"))
        person_choices = options(members, _l("Seluruh rumah tangga"))
        for row in self.rows:
            row.form.program.choices = programme_choices
            row.form.person_id.choices = person_choices
        return self

    def payload(self):
        items = []
        for row in self.rows:
            data = row.form
            if not data.program.data:
                continue
            item: dict[str, Any] = {"program": data.program.data}
            if data.person_id.data:
                item["person_id"] = data.person_id.data
            if (data.note.data or "").strip():
                item["note"] = data.note.data.strip()
            if money(data.amount.data) is not None:
                item["amount"] = money(data.amount.data)
            items.append(item)
        return {"interventions": items}


FORMS: dict[Action, type[CaseActionForm]] = {
    Action.ACCEPT_REFERRAL: AssignForm,
    Action.REJECT_REFERRAL: ReasonForm,
    Action.SUBMIT_VERIFICATION: VerificationForm,
    Action.APPROVE_VERIFICATION: ApproveForm,
    Action.RETURN_VERIFICATION: ReturnForm,
    Action.SUBMIT_PLAN: PlanForm,
    Action.APPROVE_PLAN: ApproveForm,
    Action.RETURN_PLAN: ReturnForm,
    Action.SUBMIT_EVALUATION: EvaluationForm,
    Action.APPROVE_EVALUATION: ApproveForm,
    Action.RETURN_EVALUATION: ReturnForm,
    Action.CLOSE_CASE: ReasonForm,
    Action.REOPEN_CASE: ReopenForm,
    Action.REASSIGN: AssignForm,
}

REASON_CHOICES = {Action.REJECT_REFERRAL: labels.REJECT_REASONS, Action.CLOSE_CASE: labels.CLOSE_REASONS}


class UploadForm(FlaskForm):
    """Evidence for an intervention (posted to the attachments blueprint, which checks the file)."""

    file = FileField(_l("Unggah bukti (foto, SK, kuitansi)"),
                     render_kw={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"})


# --- interventions ---------------------------------------------------------------------------

class InterventionActionForm(FlaskForm):
    """claim / start / milestone / deliver / cancel; only the fields of the chosen action are shown."""

    action = HiddenField()
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    back = HiddenField()   # "queue" or "case": where to go afterwards
    milestone = HiddenField()
    delivered_on = StringField(_l("Tanggal diserahkan"), render_kw={"type": "date"})
    note = TextAreaField(_l("Catatan penyerahan"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 2})
    amount = StringField(_l("Nilai yang diserahkan (Rp)"), validators=[Length(max=30)],
                         render_kw={"inputmode": "decimal", "placeholder": _l("mis. 20.000.000")})
    reason = StringField(_l("Alasan pembatalan"), validators=[Length(max=200)])

    def payload(self) -> dict[str, Any]:
        action = self.action.data
        if action == "milestone":
            return {"milestone": self.milestone.data or ""}
        if action == "deliver":
            data: dict[str, Any] = {}
            if self.delivered_on.data:
                data["delivered_on"] = self.delivered_on.data
            if money(self.amount.data) is not None:
                data["amount"] = money(self.amount.data)
            if (self.note.data or "").strip():
                data["note"] = self.note.data.strip()
            return data
        if action == "cancel":
            return {"reason": self.reason.data or ""}
        return {}
