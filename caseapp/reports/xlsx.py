"""The quarterly report as an XLSX workbook (openpyxl): one sheet per table, the by-name list last.

Every text cell goes through :func:`safe`: a value starting with ``= + - @`` (or a tab / carriage
return) would be read by a spreadsheet as a formula, so it is prefixed with an apostrophe and stored
as text. Hidden counts are written as the same marks the page shows.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from caseapp.core.spreadsheet import safe_cell as safe
from caseapp.reports import labels
from caseapp.reports.models import ReportSnapshot
from caseapp.reports.periods import JAKARTA, Quarter
from caseapp.reports.presenters import NOW, REACHED
from caseapp.reports.suppression import PRIMARY

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FILL = PatternFill("solid", fgColor="DDEBEA")
BOLD = Font(bold=True)
RUPIAH = '#,##0'
PERCENT = '0.0%'
DAYS = '0.0'
LEVELS = {"programme": _l("Program"), "agency": _l("Dinas"), "strategy": _l("Strategi")}



def _mark(row: dict, field: str):
    """The value to write: the number, or the suppression mark the page shows."""
    reason = (row.get("suppressed") or {}).get(field)
    if reason:
        return "< 5" if reason == PRIMARY else "*"
    return row.get(field)


class _Sheet:
    def __init__(self, workbook: Workbook, title: str, heading: str, first: bool = False) -> None:
        self.ws: Worksheet = workbook.active if first else workbook.create_sheet()
        self.ws.title = title[:31]
        self.row = 1
        self.widths: dict[int, int] = {}
        self.line(heading, font=Font(bold=True, size=13), measure=False)

    def line(self, *values, font: Font | None = None, formats: tuple = (), measure: bool = True) -> None:
        for col, value in enumerate(values, start=1):
            cell = self.ws.cell(row=self.row, column=col, value=safe(value))
            if font is not None:
                cell.font = font
            if col - 1 < len(formats) and formats[col - 1] and isinstance(value, int | float):
                cell.number_format = formats[col - 1]
            if measure and isinstance(value, str):
                self.widths[col] = max(self.widths.get(col, 8), min(len(value) + 2, 60))
        self.row += 1

    def header(self, *titles) -> None:
        for col, title in enumerate(titles, start=1):
            cell = self.ws.cell(row=self.row, column=col, value=safe(str(title)))
            cell.font, cell.fill = BOLD, HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            self.widths[col] = max(self.widths.get(col, 8), min(len(str(title)) + 2, 30))
        self.ws.freeze_panes = self.ws.cell(row=self.row + 1, column=1)
        self.row += 1

    def blank(self) -> None:
        self.row += 1

    def finish(self) -> None:
        for col, width in self.widths.items():
            self.ws.column_dimensions[get_column_letter(col)].width = width


def build_workbook(quarter: Quarter, fig: dict, listed: list[dict] | None, *,
                   snapshot: ReportSnapshot | None) -> Workbook:
    wb = Workbook()
    _summary(wb, quarter, fig, snapshot)
    _coverage(wb, fig)
    _budget(wb, fig)
    _interventions(wb, fig)
    _cases(wb, fig)
    if listed is not None:
        _targets(wb, listed)
    return wb


def _summary(wb: Workbook, quarter: Quarter, fig: dict, snapshot: ReportSnapshot | None) -> None:
    s = _Sheet(wb, _("Indikator"), _("Laporan TKPK Triwulan %(roman)s %(year)s", roman=quarter.roman,
                                     year=quarter.year), first=True)
    filters = fig["filters"]
    cumulative = _("kumulatif s.d. triwulan")
    s.line(_("Periode"), f"{filters['date_from']} – {filters['date_to']} ({cumulative})")
    s.line(_("Wilayah"), fig["scope"]["kecamatan"] or _("Kota Kediri"))
    if snapshot is not None:
        taken = snapshot.taken_at.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB")
        s.line(_("Status"), _("Angka dikunci %(at)s", at=taken))
    else:
        s.line(_("Status"), _("Angka sementara (belum dikunci)"))
    s.line(_("Dibuat"), datetime.now(JAKARTA).strftime("%Y-%m-%d %H:%M WIB"))
    if fig["suppression"]["applied"]:
        s.line(_("Catatan"), _("Angka 1–4 ditulis \"< 5\"; \"*\" disembunyikan agar angka kecil tidak dapat "
                               "dihitung dari total."))
    line = fig["poverty_line"]
    if line:
        rupiah = f"Rp{line['rupiah_per_capita_month']:,}".replace(",", ".")
        s.line(_("Garis kemiskinan ekstrem"), f"{rupiah}/orang/bulan, {line['source']} ({line['valid_from']})")
    else:
        s.line(_("Garis kemiskinan ekstrem"), _("belum diisi"))
    s.blank()
    s.header(_("Indikator"), _("Nilai"), _("Pembilang"), _("Penyebut"))
    city, grad = fig["coverage"]["city"], fig["graduation"]
    budget_total = fig["budget"]["total"] or {}
    rows = [
        (_("Rumah tangga sasaran (desil 1)"), _mark(city, "desil1"), None, None, None),
        (_("Rumah tangga miskin ekstrem"), _mark(city, "extreme"), None, None, None),
        (_("Cakupan desil 1: ≥ 1 intervensi tersalurkan"), city["desil1_share"], _mark(city, "desil1_covered"),
         _mark(city, "desil1"), PERCENT),
        (_("Cakupan miskin ekstrem: ≥ 1 intervensi tersalurkan"), city["extreme_share"],
         _mark(city, "extreme_covered"), _mark(city, "extreme"), PERCENT),
        (_("Desil 1 dengan NIK dan KK tercatat lengkap"), city["documents_share"], _mark(city, "documents"),
         _mark(city, "desil1"), PERCENT),
        (_("Desil 1 dengan verifikasi selesai"), city["verified_share"], _mark(city, "verified"),
         _mark(city, "desil1"), PERCENT),
        (_("Tingkat kelulusan"), grad["rate"], _mark(grad, "graduated"), _mark(grad, "closed_after_evaluation"),
         PERCENT),
        (_("Median hari sampai lulus"), grad["median_days"], None, None, DAYS),
        (_("Intervensi tersalurkan"), _mark(budget_total, "delivered") if budget_total else 0, None, None, None),
        (_("Anggaran tersalurkan (Rp)"), _mark(budget_total, "amount") if budget_total else 0, None, None, RUPIAH),
    ]
    for name, value, numerator, denominator, fmt in rows:
        s.line(name, value, numerator, denominator, formats=(None, fmt))
    s.finish()


def _coverage(wb: Workbook, fig: dict) -> None:
    s = _Sheet(wb, _("Cakupan"), _("Cakupan rumah tangga sasaran per kecamatan dan kelurahan"))
    s.header(_("Tingkat"), _("Kode"), _("Wilayah"), _("Desil 1"), _("Desil 1 terjangkau"), _("% desil 1"),
             _("Miskin ekstrem"), _("Miskin ekstrem terjangkau"), _("% miskin ekstrem"), _("NIK/KK lengkap"),
             _("Verifikasi selesai"))
    data = fig["coverage"]
    rows = [(_("Kota"), "", _("Kota Kediri"), data["city"])]
    rows += [(_("Kecamatan"), r["code"], r["name"], r) for r in data["kecamatan"]]
    rows += [(_("Kelurahan"), r["code"], r["name"], r) for r in data["kelurahan"]]
    for level, code, name, r in rows:
        s.line(level, code, name, _mark(r, "desil1"), _mark(r, "desil1_covered"), r["desil1_share"],
               _mark(r, "extreme"), _mark(r, "extreme_covered"), r["extreme_share"], _mark(r, "documents"),
               _mark(r, "verified"), formats=(None, None, None, None, None, PERCENT, None, None, PERCENT))
    s.finish()


def _budget(wb: Workbook, fig: dict) -> None:
    data = fig["budget"]
    s = _Sheet(wb, _("Anggaran"), _("Intervensi dan anggaran per dinas dan strategi, dengan penandaan PMK 97/2023"))
    focus = bool(data.get("focus_from"))
    s.header(_("Dinas"), _("Strategi"), _("Penandaan"), _("Intervensi s.d. triwulan"), _("Rupiah s.d. triwulan"),
             *((_("Intervensi triwulan ini"), _("Rupiah triwulan ini")) if focus else ()))
    money = (None, None, None, None, RUPIAH, None, RUPIAH)
    for r in data["rows"]:
        s.line(f"{r['agency']} – {r['name']}", labels.label(labels.STRATEGIES, r["strategy"]),
               labels.label(labels.TAGS, r["tag"]), _mark(r, "delivered"), _mark(r, "amount"),
               *((_mark(r, "delivered_focus"), _mark(r, "amount_focus")) if focus else ()), formats=money)
    for r in data["tags"]:
        s.line(_("Jumlah"), "", labels.label(labels.TAGS, r["tag"]), _mark(r, "delivered"), _mark(r, "amount"),
               *((_mark(r, "delivered_focus"), _mark(r, "amount_focus")) if focus else ()), font=BOLD, formats=money)
    if data["total"]:
        r = data["total"]
        s.line(_("Total"), "", "", _mark(r, "delivered"), _mark(r, "amount"),
               *((_mark(r, "delivered_focus"), _mark(r, "amount_focus")) if focus else ()), font=BOLD, formats=money)
    s.finish()


def _interventions(wb: Workbook, fig: dict) -> None:
    data = fig["interventions"]
    s = _Sheet(wb, _("Intervensi"), _("Intervensi per program, dinas dan strategi"))
    s.header(_("Tingkat"), _("Kode"), _("Nama"), _("Dinas"), _("Strategi"), _("Direncanakan"), _("Tersalurkan"),
             _("Rupiah tersalurkan"))
    money = (None,) * 7 + (RUPIAH,)
    for level, rows in (("programme", data["programmes"]), ("agency", data["agencies"]),
                        ("strategy", data["strategies"])):
        for r in rows:
            name = labels.label(labels.STRATEGIES, r["name"]) if level == "strategy" else r["name"]
            strategy = labels.label(labels.STRATEGIES, r["strategy"]) if r.get("strategy") else ""
            s.line(labels.label(LEVELS, level), r["code"], name, r.get("agency") or "", strategy,
                   _mark(r, "planned"), _mark(r, "delivered"), _mark(r, "amount"), formats=money)
    if data["total"]:
        r = data["total"]
        s.line(_("Total"), "", "", "", "", _mark(r, "planned"), _mark(r, "delivered"), _mark(r, "amount"),
               font=BOLD, formats=money)
    s.finish()


def _cases(wb: Workbook, fig: dict) -> None:
    s = _Sheet(wb, _("Kasus"), _("Alur kasus, keterlambatan dan lama tiap langkah"))
    funnel = fig["funnel"]
    s.header(_("Tahap"), _("Pernah mencapai"), _("Berada di tahap ini"))
    for stage in dict.fromkeys([*REACHED, *NOW]):
        s.line(labels.label(labels.STAGES, stage),
               _mark(funnel["reached"], stage) if stage in funnel["reached"] else None,
               _mark(funnel["now"], stage) if stage in funnel["now"] else None)
    s.blank()
    s.header(_("Dinas"), _("Pekerjaan terbuka"), _("Terlambat"), _("% terlambat"))
    for r in [*fig["overdue"]["agencies"], fig["overdue"]["total"] | {"agency": _("Total")}]:
        s.line(r["agency"], _mark(r, "open"), _mark(r, "overdue"), r["share"], formats=(None, None, None, PERCENT))
    s.blank()
    s.header(_("Dinas"), _("Langkah"), _("Jumlah selesai"), _("Median (hari)"), _("Persentil ke-90 (hari)"))
    for r in fig["durations"]:
        s.line(r["agency"], labels.label(labels.STEPS, r["step"]), _mark(r, "n"), _mark(r, "median"), _mark(r, "p90"),
               formats=(None, None, None, DAYS, DAYS))
    s.finish()


def _targets(wb: Workbook, listed: list[dict]) -> None:
    s = _Sheet(wb, _("Daftar sasaran"), _("Daftar rumah tangga sasaran by name by address (data pribadi: "
                                          "jangan disebarkan)"))
    s.header(_("Kelurahan"), _("RW"), _("RT"), _("Alamat"), _("Kepala keluarga"), _("NIK (disamarkan)"),
             _("Desil"), _("Miskin ekstrem"), _("Kasus"), _("Tahap"), _("Intervensi"))
    for e in listed:
        received = "; ".join(
            f"{iv['programme']} ({labels.label(labels.INTERVENTION_STATUSES, iv['status'])}"
            + (f" {iv['delivered_on']}" if iv.get("delivered_on") else "")
            + (f", Rp{iv['amount']:,}".replace(",", ".") if iv.get("amount") else "") + ")"
            for iv in e["interventions"])
        s.line(e.get("kelurahan_name") or e["kelurahan"], e.get("rw"), e.get("rt"), e.get("address") or "",
               e.get("head_name") or _("(dianonimkan)"), e.get("nik_masked") or "", e.get("desil"),
               _("ya") if e.get("extreme") else _("tidak"), e.get("case_number") or "",
               labels.label(labels.STAGES, e["stage"]) if e.get("stage") else "", received)
    s.finish()
