"""The household register pages: list and NIK/KK search, registration, the household page.

Thin: scope comes from ``queries`` (out of scope is a 404), rules from ``operations`` and ``policy``.
A NIK or KK never appears in a URL: searches and reveals are POSTs whose answer is rendered
directly (never stored in the session or put in a redirect).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.routing import BuildError
from wtforms.fields.choices import SelectChoice

from caseapp.agencies.models import Region, RegionLevel
from caseapp.auth.models import Role, User
from caseapp.auth.permissions import Permission, has_permission, requires
from caseapp.core.audit import AccessKind, record_access
from caseapp.core.errors import StaleVersion, ValidationFailed
from caseapp.extensions import db
from caseapp.households import operations as ops
from caseapp.households.forms import (
    AddressForm,
    ChangeKkForm,
    HouseholdForm,
    MemberForm,
    PrefillForm,
    RevealForm,
    SearchForm,
)
from caseapp.households.identity import normalize_number, validate_kk, validate_nik
from caseapp.households.models import Household, HousingSurvey, Person, Relation, Section
from caseapp.households.operations.checks import request_locale
from caseapp.households.policy import (
    can_edit_household,
    can_read_section,
    can_register_in,
    can_reveal_identity,
    visible_person_fields,
    visible_sections,
)
from caseapp.households.queries import (
    count_households,
    count_visible_households,
    filtered_households,
    get_visible_household_or_404,
    is_household_visible,
    kelurahan_with_households,
    page_of_ids,
)

bp = Blueprint("households", __name__, url_prefix="/households", template_folder="templates")

PER_PAGE = 25
# Seven or more digits in the name filter is an identity number typed in the wrong box.
_DIGIT_RUN = re.compile(r"\d[\d\s.\-]{5,}\d")


# --- reads shared with the API ---------------------------------------------------------------

def number_looks_like_identity(text: str | None) -> bool:
    return bool(text and _DIGIT_RUN.search(text))


def age_on(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# --- list and search -------------------------------------------------------------------------

@dataclass(frozen=True)
class ListFilters:
    kelurahan: str | None = None
    desil: int | None = None
    q: str | None = None
    page: int = 1

    @property
    def active(self) -> bool:
        return bool(self.kelurahan or self.desil or self.q)

    def args(self, **changes) -> dict:
        """URL arguments for a link to these filters (page 1 and empty filters left out)."""
        values = {"kelurahan": self.kelurahan, "desil": self.desil, "q": self.q, "page": self.page, **changes}
        if values["page"] == 1:
            del values["page"]
        return {k: v for k, v in values.items() if v not in (None, "")}


def _filters_from_request() -> ListFilters:
    kelurahan = (request.args.get("kelurahan") or "").strip() or None
    desil = request.args.get("desil", type=int)
    if desil is not None and not 1 <= desil <= 10:
        desil = None
    q = " ".join((request.args.get("q") or "").split())[:100] or None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    return ListFilters(kelurahan, desil, q, page)


def _kelurahan_options(user: User) -> list[tuple[str, str]]:
    """Kelurahan worth filtering by: the whole city for city-wide roles, else where the user has households."""
    query = select(Region.code, Region.name).where(Region.level == RegionLevel.KELURAHAN).order_by(Region.name)
    role = Role(user.role)
    if role == Role.SUPERVISOR and user.kecamatan_code:
        query = query.where(Region.parent_code == user.kecamatan_code)
    elif not (role == Role.ADMIN or role == Role.SUPERVISOR):
        query = query.where(Region.code.in_(kelurahan_with_households(user))
                            | (Region.code == (user.kelurahan_code or "")))
    return [(code, name) for code, name in db.session.execute(query)]


def _list_page(search_form: SearchForm, search_result: str | None = None, prefill: PrefillForm | None = None,
               status: int = 200):
    filters = _filters_from_request()
    stmt = filtered_households(current_user, kelurahan=filters.kelurahan, desil=filters.desil, q=filters.q)
    more = False
    if filters.q:
        # A name search: matches found once, counted up to a cap (the query layer pages by id).
        found = page_of_ids(stmt, filters.page, PER_PAGE)
        total, page, pages, more = found.total, found.page, found.pages, found.more
        stmt = select(Household).where(Household.id.in_(found.ids))
    else:
        # The whole scope is counted by its parts, not by testing every household against it.
        filtered = filters.kelurahan or filters.desil is not None
        total = count_households(stmt) if filtered else count_visible_households(current_user)
        pages = max(math.ceil(total / PER_PAGE), 1)
        page = min(filters.page, pages)
    head_name = (
        select(Person.name)
        .where(Person.household_id == Household.id, Person.relation == Relation.HEAD, Person.active.is_(True))
        .order_by(Person.id).limit(1).scalar_subquery()
    )
    member_count = (
        select(func.count(Person.id)).where(Person.household_id == Household.id, Person.active.is_(True))
        .scalar_subquery()
    )
    rows = db.session.execute(
        stmt.add_columns(head_name.label("head_name"), member_count.label("member_count"),
                         Region.name.label("kelurahan_name"))
        .join(Region, Region.code == Household.kelurahan_code)
        .order_by(Household.id.desc()).limit(PER_PAGE).offset(0 if filters.q else (page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "households/index.html", rows=rows, total=total, more=more, page=page, pages=pages, per_page=PER_PAGE,
        filters=filters, kelurahan_options=_kelurahan_options(current_user),
        search_form=search_form, search_result=search_result, prefill=prefill,
        can_register=Role(current_user.role) in (Role.ADMIN, Role.SUPERVISOR, Role.SOCIAL_WORKER),
        can_import=has_permission(current_user.role, Permission.HOUSEHOLD_IMPORT),
        can_export=has_permission(current_user.role, Permission.DATA_EXPORT),
    ), status


@bp.route("/")
@requires(Permission.HOUSEHOLD_VIEW)
def index():
    """Rumah Tangga: the households in the user's scope, filtered by what the URL says (never a NIK)."""
    filters = _filters_from_request()
    if number_looks_like_identity(filters.q):
        # An identity number typed into the name filter: drop it from the URL (and the browser's
        # history) at once, and point to the search that keeps numbers out of URLs.
        flash(_("Untuk mencari dengan NIK atau nomor KK, pakai kotak \"Cari NIK/KK\": nomor identitas tidak "
                "boleh ada di alamat halaman."), "warning")
        return redirect(url_for(".index", **filters.args(q=None, page=1)), 303)
    return _list_page(SearchForm(formdata=None))


@bp.route("/search", methods=["POST"])
@requires(Permission.HOUSEHOLD_VIEW)
def search():
    """Exact NIK/KK search: in scope → the household page; elsewhere → say so, without details."""
    form = SearchForm()
    result, prefill = None, None
    if form.validate_on_submit():
        digits = normalize_number(form.number.data)
        if len(digits) != 16 or not digits.isdigit():
            form.number.errors.append(_("NIK dan nomor KK terdiri dari 16 angka. Periksa lagi angkanya."))
        else:
            household = ops.find_by_number(db.session, digits)
            if household is not None:
                if is_household_visible(current_user, household.id):
                    return redirect(url_for(".detail", household_id=household.id))
                result = "outside"
            else:
                result = "not_found"
                prefill = PrefillForm(formdata=None, prefix="prefill", number=digits)
    return _list_page(form, result, prefill, status=200 if result or not form.errors else 422)


# --- registration ----------------------------------------------------------------------------

def _registrable_kelurahan(user: User) -> list[SelectChoice]:
    """Kelurahan where *user* may register, grouped by kecamatan for the select."""
    regions = db.session.scalars(
        select(Region).where(Region.level == RegionLevel.KELURAHAN).order_by(Region.parent_code, Region.name)
    ).all()
    kecamatan = dict(
        db.session.execute(select(Region.code, Region.name).where(Region.level == RegionLevel.KECAMATAN)).all()
    )
    return [
        SelectChoice(region.code, region.name, optgroup=_("Kec. %(name)s", name=kecamatan.get(region.parent_code, "?")))
        for region in regions if can_register_in(user, region)
    ]


@dataclass(frozen=True)
class NumberCheck:
    label: str
    problem: str | None = None
    household: Household | None = None
    outside: bool = False


def _check_numbers(form: HouseholdForm) -> list[NumberCheck]:
    """Search before create: is the KK or the head's NIK already in the register?"""
    checks = []
    for label, raw, validate in (
        (_("Nomor KK"), form.kk_number.data, validate_kk),
        (_("NIK kepala keluarga"), form.head().nik.data, validate_nik),
    ):
        if not (raw or "").strip():
            continue
        result = validate(raw)
        if not result.ok:
            checks.append(NumberCheck(label, problem=result.errors[0].message(request_locale())))
            continue
        household = ops.find_by_number(db.session, result.value)
        if household is None:
            checks.append(NumberCheck(label))
            continue
        visible = is_household_visible(current_user, household.id)
        checks.append(NumberCheck(label, household=household if visible else None, outside=not visible))
    return checks


def _render_new(form: HouseholdForm, *, checks=None, existing: Household | None = None, status: int = 200):
    return render_template("households/new.html", form=form, checks=checks, existing=existing), status


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.HOUSEHOLD_EDIT)
def new():
    """Daftarkan rumah tangga: KK and the head's NIK first; a duplicate shows the household instead."""
    if request.method == "POST" and "prefill-kind" in request.form:
        prefill = PrefillForm(prefix="prefill")
        form = HouseholdForm(formdata=None)
        form.kelurahan_code.choices = _registrable_kelurahan(current_user)
        form.kelurahan_code.data = current_user.kelurahan_code
        if prefill.validate_on_submit():
            digits = normalize_number(prefill.number.data)[:32]
            if prefill.kind.data == "kk":
                form.kk_number.data = digits
            elif prefill.kind.data == "nik":
                form.head().nik.data = digits
        return _render_new(form)

    form = HouseholdForm()
    form.kelurahan_code.choices = _registrable_kelurahan(current_user)
    if request.method == "GET":
        form.kelurahan_code.data = current_user.kelurahan_code
        return _render_new(form)
    if not form.validate_on_submit():
        return _render_new(form, status=422)
    if form.check.data:
        return _render_new(form, checks=_check_numbers(form))

    try:
        household = ops.create_household(db.session, actor=current_user, data=form.to_data())
    except ValidationFailed as exc:
        db.session.rollback()
        form.apply_errors(exc.fields)
        return _render_new(form, status=422)
    except ops.DuplicateNumber as exc:
        db.session.rollback()
        form.apply_errors(exc.fields)
        existing = db.session.get(Household, exc.household_id) if exc.household_id else None
        return _render_new(form, existing=existing, status=409)
    db.session.commit()
    if household.warnings:
        # Shown in this response, never flashed: flashes live in the cookie, which holds no personal data.
        return _render_detail(household, notices=_warning_notices(household, household.warnings), status=201)
    flash(_("Rumah tangga #%(id)s terdaftar.", id=household.id), "success")
    return redirect(url_for(".detail", household_id=household.id))


# --- the household page ----------------------------------------------------------------------

def _referral_url(household: Household) -> str | None:
    """The cases domain owns the referral form; link to it only once it exists."""
    if "cases.new_referral" not in current_app.view_functions:
        return None
    try:
        return url_for("cases.new_referral", household_id=household.id)
    except BuildError:
        return None


def _log_sensitive_read(household: Household) -> None:
    """UU PDP processing record: who saw which specific sections of this household."""
    specific = sorted(str(s) for s in visible_sections(current_user) if s != Section.GENERAL)
    if specific:
        record_access(db.session, user_id=current_user.id, kind=AccessKind.READ_SENSITIVE, object_type="household",
                      object_id=household.id, detail={"sections": specific})
    db.session.commit()


def _warning_notices(household: Household, warnings: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(what, message) for non-blocking NIK/KK warnings: ``members[1].nik`` → that member's name."""
    members = sorted(household.members, key=lambda m: m.id)
    notices = []
    for field, messages in warnings.items():
        what = _("Nomor KK")
        if field.startswith("members["):
            index = int(field[len("members["):].split("]", 1)[0])
            name = members[index].name if index < len(members) else "?"
            what = _("NIK %(name)s", name=name)
        notices.extend((what, message) for message in messages)
    return notices


def _render_detail(household: Household, *, address_form: AddressForm | None = None,
                   kk_form: ChangeKkForm | None = None, revealed: dict | None = None,
                   notices: list[tuple[str, str]] | None = None, status: int = 200):
    user = current_user
    editable = can_edit_household(user, household)
    if editable and address_form is None:
        address_form = AddressForm(formdata=None, obj=household, version=household.version)
    if editable and kk_form is None:
        kk_form = ChangeKkForm(formdata=None, version=household.version)
    region = db.session.get(Region, household.kelurahan_code)
    kecamatan = db.session.get(Region, region.parent_code) if region and region.parent_code else None
    survey = None
    if can_read_section(user, Section.HOUSING):
        survey = db.session.scalars(
            select(HousingSurvey).where(HousingSurvey.household_id == household.id)
            .order_by(HousingSurvey.surveyed_on.desc(), HousingSurvey.id.desc()).limit(1)
        ).first()
    today = ops.today_jakarta()
    members = sorted(household.members, key=lambda m: (not m.active, m.relation != Relation.HEAD, m.id))
    context = {
        "household": household, "region": region, "kecamatan": kecamatan, "members": members,
        "ages": {m.id: age_on(m.birth_date, today) for m in members},
        "fields": visible_person_fields(user), "survey": survey,
        "show_assets": can_read_section(user, Section.FINANCE),
        "kk_history": sorted(household.kk_history, key=lambda r: (r.valid_from, r.id), reverse=True),
        "desil_history": sorted(household.desil_history, key=lambda r: (r.recorded_at, r.id), reverse=True),
        "can_reveal": can_reveal_identity(user), "reveal_form": RevealForm(formdata=None),
        "revealed": revealed or {}, "editable": editable, "address_form": address_form, "kk_form": kk_form,
        "referral_url": _referral_url(household), "notices": notices or [],
        "labels": {"relation": ops.RELATION_LABELS, "sex": ops.SEX_LABELS, "codes": ops.CODE_LISTS,
                   "kk_reasons": ops.KK_HISTORY_LABELS, "housing": ops.HOUSING_LABELS},
    }
    html = render_template("households/detail.html", **context)
    _log_sensitive_read(household)
    return html, status


@bp.route("/<int:household_id>")
@requires(Permission.HOUSEHOLD_VIEW)
def detail(household_id: int):
    return _render_detail(get_visible_household_or_404(current_user, household_id))


@bp.route("/<int:household_id>/reveal", methods=["POST"])
@requires(Permission.IDENTITY_REVEAL)
def reveal(household_id: int):
    """Show one full NIK (``person_id``) or the KK once, in this response only; the reveal is logged."""
    household = get_visible_household_or_404(current_user, household_id)
    form = RevealForm()
    if not form.validate_on_submit():
        abort(400)
    person = None
    if form.person_id.data:
        person = next((m for m in household.members if str(m.id) == form.person_id.data), None)
        if person is None:
            abort(404)
    number = ops.reveal_identity(db.session, actor=current_user, person=person,
                                 household=None if person is not None else household)
    db.session.commit()
    return _render_detail(household, revealed={"person_id": person.id if person else None, "number": number})


def _editable_household_or_404(household_id: int) -> Household:
    household = get_visible_household_or_404(current_user, household_id)
    if not can_edit_household(current_user, household):
        abort(403)
    return household


def _stale(form, household_id: int, message: str):
    """Someone saved first: keep what this user typed, show the saved data, let them save again."""
    db.session.rollback()
    household = get_visible_household_or_404(current_user, household_id)
    form.general_errors = [message, _("Isian Anda masih ada di formulir: periksa data terbaru lalu simpan lagi.")]
    form.version.data = household.version
    return household


@bp.route("/<int:household_id>/address", methods=["POST"])
@requires(Permission.HOUSEHOLD_EDIT)
def edit_address(household_id: int):
    household = _editable_household_or_404(household_id)
    form = AddressForm()
    form.general_errors = []
    if not form.validate_on_submit():
        return _render_detail(household, address_form=form, status=422)
    try:
        ops.update_household(db.session, actor=current_user, household=household, data=form.to_data(),
                             version=form.version.data)
    except ValidationFailed as exc:
        db.session.rollback()
        form.apply_errors(exc.fields)
        return _render_detail(household, address_form=form, status=422)
    except StaleVersion as exc:
        household = _stale(form, household_id, exc.message)
        return _render_detail(household, address_form=form, status=409)
    db.session.commit()
    flash(_("Alamat disimpan."), "success")
    return redirect(url_for(".detail", household_id=household.id))


@bp.route("/<int:household_id>/kk", methods=["POST"])
@requires(Permission.HOUSEHOLD_EDIT)
def change_kk(household_id: int):
    """A new family card: the old number stays in the KK history with its dates."""
    household = _editable_household_or_404(household_id)
    form = ChangeKkForm()
    form.general_errors = []
    if not form.validate_on_submit():
        return _render_detail(household, kk_form=form, status=422)
    try:
        ops.change_kk(db.session, actor=current_user, household=household, new_kk=form.kk_number.data,
                      reason=form.reason.data, version=form.version.data)
    except ValidationFailed as exc:
        db.session.rollback()
        form.apply_errors(exc.fields)
        return _render_detail(household, kk_form=form, status=422)
    except ops.DuplicateNumber as exc:
        db.session.rollback()
        form.apply_errors(exc.fields)
        return _render_detail(household, kk_form=form, status=409)
    except StaleVersion as exc:
        household = _stale(form, household_id, exc.message)
        return _render_detail(household, kk_form=form, status=409)
    db.session.commit()
    if household.warnings:
        return _render_detail(household, notices=_warning_notices(household, household.warnings))
    flash(_("Nomor KK diganti. Nomor lama tetap tercatat di riwayat KK."), "success")
    return redirect(url_for(".detail", household_id=household.id))


@bp.route("/<int:household_id>/members/new", methods=["GET", "POST"])
@requires(Permission.HOUSEHOLD_EDIT)
def add_member(household_id: int):
    """A birth, a marriage, someone moving in."""
    household = _editable_household_or_404(household_id)
    form = MemberForm()
    form.general_errors = []
    status = 200
    if request.method == "GET":
        form.version.data = household.version
    elif form.validate_on_submit():
        try:
            person = ops.add_member(db.session, actor=current_user, household=household, data=form.to_data(),
                                    version=form.version.data)
        except ValidationFailed as exc:
            db.session.rollback()
            form.apply_errors(exc.fields)
            status = 422
        except ops.DuplicateNumber as exc:
            db.session.rollback()
            form.apply_errors(exc.fields)
            status = 409
        except StaleVersion as exc:
            household = _stale(form, household_id, exc.message)
            status = 409
        else:
            db.session.commit()
            if person.warnings:
                position = sorted(household.members, key=lambda m: m.id).index(person)
                warnings = {f"members[{position}].{k}": v for k, v in person.warnings.items()}
                return _render_detail(household, notices=_warning_notices(household, warnings))
            flash(_("Anggota baru ditambahkan."), "success")
            return redirect(url_for(".detail", household_id=household.id))
    else:
        status = 422
    return render_template("households/member_new.html", form=form, household=household), status


# Import and export pages attach their routes to ``bp`` (kept in their own modules).
from caseapp.households import views_export, views_import  # noqa: E402,F401
