"""Page chrome shared by every template: navigation by role, forms in the header, formatting."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from caseapp.auth.forms import LanguageForm, LogoutForm
from caseapp.auth.permissions import Permission, has_permission


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    permission: Permission


# DESIGN.md §4a. An item shows only when its page exists and the role may open it.
NAVIGATION = (
    NavItem("home.index", _l("Beranda"), Permission.PROFILE),
    NavItem("cases.my_work", _l("Tugas Saya"), Permission.CASE_WORK),
    NavItem("interventions.queue", _l("Antrean Dinas"), Permission.INTERVENTION_WORK),
    NavItem("cases.approvals", _l("Persetujuan"), Permission.CASE_APPROVE),
    NavItem("cases.index", _l("Kasus"), Permission.CASE_VIEW),
    NavItem("households.index", _l("Rumah Tangga"), Permission.HOUSEHOLD_VIEW),
    NavItem("reports.dashboard", _l("Dasbor"), Permission.DASHBOARD_VIEW),
    NavItem("reports.index", _l("Laporan"), Permission.REPORT_EXPORT),
    NavItem("notifications.index", _l("Notifikasi"), Permission.PROFILE),
    NavItem("admin.index", _l("Admin"), Permission.ADMIN_USERS),
    NavItem("admin_handover.index", _l("Serah Terima"), Permission.CASE_ASSIGN),
)

ROLE_LABELS = {
    "social_worker": _l("Pekerja sosial"),
    "supervisor": _l("Penyelia"),
    "agency_officer": _l("Petugas dinas"),
    "viewer": _l("Pemantau (TKPK)"),
    "admin": _l("Admin sistem"),
}


def nav_items() -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    views = current_app.view_functions
    return [
        item for item in NAVIGATION
        if item.endpoint in views and has_permission(current_user.role, item.permission)
    ]


def _chrome() -> dict:
    # Only the path: a query string could carry something typed into a filter box.
    language_form = LanguageForm(formdata=None, locale=_current_locale(), next=request.path)
    return {
        "nav_items": nav_items(),
        "logout_form": LogoutForm(formdata=None),
        "language_form": language_form,
        "role_label": ROLE_LABELS.get(str(current_user.role), "") if current_user.is_authenticated else "",
    }


def _current_locale() -> str:
    locale = get_locale()
    return str(locale) if locale else "id"


def init_ui(app: Flask) -> None:
    app.context_processor(_chrome)
    # Counts in the user's locale (1.000.000 in Indonesian); a capped count ("1000+") as it is.
    app.jinja_env.filters["number"] = lambda value: format_decimal(value, "#,##0") if isinstance(value, int) else value
    app.jinja_env.filters["date"] = lambda value, fmt="medium": format_date(value, fmt) if value else "–"
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": format_datetime(value, fmt) if value else "–"
