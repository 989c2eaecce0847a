"""Cases, interventions and notifications in the JSON API (DESIGN.md §6).

The same operations, scope and policies as the HTML views: ``transition_case`` for every case
action, ``act_on_intervention`` for agency work, ``visible_cases`` for every list and load.
"""

from __future__ import annotations

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select

from caseapp.api.schemas import INT32, RECORD_ID, ApiError, StrictSchema, money_amount
from caseapp.auth.permissions import Permission, requires
from caseapp.cases import operations as ops
from caseapp.cases.models import CaseStatus, Intervention, InterventionStatus, Stage
from caseapp.cases.policy import allowed_transitions
from caseapp.cases.queries import (
    CaseFilters,
    caseload,
    get_visible_case_or_404,
    get_visible_intervention_or_404,
    timeline,
    visible_interventions,
)
from caseapp.core.errors import ValidationFailed
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.models import Relation
from caseapp.households.queries import get_visible_household_or_404
from caseapp.notifications.models import Notification

bp = Blueprint("api_cases", __name__, url_prefix="/api/v1", description="Cases, interventions, notifications")
SECURITY = [{"bearerAuth": []}]


# --- schemas -----------------------------------------------------------------------------------

class CaseListQuery(StrictSchema):
    stage = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Stage]))
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in CaseStatus]))
    kelurahan = ma.fields.String(validate=ma.validate.Length(max=13))
    agency = ma.fields.String(validate=ma.validate.Length(max=32))
    programme = ma.fields.String(validate=ma.validate.Length(max=32))
    assigned = ma.fields.String(validate=ma.validate.OneOf(["me"]))
    overdue = ma.fields.Boolean()
    desil = ma.fields.Integer(validate=ma.validate.Range(1, 10))
    q = ma.fields.String(validate=ma.validate.Length(max=100))
    sort = ma.fields.String(validate=ma.validate.OneOf(["due", "opened", "number", "stage", "desil", "name"]))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(1, 100_000))
    per_page = ma.fields.Integer(load_default=25, validate=ma.validate.Range(1, 100))


class PersonRef(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class HouseholdRef(ma.Schema):
    id = ma.fields.Integer()
    kk_number = ma.fields.String(attribute="kk_masked", metadata={"description": "masked"})
    kelurahan_code = ma.fields.String()
    rw = ma.fields.Integer(allow_none=True)
    rt = ma.fields.Integer(allow_none=True)
    desil = ma.fields.Integer(allow_none=True)
    head_name = ma.fields.String(allow_none=True)


class UserRef(ma.Schema):
    id = ma.fields.Integer()
    full_name = ma.fields.String()


class InterventionOut(ma.Schema):
    id = ma.fields.Integer()
    case_id = ma.fields.Integer()
    case_number = ma.fields.String()
    program = ma.fields.String()
    agency = ma.fields.String()
    status = ma.fields.String()
    version = ma.fields.Integer()
    round = ma.fields.Integer()
    due_at = ma.fields.DateTime(allow_none=True)
    target_person_id = ma.fields.Integer(allow_none=True)
    assignee_id = ma.fields.Integer(allow_none=True)
    amount = ma.fields.Decimal(as_string=True, allow_none=True)
    milestones = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    milestones_required = ma.fields.List(ma.fields.String())
    delivered_on = ma.fields.Date(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)
    allowed_actions = ma.fields.List(ma.fields.String())


class CaseSummary(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    stage = ma.fields.String()
    status = ma.fields.String()
    version = ma.fields.Integer()
    kelurahan_code = ma.fields.String()
    kelurahan_name = ma.fields.String()
    head_name = ma.fields.String(allow_none=True)
    desil = ma.fields.Integer(allow_none=True)
    owner = ma.fields.Nested(UserRef, allow_none=True)
    due_at = ma.fields.DateTime(allow_none=True)
    overdue = ma.fields.Boolean()


class CaseOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    stage = ma.fields.String()
    status = ma.fields.String()
    version = ma.fields.Integer()
    round = ma.fields.Integer()
    owner = ma.fields.Nested(UserRef, allow_none=True)
    household = ma.fields.Nested(HouseholdRef)
    source = ma.fields.String(allow_none=True)
    referral_reason = ma.fields.String(allow_none=True)
    due_at = ma.fields.DateTime(allow_none=True)
    overdue = ma.fields.Boolean()
    opened_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)
    closure_reason = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(allow_none=True)
    allowed_actions = ma.fields.List(ma.fields.String())
    interventions = ma.fields.List(ma.fields.Nested(InterventionOut))


class CasePage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CaseSummary))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class ReferralIn(StrictSchema):
    household_id = ma.fields.Integer(required=True, validate=RECORD_ID)
    source = ma.fields.String(required=True, validate=ma.validate.Length(max=32))
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))


class PlanItem(StrictSchema):
    program = ma.fields.String(required=True, validate=ma.validate.Length(max=32))
    person_nik = ma.fields.String(validate=ma.validate.Regexp(r"^\d{16}$"))
    person_id = ma.fields.Integer(validate=RECORD_ID)
    note = ma.fields.String(validate=ma.validate.Length(max=1000))
    amount = ma.fields.Decimal(validate=money_amount, as_string=True,
                               metadata={"description": "Rupiah, 0 to 1000000000"})


class CaseActionIn(StrictSchema):
    action = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    version = ma.fields.Integer(required=True, validate=INT32)
    comment = ma.fields.String(validate=ma.validate.Length(max=4000))
    assignee_id = ma.fields.Integer(validate=RECORD_ID)
    findings = ma.fields.String(validate=ma.validate.Length(max=8000))
    interventions = ma.fields.List(ma.fields.Nested(PlanItem))
    outcome = ma.fields.String(validate=ma.validate.Length(max=20))
    reason = ma.fields.String(validate=ma.validate.Length(max=200))


class TimelineOut(ma.Schema):
    at = ma.fields.DateTime()
    actor = ma.fields.String(allow_none=True)
    action = ma.fields.String()
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)
    comment = ma.fields.String(allow_none=True)


class InterventionQuery(StrictSchema):
    agency = ma.fields.String(validate=ma.validate.OneOf(["mine"]))
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in InterventionStatus]))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(1, 100_000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 100))


class InterventionActionIn(StrictSchema):
    action = ma.fields.String(required=True, validate=ma.validate.OneOf(list(ops.INTERVENTION_ACTIONS)))
    version = ma.fields.Integer(required=True, validate=INT32)
    milestone = ma.fields.String(validate=ma.validate.Length(max=32))
    note = ma.fields.String(validate=ma.validate.Length(max=4000))
    amount = ma.fields.Decimal(validate=money_amount, as_string=True,
                               metadata={"description": "Rupiah, 0 to 1000000000"})
    reason = ma.fields.String(validate=ma.validate.Length(max=200))
    delivered_on = ma.fields.Date()


class NotificationOut(ma.Schema):
    id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    kind = ma.fields.String()
    case_id = ma.fields.Integer(allow_none=True)
    payload = ma.fields.Dict()
    link = ma.fields.String(allow_none=True)
    read_at = ma.fields.DateTime(allow_none=True)


# --- serialisation -----------------------------------------------------------------------------

def _overdue(case) -> bool:
    return case.stage != Stage.CLOSED and case.due_at is not None and case.due_at < utcnow()


def _intervention_json(iv: Intervention, user) -> dict:
    return {
        "id": iv.id, "case_id": iv.case_id, "case_number": iv.case.number, "program": iv.programme.code,
        "agency": iv.agency.code, "status": str(iv.status), "version": iv.version, "round": iv.round,
        "due_at": iv.due_at, "target_person_id": iv.target_person_id, "assignee_id": iv.assignee_id,
        "amount": iv.amount, "milestones": iv.milestones or {}, "milestones_required": iv.programme.milestones,
        "delivered_on": iv.delivered_on, "cancel_reason": iv.cancel_reason,
        "allowed_actions": ops.allowed_intervention_actions(user, iv),
    }


def _case_json(case, user) -> dict:
    household = case.household
    head = next((m for m in household.members if m.relation == Relation.HEAD), None)
    submitter = ops.pending_approval_submitter(db.session, case)
    interventions = db.session.scalars(
        visible_interventions(user).where(Intervention.case_id == case.id).order_by(Intervention.id)
    ).all()
    return {
        "id": case.id, "number": case.number, "stage": str(case.stage), "status": str(case.status),
        "version": case.version, "round": case.round, "owner": case.owner,
        "household": {"id": household.id, "kk_masked": household.kk_masked, "kelurahan_code": household.kelurahan_code,
                      "rw": household.rw, "rt": household.rt, "desil": household.desil,
                      "head_name": head.name if head else None},
        "source": case.source_code, "referral_reason": case.referral_reason, "due_at": case.due_at,
        "overdue": _overdue(case), "opened_at": case.opened_at, "closed_at": case.closed_at,
        "closure_reason": case.closure_reason, "outcome": case.outcome,
        "allowed_actions": [t.action.value for t in allowed_transitions(case, user, submitted_by_id=submitter)],
        "interventions": [_intervention_json(iv, user) for iv in interventions],
    }


# --- endpoints ---------------------------------------------------------------------------------

@bp.route("/cases")
@bp.arguments(CaseListQuery, location="query")
@bp.response(200, CasePage)
@bp.alt_response(401, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.CASE_VIEW)
def list_cases(args):
    """Cases in the caller's scope, filtered; `assigned=me` for the caller's own."""
    filters = CaseFilters(
        stage=args.get("stage"), status=args.get("status"), kelurahan=args.get("kelurahan"),
        agency=args.get("agency"), programme=args.get("programme"), overdue=args.get("overdue", False),
        desil=args.get("desil"), q=args.get("q"), sort=args.get("sort", "due"),
        assigned_to=current_user.id if args.get("assigned") == "me" else None,
        page=args["page"], per_page=args["per_page"],
    )
    result = caseload(current_user, filters)
    items = [{
        "id": row.case.id, "number": row.case.number, "stage": str(row.case.stage), "status": str(row.case.status),
        "version": row.case.version, "kelurahan_code": row.case.kelurahan_code, "kelurahan_name": row.kelurahan_name,
        "head_name": row.head_name, "desil": row.desil,
        "owner": {"id": row.case.owner_id, "full_name": row.owner_name} if row.case.owner_id else None,
        "due_at": row.case.due_at, "overdue": _overdue(row.case),
    } for row in result.items]
    return {"items": items, "page": result.page, "per_page": result.per_page, "total": result.total}


@bp.route("/cases", methods=["POST"])
@bp.arguments(ReferralIn)
@bp.response(201, CaseOut)
@bp.alt_response(409, schema=ApiError, description="The household already has an open case")
@bp.alt_response(422, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.CASE_REFER)
def create_case(body):
    """Refer a household: opens a case in `referral/new`."""
    household = get_visible_household_or_404(current_user, body["household_id"])
    case = ops.create_referral(db.session, actor=current_user, household=household, source=body["source"],
                               reason=body["reason"])
    db.session.commit()
    return _case_json(case, current_user)


@bp.route("/cases/<int:case_id>")
@bp.response(200, CaseOut)
@bp.alt_response(404, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.CASE_VIEW)
def get_case(case_id):
    """One case with its interventions and the actions the caller may take now."""
    return _case_json(get_visible_case_or_404(current_user, case_id), current_user)


@bp.route("/cases/<int:case_id>/actions", methods=["POST"])
@bp.arguments(CaseActionIn)
@bp.response(200, CaseOut)
@bp.alt_response(403, schema=ApiError, description="Not allowed for this user or in this state")
@bp.alt_response(404, schema=ApiError, description="Out of scope")
@bp.alt_response(409, schema=ApiError, description="Stale version: reload")
@bp.alt_response(422, schema=ApiError, description="Missing field or failed guard")
@bp.doc(security=SECURITY)
@requires(Permission.CASE_VIEW)
def case_action(body, case_id):
    """Take a workflow action (DESIGN.md §2) on the case, carrying the version you were shown."""
    case = get_visible_case_or_404(current_user, case_id)
    data = dict(body)
    action, version = data.pop("action"), data.pop("version")
    if "interventions" in data:
        data["interventions"] = [{**item, "amount": str(item["amount"]) if "amount" in item else None}
                                 for item in data["interventions"]]
    try:
        ops.transition_case(db.session, case, action, current_user, version=version, **data)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return _case_json(case, current_user)


@bp.route("/cases/<int:case_id>/timeline")
@bp.response(200, TimelineOut(many=True))
@bp.alt_response(404, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.CASE_VIEW)
def case_timeline(case_id):
    """Every audited event of the case, oldest first."""
    case = get_visible_case_or_404(current_user, case_id)
    return [{"at": e.event.occurred_at, "actor": e.actor_name, "action": e.event.action, "before": e.event.before,
             "after": e.event.after, "comment": e.event.comment} for e in timeline(case)]


@bp.route("/interventions")
@bp.arguments(InterventionQuery, location="query")
@bp.response(200, InterventionOut(many=True))
@bp.doc(security=SECURITY)
@requires(Permission.CASE_VIEW)
def list_interventions(args):
    """Interventions the caller may see; `agency=mine` for the caller's agency queue."""
    stmt = visible_interventions(current_user)
    if args.get("agency") == "mine":
        if current_user.agency_id is None:
            raise ValidationFailed({"agency": ["Akun Anda tidak terhubung ke dinas."]})
        stmt = stmt.where(Intervention.agency_id == current_user.agency_id)
    if args.get("status"):
        stmt = stmt.where(Intervention.status == args["status"])
    stmt = stmt.order_by(Intervention.due_at.asc().nulls_last(), Intervention.id)
    stmt = stmt.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])
    return [_intervention_json(iv, current_user) for iv in db.session.scalars(stmt)]


@bp.route("/interventions/<int:intervention_id>/actions", methods=["POST"])
@bp.arguments(InterventionActionIn)
@bp.response(200, InterventionOut)
@bp.alt_response(403, schema=ApiError)
@bp.alt_response(404, schema=ApiError)
@bp.alt_response(409, schema=ApiError)
@bp.alt_response(422, schema=ApiError)
@bp.doc(security=SECURITY)
@requires(Permission.CASE_VIEW)
def intervention_action(body, intervention_id):
    """claim, start, milestone, deliver or cancel an intervention."""
    intervention = get_visible_intervention_or_404(current_user, intervention_id)
    data = dict(body)
    action, version = data.pop("action"), data.pop("version")
    try:
        ops.act_on_intervention(db.session, intervention, action, current_user, version=version, **data)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return _intervention_json(intervention, current_user)


@bp.route("/notifications")
@bp.response(200, NotificationOut(many=True))
@bp.doc(security=SECURITY)
@requires(Permission.PROFILE)
def list_notifications():
    """The caller's notifications, newest first (last 100)."""
    stmt = (select(Notification).where(Notification.recipient_id == current_user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(100))
    return list(db.session.scalars(stmt))


