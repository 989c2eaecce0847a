"""HTML forms of the household register (Flask-WTF, CSRF on every one that changes something).

The forms only carry input: every rule (NIK/KK, dates, code lists, one head, scope) is checked by
:mod:`caseapp.households.operations`, which reports all problems at once; :meth:`apply_errors`
puts those messages back next to the fields. Numbers and dates are text fields for that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from caseapp.households.models import Relation
from caseapp.households.operations import CODE_LISTS, KK_CHANGE_REASONS, RELATION_LABELS, SEX_LABELS

# Rows on the registration form: the head plus five members; a bigger family adds the rest later.
FORM_MEMBER_ROWS = 6
BLANK = SelectChoice("", _l("— pilih —"))
YES_NO = [BLANK, SelectChoice("ya", _l("Ya")), SelectChoice("tidak", _l("Tidak"))]
NUMBER_INPUT = {"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
MEMBER_TEXT_FIELDS = ("nik", "name", "birth_date", "monthly_income")
MEMBER_SELECT_FIELDS = (
    "sex", "relation", "marital_status", "education_level", "school_participation", "work_status", "work_sector",
    "chronic_illness", "pregnant",
)


def _options(labels: Mapping[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(str(code), label) for code, label in labels.items()]


def _codes(name: str) -> list[SelectChoice]:
    return [BLANK, *_options(CODE_LISTS[name])]


def _choice(label, choices, **kwargs) -> SelectField:
    # Codes are checked by the operation (with the other rules, all at once), not by WTForms.
    return SelectField(label, choices=choices, validate_choice=False, default="", **kwargs)


class MemberFields(Form):
    """One member: identity, relation and the socio-economic answers (Regsosek code lists)."""

    nik = StringField(_l("NIK"), validators=[Length(max=32)], render_kw={**NUMBER_INPUT, "maxlength": 32})
    name = StringField(_l("Nama lengkap"), validators=[Length(max=200)], render_kw={"autocomplete": "off"})
    sex = _choice(_l("Jenis kelamin"), [BLANK, *_options(SEX_LABELS)])
    birth_date = StringField(_l("Tanggal lahir"), render_kw={"type": "date", "max": "2100-12-31"})
    relation = _choice(_l("Hubungan dengan kepala keluarga"),
                       [BLANK, *_options({r: label for r, label in RELATION_LABELS.items() if r != Relation.HEAD})])
    marital_status = _choice(_l("Status perkawinan"), _codes("marital_status"))
    education_level = _choice(_l("Pendidikan terakhir"), _codes("education_level"))
    school_participation = _choice(_l("Partisipasi sekolah (7–18 tahun)"), _codes("school_participation"))
    work_status = _choice(_l("Status pekerjaan"), _codes("work_status"))
    work_sector = _choice(_l("Lapangan usaha"), _codes("work_sector"))
    monthly_income = StringField(_l("Penghasilan per bulan (Rp)"), render_kw=NUMBER_INPUT)
    disability_types = SelectMultipleField(
        _l("Disabilitas"), choices=_options(CODE_LISTS["disability_types"]), validate_choice=False,
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
    )
    chronic_illness = _choice(_l("Penyakit kronis"), YES_NO)
    pregnant = _choice(_l("Sedang hamil"), YES_NO)

    def is_empty(self) -> bool:
        """A row the user did not touch (the relation alone does not count)."""
        return not any((self[name].data or "").strip() for name in MEMBER_TEXT_FIELDS) and not any(
            self[name].data for name in MEMBER_SELECT_FIELDS if name != "relation"
        ) and not self.disability_types.data

    def to_data(self, allowed: frozenset[str] | None = None) -> dict[str, Any]:
        """The row as operation input; *allowed* limits it to the fields the user may see."""
        data: dict[str, Any] = {}
        for name in MEMBER_TEXT_FIELDS + MEMBER_SELECT_FIELDS:
            if allowed is not None and name not in allowed and name != "nik":
                continue
            value = self[name].data
            if name in ("chronic_illness", "pregnant"):
                value = {"ya": True, "tidak": False}.get(value or "")
            elif isinstance(value, str):
                value = value.strip() or None
            data[name] = value
        if allowed is None or "disability_types" in allowed:
            data["disability_types"] = list(self.disability_types.data or []) or None
        return data


def _field(form: Form, name: str):
    """The field called *name*, or None (operations may name fields a form does not have)."""
    return form._fields.get(name)


def _put_errors(form: Form, fields: Mapping[str, list[str]], general: list[str]) -> None:
    for name, messages in fields.items():
        target = _field(form, name)
        if target is None:
            general.extend(messages)
        else:
            target.errors = [*target.errors, *messages]


class HouseholdForm(FlaskForm):
    """Registration: KK and the head's NIK first (search before create), then address, head, members."""

    kk_number = StringField(_l("Nomor KK"), validators=[Length(max=32)], render_kw={**NUMBER_INPUT, "maxlength": 32})
    kelurahan_code = SelectField(_l("Kelurahan"), validate_choice=False)
    rw = StringField(_l("RW"), render_kw={**NUMBER_INPUT, "maxlength": 3})
    rt = StringField(_l("RT"), render_kw={**NUMBER_INPUT, "maxlength": 3})
    address = StringField(_l("Alamat"), validators=[Length(max=300)])
    latitude = StringField(_l("Lintang"), render_kw={"inputmode": "decimal", "placeholder": "-7.8123"})
    longitude = StringField(_l("Bujur"), render_kw={"inputmode": "decimal", "placeholder": "112.0123"})
    desil = SelectField(_l("Desil DTSEN"), validate_choice=False, default="",
                        choices=[SelectChoice("", _l("— belum ada —")), *(SelectChoice(str(d)) for d in range(1, 11))])
    desil_release = StringField(_l("Rilis DTSEN"), validators=[Length(max=32)],
                                render_kw={"placeholder": "DTSEN-2025-Q2"})
    members = FieldList(FormField(MemberFields), min_entries=FORM_MEMBER_ROWS, max_entries=FORM_MEMBER_ROWS)
    check = SubmitField(_l("Periksa KK dan NIK"))
    submit = SubmitField(_l("Daftarkan rumah tangga"))

    general_errors: list[str]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.general_errors = []
        self.member_errors: list[str] = []
        self._rows: list[int] = []

    def head(self) -> MemberFields:
        return self.members[0].form

    def to_data(self) -> dict[str, Any]:
        """Operation input; the first row is the head, empty member rows are left out."""
        members, self._rows = [], []
        for index, entry in enumerate(self.members):
            row: MemberFields = entry.form
            if index > 0 and row.is_empty():
                continue
            data = row.to_data()
            if index == 0:
                data["relation"] = Relation.HEAD.value
            members.append(data)
            self._rows.append(index)
        return {
            "kk_number": (self.kk_number.data or "").strip() or None,
            "kelurahan_code": self.kelurahan_code.data or None,
            "rw": self.rw.data, "rt": self.rt.data, "address": self.address.data,
            "latitude": (self.latitude.data or "").strip() or None,
            "longitude": (self.longitude.data or "").strip() or None,
            "desil": self.desil.data or None,
            "desil_release": (self.desil_release.data or "").strip() or None,
            "members": members,
        }

    def apply_errors(self, fields: Mapping[str, list[str]]) -> None:
        """Show an operation's ``{field: [messages]}`` next to the fields (``members[2].nik`` → its row)."""

        def locate(name: str):
            if name == "members":
                return None
            if name.startswith("members["):
                index, _, field = name[len("members["):].partition("].")
                try:
                    row = self.members[self._rows[int(index)]].form
                except (ValueError, IndexError):
                    return None
                return _field(row, field)
            return _field(self, name)

        for name, messages in fields.items():
            target = locate(name)
            if name == "members":
                self.member_errors.extend(messages)
            elif target is None:
                self.general_errors.extend(messages)
            else:
                target.errors = [*target.errors, *messages]

    def row_has_errors(self, index: int) -> bool:
        return any(field.errors for field in self.members[index].form)


class SearchForm(FlaskForm):
    """Exact NIK/KK search, by POST so the number never reaches a URL or a server log."""

    number = StringField(_l("NIK atau nomor KK"), validators=[DataRequired(_l("Ketik 16 angka NIK atau nomor KK."))],
                         render_kw={**NUMBER_INPUT, "maxlength": 32, "placeholder": "3571…"})
    submit = SubmitField(_l("Cari NIK/KK"))


class PrefillForm(FlaskForm):
    """'Register with this number' after a search found nothing: the number travels in the POST body."""

    number = HiddenField()
    kind = HiddenField()


class AddressForm(FlaskForm):
    address = StringField(_l("Alamat"), validators=[Length(max=300)])
    rw = StringField(_l("RW"), render_kw={**NUMBER_INPUT, "maxlength": 3})
    rt = StringField(_l("RT"), render_kw={**NUMBER_INPUT, "maxlength": 3})
    latitude = StringField(_l("Lintang"), render_kw={"inputmode": "decimal"})
    longitude = StringField(_l("Bujur"), render_kw={"inputmode": "decimal"})
    version = HiddenField()
    submit = SubmitField(_l("Simpan alamat"))

    general_errors: list[str]

    def to_data(self) -> dict[str, Any]:
        return {
            "address": self.address.data, "rw": self.rw.data, "rt": self.rt.data,
            "latitude": (self.latitude.data or "").strip() or None,
            "longitude": (self.longitude.data or "").strip() or None,
        }

    def apply_errors(self, fields: Mapping[str, list[str]]) -> None:
        self.general_errors = []
        _put_errors(self, fields, self.general_errors)


class ChangeKkForm(FlaskForm):
    kk_number = StringField(_l("Nomor KK baru"), render_kw={**NUMBER_INPUT, "maxlength": 32})
    reason = SelectField(_l("Alasan"), choices=[BLANK, *_options(KK_CHANGE_REASONS)], validate_choice=False,
                         default="")
    version = HiddenField()
    submit = SubmitField(_l("Ganti nomor KK"))

    general_errors: list[str]

    def apply_errors(self, fields: Mapping[str, list[str]]) -> None:
        self.general_errors = []
        _put_errors(self, fields, self.general_errors)


class RevealForm(FlaskForm):
    """Show one full number: ``person_id`` for a member's NIK, empty for the household's KK."""

    person_id = HiddenField()


class MemberForm(FlaskForm, MemberFields):
    """Add a member to a registered household (any relation but a second head)."""

    version = HiddenField()
    submit = SubmitField(_l("Tambahkan anggota"))

    general_errors: list[str]

    def apply_errors(self, fields: Mapping[str, list[str]]) -> None:
        self.general_errors = []
        _put_errors(self, fields, self.general_errors)


class ImportForm(FlaskForm):
    """Upload of a DTSEN-style household list (CSV or XLSX); the checks live in ``imports.jobs``."""

    file = FileField(_l("Berkas CSV atau XLSX"))
    dry_run = BooleanField(_l("Uji coba saja: periksa dan hitung, jangan simpan"))
    skip_invalid = BooleanField(_l("Lewati rumah tangga yang bermasalah, impor sisanya"))
    submit = SubmitField(_l("Unggah dan impor"))
