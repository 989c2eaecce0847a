"""The workflow engine through its operations: every path of DESIGN.md §2."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.cases.models import Case, CaseStatus, Intervention, InterventionStatus, Stage, Step
from caseapp.cases.policy import allowed_transitions
from caseapp.core.audit import AuditEvent
from caseapp.core.errors import NotAllowed, StaleVersion, ValidationFailed
from caseapp.notifications.models import Notification
from tests.factories import HouseholdFactory, PersonFactory, UserFactory


def user(session, email) -> User:
    return session.scalar(select(User).where(User.email == email))


@pytest.fixture
def people(ctx):
    return {name: user(ctx, f"{name}@sinergi.test")
            for name in ("admin", "supervisor", "worker", "worker2", "dokter", "rumah", "viewer")}


@pytest.fixture
def household(ctx):
    head = PersonFactory(household=HouseholdFactory(kelurahan_code="35.71.01.1001"))
    PersonFactory(household=head.household, name="Anak", relation="child")
    return head.household


def act(session, case, action, actor, **data):
    return ops.transition_case(session, case, action, actor, version=case.version, **data)


def notifications_for(session, person, kind):
    return session.scalar(select(func.count(Notification.id)).where(
        Notification.recipient_id == person.id, Notification.kind == kind))


def deliver_all(session, case, officer_by_agency):
    for iv in session.scalars(select(Intervention).where(Intervention.case_id == case.id,
                                                         Intervention.round == case.round)):
        officer = officer_by_agency[iv.agency_id]
        ops.act_on_intervention(session, iv, "claim", officer, version=iv.version)
        ops.act_on_intervention(session, iv, "start", officer, version=iv.version)
        for milestone in iv.programme.milestones:
            ops.act_on_intervention(session, iv, "milestone", officer, version=iv.version, milestone=milestone)
        ops.act_on_intervention(session, iv, "deliver", officer, version=iv.version, note="diserahkan",
                                amount="20000000")


def test_referral_to_graduation(ctx, people, household):
    case = ops.create_referral(ctx, actor=people["worker"], household=household, source="OUTREACH",
                               reason="Atap bocor, kepala keluarga sakit")
    assert (case.stage, case.status) == (Stage.REFERRAL, CaseStatus.NEW)
    assert case.number.startswith("KDR-")
    assert notifications_for(ctx, people["supervisor"], "new_referral") == 1

    act(ctx, case, "accept_referral", people["supervisor"], assignee_id=people["worker"].id)
    assert (case.stage, case.status, case.owner_id) == (Stage.VERIFICATION, CaseStatus.ASSIGNED, people["worker"].id)
    assert notifications_for(ctx, people["worker"], "assigned") == 1

    act(ctx, case, "submit_verification", people["worker"], findings="Kunjungan rumah 3 Maret: atap rusak")
    assert case.status == CaseStatus.SUBMITTED
    act(ctx, case, "approve_verification", people["supervisor"])
    assert (case.stage, case.status) == (Stage.INTERVENTION, CaseStatus.PLANNING)

    plan = [{"program": "RTLH"}, {"program": "DOKTER_KELUARGA", "note": "kontrol hipertensi"}]
    act(ctx, case, "submit_plan", people["worker"], interventions=plan)
    act(ctx, case, "approve_plan", people["supervisor"])
    assert case.status == CaseStatus.ACTIVE
    interventions = ctx.scalars(select(Intervention).where(Intervention.case_id == case.id)).all()
    assert sorted(iv.programme.code for iv in interventions) == ["DOKTER_KELUARGA", "RTLH"]
    assert all(iv.status == InterventionStatus.PENDING for iv in interventions)
    assert notifications_for(ctx, people["dokter"], "new_in_queue") == 1
    assert notifications_for(ctx, people["rumah"], "new_in_queue") == 1

    deliver_all(ctx, case, {people["dokter"].agency_id: people["dokter"], people["rumah"].agency_id: people["rumah"]})
    ctx.refresh(case)
    assert (case.stage, case.status) == (Stage.EVALUATION, CaseStatus.ASSIGNED)

    act(ctx, case, "submit_evaluation", people["worker"], outcome="graduated", findings="Mandiri")
    act(ctx, case, "approve_evaluation", people["supervisor"])
    assert (case.stage, case.status, case.outcome) == (Stage.CLOSED, CaseStatus.CLOSED, "graduated")
    assert case.closed_at is not None and case.due_at is None and case.retention_until is not None
    actions = ctx.scalars(select(AuditEvent.action).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id))
    assert "complete_interventions" in list(actions)
    open_steps = ctx.scalar(select(func.count(Step.id)).where(Step.case_id == case.id, Step.status == "open"))
    assert open_steps == 0


def walk_to(ctx, people, household, status):
    case = ops.create_referral(ctx, actor=people["worker"], household=household, source="OUTREACH", reason="x")
    act(ctx, case, "accept_referral", people["supervisor"], assignee_id=people["worker"].id)
    if status == "verification_submitted":
        act(ctx, case, "submit_verification", people["worker"], findings="f")
        return case
    act(ctx, case, "submit_verification", people["worker"], findings="f")
    act(ctx, case, "approve_verification", people["supervisor"])
    if status == "planning":
        return case
    act(ctx, case, "submit_plan", people["worker"], interventions=[{"program": "ATM_BERAS"}])
    if status == "plan_submitted":
        return case
    act(ctx, case, "approve_plan", people["supervisor"])
    return case


def test_returns_go_back_with_a_required_comment(ctx, people, household):
    case = walk_to(ctx, people, household, "verification_submitted")
    with pytest.raises(ValidationFailed) as err:
        act(ctx, case, "return_verification", people["supervisor"])
    assert "comment" in err.value.fields
    act(ctx, case, "return_verification", people["supervisor"], comment="Foto rumah belum ada")
    assert (case.stage, case.status) == (Stage.VERIFICATION, CaseStatus.ASSIGNED)
    assert notifications_for(ctx, people["worker"], "returned") == 1


def test_return_plan_and_evaluation_continue_opens_a_new_round(ctx, people, household):
    case = walk_to(ctx, people, household, "plan_submitted")
    act(ctx, case, "return_plan", people["supervisor"], comment="Tambahkan JKN")
    assert case.status == CaseStatus.PLANNING
    act(ctx, case, "submit_plan", people["worker"], interventions=[{"program": "ATM_BERAS"}])
    act(ctx, case, "approve_plan", people["supervisor"])
    iv = ctx.scalars(select(Intervention).where(Intervention.case_id == case.id)).one()
    officer = ctx.scalar(select(User).where(User.agency_id == iv.agency_id)) or people["supervisor"]
    ops.act_on_intervention(ctx, iv, "cancel", people["supervisor"], version=iv.version, reason="Stok habis")
    ctx.refresh(case)
    assert case.stage == Stage.EVALUATION and officer is not None
    act(ctx, case, "submit_evaluation", people["worker"], outcome="continue")
    act(ctx, case, "return_evaluation", people["supervisor"], comment="Jelaskan rencana berikutnya")
    act(ctx, case, "submit_evaluation", people["worker"], outcome="continue")
    act(ctx, case, "approve_evaluation", people["supervisor"])
    assert (case.stage, case.status, case.round) == (Stage.INTERVENTION, CaseStatus.PLANNING, 2)


def test_reject_close_reopen_and_reassign(ctx, people, household):
    case = ops.create_referral(ctx, actor=people["worker"], household=household, source="OUTREACH", reason="x")
    with pytest.raises(ValidationFailed):
        act(ctx, case, "reject_referral", people["supervisor"], reason="bosan")
    act(ctx, case, "reject_referral", people["supervisor"], reason="duplicate")
    assert (case.stage, case.closure_reason) == (Stage.CLOSED, "duplicate")
    act(ctx, case, "reopen_case", people["supervisor"], comment="Ternyata bukan duplikat",
        assignee_id=people["worker"].id)
    assert (case.stage, case.status, case.owner_id) == (Stage.VERIFICATION, CaseStatus.ASSIGNED, people["worker"].id)
    with pytest.raises(ValidationFailed, match="Periksa") as err:  # worker2 works in another kecamatan
        act(ctx, case, "reassign", people["supervisor"], assignee_id=people["worker2"].id)
    assert "assignee_id" in err.value.fields
    colleague = UserFactory(role="social_worker", kecamatan_code="35.71.01")
    act(ctx, case, "reassign", people["supervisor"], assignee_id=colleague.id)
    assert case.owner_id == colleague.id
    step = ctx.scalars(select(Step).where(Step.case_id == case.id, Step.status == "open")).one()
    assert step.assignee_id == colleague.id
    act(ctx, case, "close_case", people["supervisor"], reason="moved")
    assert case.stage == Stage.CLOSED


def test_nobody_approves_their_own_submission(ctx, people, household):
    case = walk_to(ctx, people, household, "verification_submitted")
    step = ctx.scalars(select(Step).where(Step.case_id == case.id, Step.kind == "approval")).one()
    step.submitted_by_id = people["supervisor"].id  # as if the supervisor had submitted it
    ctx.flush()
    with pytest.raises(NotAllowed):
        act(ctx, case, "approve_verification", people["supervisor"])
    allowed = allowed_transitions(case, people["supervisor"], submitted_by_id=people["supervisor"].id)
    assert [t.action for t in allowed] == ["close_case", "reassign"]


def test_stale_version_is_refused_and_changes_nothing(ctx, people, household):
    case = walk_to(ctx, people, household, "verification_submitted")
    old = case.version
    act(ctx, case, "approve_verification", people["supervisor"])
    events = ctx.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.case_id == case.id))
    with pytest.raises(StaleVersion):
        ops.transition_case(ctx, case, "close_case", people["supervisor"], version=old, reason="moved")
    assert case.stage == Stage.INTERVENTION
    assert ctx.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.case_id == case.id)) == events


@pytest.mark.parametrize("who", ["worker2", "dokter", "viewer", "admin"])
def test_wrong_role_or_not_the_owner_is_refused(ctx, people, household, who):
    case = walk_to(ctx, people, household, "planning")
    with pytest.raises((NotAllowed, Exception)) as err:
        act(ctx, case, "submit_plan", people[who], interventions=[{"program": "ATM_BERAS"}])
    assert err.type.__name__ in ("NotAllowed", "NotFound")
    assert case.status == CaseStatus.PLANNING


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "Wajib diisi"),
        ([{"program": "NOPE"}], "tidak ada"),
        ([{"program": "PELATIHAN_KERJA"}], "perorangan"),
        ([{"program": "ATM_BERAS"}, {"program": "ATM_BERAS"}], "sudah ada"),
        ([{"program": "ATM_BERAS", "amount": "-5"}], "rupiah"),
        ([{"program": "ADMINDUK", "person_nik": "3571010101010001"}], "bukan anggota"),
    ],
    ids=["empty", "unknown-programme", "person-programme-without-person", "duplicate", "negative-amount",
         "person-not-in-household"],
)
def test_an_invalid_plan_is_refused_naming_the_problem(ctx, people, household, plan, message):
    case = walk_to(ctx, people, household, "planning")
    with pytest.raises(ValidationFailed) as err:
        act(ctx, case, "submit_plan", people["worker"], interventions=plan)
    assert message in " ".join(err.value.fields["interventions"])
    assert case.status == CaseStatus.PLANNING


def test_one_open_case_per_household(ctx, people, household):
    ops.create_referral(ctx, actor=people["worker"], household=household, source="OUTREACH", reason="x")
    with pytest.raises(Exception, match="sudah punya kasus terbuka"):
        ops.create_referral(ctx, actor=people["worker"], household=household, source="OUTREACH", reason="y")
    assert ctx.scalar(select(func.count(Case.id)).where(Case.household_id == household.id)) == 1
