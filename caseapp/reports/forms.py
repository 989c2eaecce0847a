"""The dashboard's filter form (GET, kept in the URL) and the admin's snapshot button (POST, CSRF)."""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SubmitField
from wtforms.validators import Optional

from caseapp.reports.periods import today
from caseapp.reports.queries import ReportFilters

MAX_SPAN = timedelta(days=366 * 5)


class FilterForm(FlaskForm):
    """Filters in the query string: no personal data, nothing to protect with a CSRF token."""

    class Meta:
        csrf = False

    date_from = DateField(_l("Dari tanggal"), validators=[Optional()])
    date_to = DateField(_l("Sampai tanggal"), validators=[Optional()])
    kecamatan = SelectField(_l("Kecamatan"), choices=[], default="", validate_choice=True)
    kelurahan = SelectField(_l("Kelurahan"), choices=[], default="", validate_choice=True)
    programme = SelectField(_l("Program"), choices=[], default="", validate_choice=True)
    agency = SelectField(_l("Dinas"), choices=[], default="", validate_choice=True)

    def set_choices(self, choices: dict) -> None:
        everything = [("", _l("Semua"))]
        self.kecamatan.choices = everything + [(code, name) for code, name, _parent in choices["kecamatan"]]
        self.kelurahan.choices = everything + [(code, name) for code, name, _parent in choices["kelurahan"]]
        self.programme.choices = everything + list(choices["programmes"])
        self.agency.choices = everything + list(choices["agencies"])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        start, end = self.period()
        if end < start:
            self.date_to.errors = [*self.date_to.errors, _l("Tanggal akhir harus sesudah tanggal awal.")]
            ok = False
        elif end - start > MAX_SPAN:
            self.date_to.errors = [*self.date_to.errors, _l("Periode paling panjang 5 tahun.")]
            ok = False
        kecamatan, kelurahan = self.kecamatan.data, self.kelurahan.data
        if kecamatan and kelurahan and not kelurahan.startswith(kecamatan + "."):
            self.kelurahan.errors = [*self.kelurahan.errors, _l("Kelurahan ini tidak ada di kecamatan yang dipilih.")]
            ok = False
        return ok

    def period(self) -> tuple[date, date]:
        """The chosen period, defaulting to 1 January of this year up to today (WIB)."""
        end = self.date_to.data or today()
        start = self.date_from.data or date(end.year, 1, 1)
        return start, end

    def filters(self) -> ReportFilters:
        start, end = self.period()
        return filters_from({"date_from": start, "date_to": end, "kecamatan": self.kecamatan.data,
                             "kelurahan": self.kelurahan.data, "programme": self.programme.data,
                             "agency": self.agency.data})


def default_filters() -> ReportFilters:
    end = today()
    return ReportFilters(date_from=date(end.year, 1, 1), date_to=end)


def filters_from(data: dict) -> ReportFilters:
    """ReportFilters from validated values (the form's or the API's); empty strings mean "all"."""
    end = data.get("date_to") or today()
    start = data.get("date_from") or date(end.year, 1, 1)
    return ReportFilters(date_from=start, date_to=end, kecamatan=data.get("kecamatan") or None,
                         kelurahan=data.get("kelurahan") or None, programme=data.get("programme") or None,
                         agency=data.get("agency") or None)


class SnapshotForm(FlaskForm):
    submit = SubmitField(_l("Kunci angka triwulan ini"))
