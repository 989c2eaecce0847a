"""Agencies and kelurahan desks, the section table per agency kind, the programme catalogue and the
SLA settings. Thin: writes through ``caseapp.agencies.operations`` and ``caseapp.cases.operations``."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from caseapp.admin.common import CsrfForm, agencies, agency_open_work, regions, template_helpers
from caseapp.agencies import operations as ops
from caseapp.agencies.models import Agency, AgencyKind, BudgetTag, Programme, ProgrammeTarget, RegionLevel, Strategy
from caseapp.auth.permissions import Permission, requires
from caseapp.cases.models import Intervention
from caseapp.cases.operations.sla_settings import save_sla_setting, sla_rows
from caseapp.core.errors import ValidationFailed
from caseapp.extensions import db
from caseapp.households.models import Section
from caseapp.households.policy import forget_sections_cache, sections_table

bp = Blueprint("admin_config", __name__, url_prefix="/admin", template_folder="templates")
bp.context_processor(template_helpers)

AGENCY_FIELDS = ("code", "name", "kind", "kelurahan_code")
PROGRAMME_FIELDS = ("code", "name", "agency", "strategy", "target", "budget_tag", "sla_days", "milestones", "note")


def _values(fields, obj=None, read=None) -> dict[str, str]:
    if request.method == "POST":
        return {name: request.form.get(name, "").strip() for name in fields}
    return read(obj) if obj is not None else {}


def _flash_refusal(exc: ValidationFailed) -> None:
    for messages in exc.fields.values():
        for message in messages:
            flash(message, "danger")


# --- agencies ----------------------------------------------------------------------------------

@bp.route("/agencies")
@requires(Permission.ADMIN_CONFIG)
def agencies_index():
    kind = request.args.get("kind", "")
    rows = [a for a in agencies(db.session) if not kind or a.kind == kind]
    return render_template("admin/agencies.html", rows=rows, kinds=list(AgencyKind), kind=kind, form=CsrfForm())


def _agency_read(agency: Agency) -> dict[str, str]:
    return {"code": agency.code, "name": agency.name, "kind": str(agency.kind),
            "kelurahan_code": agency.kelurahan_code or ""}


def _agency_page(agency, errors):
    return render_template("admin/agency_form.html", agency=agency, form=CsrfForm(), errors=errors,
                           values=_values(AGENCY_FIELDS, agency, _agency_read), kinds=list(AgencyKind),
                           kelurahan=regions(db.session, RegionLevel.KELURAHAN),
                           open_work=agency_open_work(db.session, agency) if agency else None), \
        422 if errors else 200


@bp.route("/agencies/new", methods=["GET", "POST"])
@requires(Permission.ADMIN_CONFIG)
def agency_new():
    if request.method == "POST" and CsrfForm().validate_on_submit():
        try:
            agency = ops.create_agency(db.session, current_user, **_values(AGENCY_FIELDS))
        except ValidationFailed as exc:
            db.session.rollback()
            return _agency_page(None, exc.fields)
        db.session.commit()
        flash(_("Dinas %(code)s ditambahkan.", code=agency.code), "success")
        return redirect(url_for(".agencies_index"))
    return _agency_page(None, {})


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
@requires(Permission.ADMIN_CONFIG)
def agency_edit(agency_id: int):
    agency = db.session.get(Agency, agency_id) or abort(404)
    if request.method == "POST" and CsrfForm().validate_on_submit():
        try:
            ops.update_agency(db.session, current_user, agency, **_values(AGENCY_FIELDS))
        except ValidationFailed as exc:
            db.session.rollback()
            return _agency_page(db.session.get(Agency, agency_id), exc.fields)
        db.session.commit()
        flash(_("Dinas %(code)s disimpan.", code=agency.code), "success")
        return redirect(url_for(".agency_edit", agency_id=agency_id))
    return _agency_page(agency, {})


@bp.route("/agencies/<int:agency_id>/active", methods=["POST"])
@requires(Permission.ADMIN_CONFIG)
def agency_active(agency_id: int):
    agency = db.session.get(Agency, agency_id) or abort(404)
    if not CsrfForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    try:
        ops.set_agency_active(db.session, current_user, agency, active,
                              blockers=agency_open_work(db.session, agency))
    except ValidationFailed as exc:
        db.session.rollback()
        _flash_refusal(exc)
    else:
        db.session.commit()
        flash(_("Dinas diaktifkan.") if active else _("Dinas dinonaktifkan."), "success")
    return redirect(url_for(".agency_edit", agency_id=agency_id))


# --- section table ------------------------------------------------------------------------------

@bp.route("/agencies/sections", methods=["GET", "POST"])
@requires(Permission.ADMIN_CONFIG)
def sections():
    errors = {}
    if request.method == "POST" and CsrfForm().validate_on_submit():
        table = {kind.value: request.form.getlist(kind.value) for kind in AgencyKind}
        try:
            changed = ops.set_agency_kind_sections(db.session, current_user, table, [s.value for s in Section])
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.fields
        else:
            db.session.commit()
            forget_sections_cache()
            flash(_("Tabel bagian data disimpan (%(n)d jenis dinas berubah).", n=len(changed)), "success")
            return redirect(url_for(".sections"))
    return render_template("admin/sections.html", table=sections_table(db.session), kinds=list(AgencyKind),
                           sections=list(Section), form=CsrfForm(), errors=errors), 422 if errors else 200


# --- programmes ---------------------------------------------------------------------------------

def _programme_read(programme: Programme) -> dict[str, str]:
    return {"code": programme.code, "name": programme.name, "agency": programme.agency.code,
            "strategy": str(programme.strategy), "target": str(programme.target),
            "budget_tag": str(programme.budget_tag), "sla_days": str(programme.sla_days),
            "milestones": "\n".join(programme.milestones or []), "note": programme.note or ""}


def _programme_page(programme, errors):
    in_use = ops.programme_in_use(db.session, programme) if programme else False
    return render_template("admin/programme_form.html", programme=programme, form=CsrfForm(), errors=errors,
                           values=_values(PROGRAMME_FIELDS, programme, _programme_read), in_use=in_use,
                           agencies=agencies(db.session), strategies=list(Strategy), targets=list(ProgrammeTarget),
                           budget_tags=list(BudgetTag)), 422 if errors else 200


@bp.route("/programmes")
@requires(Permission.ADMIN_CONFIG)
def programmes_index():
    usage = dict(db.session.execute(select(Intervention.programme_id, func.count())
                                    .group_by(Intervention.programme_id)).all())
    rows = db.session.scalars(select(Programme).order_by(Programme.active.desc(), Programme.code))
    return render_template("admin/programmes.html", rows=list(rows), usage=usage)


@bp.route("/programmes/new", methods=["GET", "POST"])
@requires(Permission.ADMIN_CONFIG)
def programme_new():
    if request.method == "POST" and CsrfForm().validate_on_submit():
        try:
            programme = ops.create_programme(db.session, current_user, **_values(PROGRAMME_FIELDS))
        except ValidationFailed as exc:
            db.session.rollback()
            return _programme_page(None, exc.fields)
        db.session.commit()
        flash(_("Program %(code)s ditambahkan.", code=programme.code), "success")
        return redirect(url_for(".programmes_index"))
    return _programme_page(None, {})


@bp.route("/programmes/<int:programme_id>", methods=["GET", "POST"])
@requires(Permission.ADMIN_CONFIG)
def programme_edit(programme_id: int):
    programme = db.session.get(Programme, programme_id) or abort(404)
    if request.method == "POST" and CsrfForm().validate_on_submit():
        try:
            ops.update_programme(db.session, current_user, programme, **_values(PROGRAMME_FIELDS))
        except ValidationFailed as exc:
            db.session.rollback()
            return _programme_page(db.session.get(Programme, programme_id), exc.fields)
        db.session.commit()
        flash(_("Program %(code)s disimpan.", code=programme.code), "success")
        return redirect(url_for(".programme_edit", programme_id=programme_id))
    return _programme_page(programme, {})


@bp.route("/programmes/<int:programme_id>/active", methods=["POST"])
@requires(Permission.ADMIN_CONFIG)
def programme_active(programme_id: int):
    programme = db.session.get(Programme, programme_id) or abort(404)
    if not CsrfForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    ops.set_programme_active(db.session, current_user, programme, active)
    db.session.commit()
    flash(_("Program diaktifkan.") if active else _("Program dinonaktifkan; rencana baru tidak dapat memilihnya."),
          "success")
    return redirect(url_for(".programme_edit", programme_id=programme_id))


# --- SLA settings --------------------------------------------------------------------------------

@bp.route("/sla", methods=["GET", "POST"])
@requires(Permission.ADMIN_CONFIG)
def sla():
    errors, failed_key = {}, None
    if request.method == "POST" and CsrfForm().validate_on_submit():
        key = request.form.get("key", "")
        try:
            save_sla_setting(db.session, current_user, key, days=request.form.get("days"),
                             remind_days_before=request.form.get("remind_days_before"),
                             escalate_days_after=request.form.get("escalate_days_after"))
        except ValidationFailed as exc:
            db.session.rollback()
            errors, failed_key = exc.fields, key
        else:
            db.session.commit()
            flash(_("Batas waktu %(key)s disimpan; berlaku untuk langkah baru.", key=key), "success")
            return redirect(url_for(".sla"))
    return render_template("admin/sla.html", rows=sla_rows(db.session), form=CsrfForm(), errors=errors,
                           failed_key=failed_key, posted=request.form), 422 if errors else 200
