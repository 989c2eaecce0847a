"""Case screens: caseload, my work, approvals, referral and the case page (DESIGN.md §4a).

Thin: every list comes from the scoped queries, every change from ``transition_case`` /
``create_referral``; this module parses forms, commits, and turns domain errors into pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, select
from werkzeug.datastructures import MultiDict

from caseapp.agencies.models import AgencyKind, ReferralSource
from caseapp.auth.models import Role
from caseapp.auth.permissions import Permission, has_permission, requires
from caseapp.cases import case_page, labels, screens
from caseapp.cases import forms as f
from caseapp.cases import operations as ops
from caseapp.cases.models import Case, CaseStatus, Stage
from caseapp.cases.policy import allowed_transitions
from caseapp.cases.queries import (
    MAX_PER_PAGE,
    SIDE_LIST,
    SORTS,
    CaseFilters,
    approval_queue,
    case_scope,
    caseload,
    get_visible_case_or_404,
    my_overdue_steps,
    my_steps,
    new_referrals,
)
from caseapp.cases.suggestions import suggest_for_household
from caseapp.cases.workflow import Action, Transition
from caseapp.core.counting import capped
from caseapp.core.errors import Conflict, StaleVersion, ValidationFailed
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.identity import normalize_number
from caseapp.households.queries import get_visible_household_or_404

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")

DEFAULT_PER_PAGE = 25
ASSIGNING = (Action.ACCEPT_REFERRAL, Action.REASSIGN, Action.REOPEN_CASE)
# The action card: the step's own actions first, returns/rejections beside them, the rest folded away.
PRIMARY = (Action.ACCEPT_REFERRAL, Action.SUBMIT_VERIFICATION, Action.APPROVE_VERIFICATION, Action.SUBMIT_PLAN,
           Action.APPROVE_PLAN, Action.SUBMIT_EVALUATION, Action.APPROVE_EVALUATION)
NEGATIVE = (Action.REJECT_REFERRAL, Action.RETURN_VERIFICATION, Action.RETURN_PLAN, Action.RETURN_EVALUATION)


# --- template helpers (registered app-wide: other domains may show a due badge too) -----------

@bp.app_template_global("due_info")
def _due_info(due_at):
    return screens.due_info(due_at)


@bp.app_template_global("case_label")
def _case_label(kind: str, code) -> str:
    return labels.label(getattr(labels, kind.upper()), code)


@bp.app_template_global("household_url")
def _household_url(household_id: int) -> str | None:
    """The register's page of a household, when that page exists in this app."""
    if "households.detail" in current_app.view_functions:
        return url_for("households.detail", household_id=household_id)
    return None


@bp.app_template_global("user_can")
def _user_can(permission: str) -> bool:
    return current_user.is_authenticated and has_permission(current_user.role, Permission(permission))


@bp.app_template_filter("rupiah")
def _rupiah(value) -> str:
    if value in (None, ""):
        return labels.NOTHING
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    whole = f"{int(number):,}".replace(",", ".")
    return f"Rp {whole}"


@bp.app_template_filter("code_words")
def _code_words(value) -> str:
    if value in (None, ""):
        return labels.NOTHING
    if isinstance(value, list | tuple):
        return ", ".join(labels.code_words(v) for v in value) or labels.NOTHING
    return labels.code_words(value)


@bp.app_template_global("url_with")
def _url_with(**changes) -> str:
    """The current list URL with some arguments changed (blank ones dropped; page reset unless given)."""
    args = MultiDict(request.args)
    if "page" not in changes:
        args.pop("page", None)
    for key, value in changes.items():
        args.pop(key, None)
        if value not in (None, "", False):
            args[key] = value
    return url_for(request.endpoint, **request.view_args, **args.to_dict())


# --- caseload --------------------------------------------------------------------------------

def _int(value, default: int | None = None, low: int = 1, high: int = 10**6) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if low <= number <= high else default


def filters_from_args(args) -> CaseFilters:
    """URL arguments → CaseFilters; unknown values are ignored rather than failing the page."""
    def pick(name: str, allowed) -> str | None:
        value = args.get(name) or None
        return value if value in allowed else None

    return CaseFilters(
        stage=pick("stage", {s.value for s in Stage}),
        status=pick("status", {s.value for s in CaseStatus}),
        kelurahan=(args.get("kelurahan") or None),
        programme=(args.get("programme") or None),
        overdue=args.get("overdue") in ("y", "1", "true", "on"),
        desil=_int(args.get("desil"), None, 1, 10),
        q=(args.get("q") or "").strip()[:100] or None,
        sort=pick("sort", set(SORTS)) or "due",
        descending=args.get("dir") == "desc",
        page=_int(args.get("page"), 1),
        per_page=_int(args.get("per_page"), DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
    )


def _looks_like_identity_number(text: str | None) -> bool:
    digits = normalize_number(text or "")
    return len(digits) == 16 and digits.isdigit()


def _render_caseload(filters: CaseFilters, *, search_form=None, searched: bool = False, found=None, status=200):
    form = f.CaseFilterForm(request.args if not searched else None)
    form.set_choices(screens.kelurahan_options(current_user), screens.programme_options())
    return render_template(
        "cases/index.html",
        page=caseload(current_user, filters),
        counts=screens.stage_counts(current_user),
        filters=filters,
        form=form,
        search_form=search_form or f.IdentitySearchForm(formdata=None),
        searched=searched,
        found_households=found or [],
        advanced=any((filters.status, filters.kelurahan, filters.programme, filters.overdue,
                      filters.desil is not None, filters.sort != "due", filters.descending,
                      filters.per_page != DEFAULT_PER_PAGE)),
    ), status


@bp.route("/")
@requires(Permission.CASE_VIEW)
def index():
    if _looks_like_identity_number(request.args.get("q")):
        # A NIK or KK never stays in a URL (logs, history): send the user to the exact search.
        flash(_("NIK/nomor KK tidak dicari lewat kotak ini agar tidak tersimpan di alamat halaman. "
                "Gunakan \u201cCari NIK/KK\u201d."), "warning")
        args = request.args.to_dict()
        args.pop("q", None)
        return redirect(url_for("cases.index", **args), 303)
    return _render_caseload(filters_from_args(request.args))


@bp.route("/search", methods=["POST"])
@requires(Permission.CASE_VIEW)
def search_identity():
    """Exact NIK/KK search: the number is posted and the result rendered here, never redirected."""
    form = f.IdentitySearchForm()
    if not form.validate():
        return _render_caseload(CaseFilters(household_ids=()), search_form=form, searched=True, status=422)
    number = normalize_number(form.number.data)
    if not (len(number) == 16 and number.isdigit()):
        form.number.errors = [_("NIK dan nomor KK terdiri dari 16 angka.")]
        return _render_caseload(CaseFilters(household_ids=()), search_form=form, searched=True, status=422)
    household_ids = screens.households_by_identity(current_user, number)
    found = []
    if has_permission(current_user.role, Permission.CASE_REFER):
        found = screens.households_without_visible_case(current_user, household_ids)
    filters = CaseFilters(household_ids=household_ids, per_page=MAX_PER_PAGE)
    form.number.data = ""  # do not echo the number back into the page
    return _render_caseload(filters, search_form=form, searched=True, found=found)


# --- my work and approvals -------------------------------------------------------------------

@bp.route("/my-work")
@requires(Permission.CASE_WORK)
def my_work():
    return render_template(
        "cases/my_work.html",
        steps=my_steps(current_user, request.args.get("page", 1, type=int) or 1),
        overdue=capped(my_overdue_steps(current_user)),
        referrals=new_referrals(current_user, per_page=SIDE_LIST),
        waiting=screens.my_cases_waiting_for_approval(current_user, limit=SIDE_LIST),
        side_list=SIDE_LIST,
    )


@bp.route("/approvals")
@requires(Permission.CASE_APPROVE)
def approvals():
    referrals = new_referrals(current_user)
    decisions = approval_queue(current_user, request.args.get("page", 1, type=int) or 1)
    names = screens.user_names({i.case.owner_id for i in decisions} | {i.step.submitted_by_id for i in decisions}
                               | {i.step.submitted_by_id for i in referrals})
    return render_template("cases/approvals.html", referrals=referrals, decisions=decisions, names=names)


# --- referral --------------------------------------------------------------------------------

def _default_source() -> str:
    if Role(current_user.role) == Role.AGENCY_OFFICER and current_user.agency is not None:
        if current_user.agency.kind == AgencyKind.HEALTH:
            return "DOKTER_KELUARGA"
        if current_user.agency.kind == AgencyKind.KELURAHAN:
            return "KELURAHAN"
    return "OUTREACH"


def _visible(case: Case | None) -> bool:
    return case is not None and bool(db.session.scalar(
        select(exists().where(Case.id == case.id, case_scope(current_user)))))


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.CASE_REFER)
def new_referral():
    household_id = _int(request.args.get("household_id"))
    if household_id is None:
        register = url_for("households.index") if "households.index" in current_app.view_functions else None
        return render_template("cases/refer_pick.html", search_form=f.IdentitySearchForm(formdata=None),
                               register_url=register)
    household = get_visible_household_or_404(current_user, household_id)
    form = f.ReferralForm()
    sources = db.session.scalars(select(ReferralSource).where(ReferralSource.active.is_(True))
                                 .order_by(ReferralSource.code)).all()
    form.source.choices = f.options([(s.code, labels.label(labels.REFERRAL_SOURCES, s.code)) for s in sources])
    if request.method == "GET":
        form.source.data = _default_source()
    existing = ops.open_case_of(db.session, household.id)
    conflict, status = None, 200
    if request.method == "POST" and form.validate():
        try:
            case = ops.create_referral(db.session, actor=current_user, household=household,
                                       source=form.source.data or "", reason=form.reason.data or "")
        except ValidationFailed as exc:
            db.session.rollback()
            f.add_errors(form, exc.fields)
            status = 422
        except Conflict as exc:
            db.session.rollback()
            conflict, status = exc.message, 409
            existing = ops.open_case_of(db.session, household.id)
        else:
            db.session.commit()
            flash(_("Rujukan %(number)s terkirim. Penyelia akan menelaahnya.", number=case.number), "success")
            if _visible(case):
                return redirect(url_for("cases.detail", case_id=case.id), 303)
            return redirect(url_for("cases.index"), 303)
    elif request.method == "POST":
        status = 422
    return render_template(
        "cases/new.html", form=form, household=household, head=household.head,
        existing=existing, existing_visible=_visible(existing), conflict=conflict,
    ), status


# --- the case page ---------------------------------------------------------------------------

@dataclass
class Posted:
    """A form the user just sent that failed, to show again with its errors."""

    action: str
    form: object
    intervention_id: int | None = None


def _worker_choices(case: Case) -> list[tuple[str, str]]:
    choices = []
    for w in screens.eligible_workers(case):
        area = w.kelurahan or _("seluruh kota")
        choices.append((str(w.id), _("%(name)s · %(area)s · %(n)d kasus aktif", name=w.name, area=area,
                                     n=w.open_cases)))
    return choices


def _member_choices(page: case_page.CasePage) -> list[tuple[str, str]]:
    out = []
    for row in page.members:
        relation = labels.label(labels.RELATIONS, row.person.relation)
        age = _("%(n)d th", n=row.age) if row.age is not None else labels.NOTHING
        out.append((str(row.person.id), f"{row.person.name} ({relation}, {age})"))
    return out


def _plan_rows(case: Case, suggestions) -> list[dict]:
    rows = case_page.previous_plan(case)
    if not rows:
        rows = [{"program": s.program, "person_id": str(s.person_id or ""), "note": "", "amount": ""}
                for s in suggestions]
    rows = rows[: f.MAX_PLAN_ROWS - 2]
    return rows + [{}] * max(f.PLAN_ROWS - len(rows), 2)


def _action_forms(case: Case, page: case_page.CasePage, transitions: list[Transition], posted: Posted | None):
    """One form per action the user may take now, with its choices; a failed one keeps its input.

    Returns the forms by action and the suggestion reasons by (programme, person) for the plan editor.
    """
    actions = {t.action for t in transitions}
    workers = _worker_choices(case) if actions & set(ASSIGNING) else []
    suggestions = suggest_for_household(db.session, case.household_id) if Action.SUBMIT_PLAN in actions else []
    forms: dict[str, object] = {}
    for action in actions:
        if posted is not None and posted.intervention_id is None and posted.action == action.value:
            form = posted.form
        else:
            data = {"action": action.value, "version": case.version}
            if action == Action.SUBMIT_PLAN:
                data["rows"] = _plan_rows(case, suggestions)
            form = f.FORMS[action](formdata=None, data=data)
        if isinstance(form, f.AssignForm):
            form.assignee_id.choices = f.options(workers, _("— pilih pekerja sosial —"))
        elif isinstance(form, f.ReopenForm):
            keep = _("Tetap %(name)s", name=page.owner_name) if page.owner_name else _("— pilih pekerja sosial —")
            form.assignee_id.choices = f.options(workers, keep)
        elif isinstance(form, f.ReasonForm):
            form.reason.choices = f.options(f.REASON_CHOICES[action].items(), _("— pilih alasan —"))
        elif isinstance(form, f.EvaluationForm):
            form.outcome.choices = f.options(labels.OUTCOMES.items(), _("— pilih hasil —"))
        elif isinstance(form, f.PlanForm):
            form.set_choices([(o.value, o.label, o.group) for o in screens.programme_options()],
                             _member_choices(page))
        forms[action.value] = f.unique_ids(form, action.value)
    locale = get_locale()
    reasons = {(s.program, str(s.person_id or "")): s.reason(locale) for s in suggestions}
    return forms, reasons


def _intervention_forms(page: case_page.CasePage, posted: Posted | None):
    forms = {}
    views = [v for group in page.current for v in group.items] + [v for _r, vs in page.earlier_rounds for v in vs]
    uploads = "attachments.upload_for_intervention" in current_app.view_functions
    for view in views:
        if uploads and view.can_upload:
            forms[f"{view.iv.id}-upload"] = f.unique_ids(f.UploadForm(formdata=None), f"iv{view.iv.id}-upload")
        for action in view.actions:
            key = f"{view.iv.id}-{action}"
            if posted is not None and posted.intervention_id == view.iv.id and posted.action == action:
                form = posted.form
            else:
                data = {"action": action, "version": view.iv.version, "back": "case"}
                if action == "milestone":
                    data["milestone"] = view.next_milestone
                if action == "deliver":
                    data["delivered_on"] = utcnow().astimezone(screens.LOCAL_TZ).date().isoformat()
                    data["amount"] = f"{int(view.iv.amount)}" if view.iv.amount is not None else ""
                form = f.InterventionActionForm(formdata=None, data=data)
            forms[key] = f.unique_ids(form, f"iv{key}")
    return forms


def render_case_page(case: Case, *, status: int = 200, posted: Posted | None = None, stale: str | None = None):
    """The case page; also used to show a failed form again (422) or a stale-version notice (409)."""
    submitter = ops.pending_approval_submitter(db.session, case)
    transitions = allowed_transitions(case, current_user, submitted_by_id=submitter)
    page = case_page.build_case_page(current_user, case)
    forms, reasons = _action_forms(case, page, transitions, posted)
    by_group = {
        "primary": [t for t in transitions if t.action in PRIMARY],
        "negative": [t for t in transitions if t.action in NEGATIVE],
        "other": [t for t in transitions if t.action not in PRIMARY and t.action not in NEGATIVE],
    }
    return render_template(
        "cases/detail.html", page=page, case=case, transitions=transitions, groups=by_group, forms=forms,
        reasons=reasons, iv_forms=_intervention_forms(page, posted), stale=stale,
        own_submission=submitter is not None and submitter == current_user.id,
        open_other=posted is not None and posted.intervention_id is None
        and posted.action in {t.action.value for t in by_group["other"]},
    ), status


@bp.route("/<int:case_id>")
@requires(Permission.CASE_VIEW)
def detail(case_id: int):
    return render_case_page(get_visible_case_or_404(current_user, case_id))


@bp.route("/<int:case_id>/actions", methods=["POST"])
@requires(Permission.CASE_VIEW)
def act(case_id: int):
    """Run one workflow action; the role, state and guard checks are transition_case's."""
    case = get_visible_case_or_404(current_user, case_id)
    try:
        action = Action(request.form.get("action", ""))
        form_class = f.FORMS[action]
    except (ValueError, KeyError):
        abort(400)
    form = form_class()
    if not form.validate():
        if form.version.errors:
            abort(400)
        return render_case_page(case, status=422, posted=Posted(action.value, form))
    try:
        ops.transition_case(db.session, case, action, current_user, version=form.version.data, **form.payload())
    except ValidationFailed as exc:
        db.session.rollback()
        form.form_errors = f.add_errors(form, exc.fields)
        return render_case_page(get_visible_case_or_404(current_user, case_id), status=422,
                                posted=Posted(action.value, form))
    except StaleVersion:
        db.session.rollback()
        return render_case_page(get_visible_case_or_404(current_user, case_id), status=409, stale="case")
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    flash(str(labels.DONE[action]), "success")
    if _visible(case):
        return redirect(url_for("cases.detail", case_id=case.id), 303)
    return redirect(url_for("cases.index"), 303)


# --- export (CSV/XLSX of the filtered caseload; scope from the caseload query) --------------

@bp.route("/export")
@requires(Permission.DATA_EXPORT)
def export():
    """The filtered case list as a file: every page of ``caseload`` (so only cases in scope); logged."""
    from dataclasses import replace

    from caseapp.households import exports

    fmt = request.args.get("format", "csv")
    if fmt not in exports.FORMATS or _looks_like_identity_number(request.args.get("q")):
        abort(400)
    filters = replace(filters_from_args(request.args), per_page=MAX_PER_PAGE)
    rows, page_number = [], 1
    while True:
        page = caseload(current_user, replace(filters, page=page_number))
        rows.extend((r.case.number, labels.label(labels.STAGES, r.case.stage),
                     labels.label(labels.STATUSES, r.case.status), r.kelurahan_name, r.head_name, r.desil,
                     r.owner_name, r.case.due_at) for r in page.items)
        if page_number >= page.pages or len(rows) >= 100_000:
            break
        page_number += 1
    header = (_("Nomor kasus"), _("Tahap"), _("Status"), _("Kelurahan"), _("Kepala keluarga"), _("Desil"),
              _("Petugas"), _("Batas waktu"))
    exports.log_export(db.session, user_id=current_user.id, what="cases", fmt=fmt, full_identity=False,
                       filters={k: v for k, v in request.args.items() if k not in ("format", "page")},
                       row_count=len(rows))
    db.session.commit()
    return exports.render(fmt, header, rows, "kasus")
