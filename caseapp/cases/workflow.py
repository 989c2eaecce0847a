"""The case workflow of DESIGN.md §2 as data.

Each :class:`Transition` says which action moves a case from which stage/status to which, who may
take it, what it needs, what must hold (guards, as names looked up in ``operations``), which step it
closes and opens, and whom it notifies. ``operations.transition_case`` is the one interpreter of
this table; nothing else changes a case's stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from caseapp.auth.models import Role
from caseapp.cases.models import CaseStatus, Stage


class Action(StrEnum):
    ACCEPT_REFERRAL = "accept_referral"
    REJECT_REFERRAL = "reject_referral"
    SUBMIT_VERIFICATION = "submit_verification"
    APPROVE_VERIFICATION = "approve_verification"
    RETURN_VERIFICATION = "return_verification"
    SUBMIT_PLAN = "submit_plan"
    APPROVE_PLAN = "approve_plan"
    RETURN_PLAN = "return_plan"
    COMPLETE_INTERVENTIONS = "complete_interventions"  # automatic, never offered to a user
    SUBMIT_EVALUATION = "submit_evaluation"
    APPROVE_EVALUATION = "approve_evaluation"
    RETURN_EVALUATION = "return_evaluation"
    CLOSE_CASE = "close_case"
    REOPEN_CASE = "reopen_case"
    REASSIGN = "reassign"


class StepKind(StrEnum):
    TRIAGE = "triage"
    VERIFICATION = "verification"
    PLAN = "plan"
    EVALUATION = "evaluation"
    APPROVAL = "approval"


class Notify(StrEnum):
    """Who hears about an action (the notifications domain turns these into outbox rows)."""

    OWNER = "owner"              # the case's social worker
    SUPERVISORS = "supervisors"  # supervisors whose scope holds the case
    SUBMITTER = "submitter"      # whoever submitted the step just decided
    AGENCIES = "agencies"        # officers of each agency that received an intervention
    REFERRER = "referrer"        # whoever referred the case


REJECT_REASONS = ("duplicate", "out_of_area", "not_eligible", "insufficient_info")
CLOSE_REASONS = ("moved", "deceased", "duplicate", "refused", "not_eligible")
OUTCOMES = ("graduated", "continue", "refer_out")

OPEN_STAGES = (Stage.REFERRAL, Stage.VERIFICATION, Stage.INTERVENTION, Stage.EVALUATION)


@dataclass(frozen=True)
class Transition:
    action: Action
    from_stages: tuple[Stage, ...]
    from_status: CaseStatus | None         # None: any status of those stages
    to_stage: Stage | None                 # None: stays in its stage
    to_status: CaseStatus | None           # None: keeps its status
    roles: frozenset[Role]
    required: tuple[str, ...] = ()         # fields the action must carry
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    guards: tuple[str, ...] = ()           # names of checks in operations.GUARDS
    closes: StepKind | None = None         # the open step this action finishes
    opens: StepKind | None = None          # the step it opens (due date from SLA settings)
    notify: tuple[tuple[Notify, str], ...] = ()
    automatic: bool = False
    label: str = ""                        # words on the button (Indonesian; translated in the UI)


SUPERVISOR = frozenset({Role.SUPERVISOR})
WORKER = frozenset({Role.SOCIAL_WORKER})
A = Action

TRANSITIONS: tuple[Transition, ...] = (
    Transition(A.ACCEPT_REFERRAL, (Stage.REFERRAL,), CaseStatus.NEW, Stage.VERIFICATION, CaseStatus.ASSIGNED,
               SUPERVISOR, required=("assignee_id",), guards=("assignee_is_social_worker",),
               closes=StepKind.TRIAGE, opens=StepKind.VERIFICATION,
               notify=((Notify.OWNER, "assigned"), (Notify.REFERRER, "referral_accepted")),
               label="Terima rujukan"),
    Transition(A.REJECT_REFERRAL, (Stage.REFERRAL,), CaseStatus.NEW, Stage.CLOSED, CaseStatus.CLOSED,
               SUPERVISOR, required=("reason",), choices={"reason": REJECT_REASONS},
               closes=StepKind.TRIAGE, notify=((Notify.REFERRER, "referral_rejected"),),
               label="Tolak rujukan"),
    Transition(A.SUBMIT_VERIFICATION, (Stage.VERIFICATION,), CaseStatus.ASSIGNED, None, CaseStatus.SUBMITTED,
               WORKER, required=("findings",), guards=("actor_is_owner",),
               closes=StepKind.VERIFICATION, opens=StepKind.APPROVAL,
               notify=((Notify.SUPERVISORS, "approval_requested"),), label="Kirim hasil verifikasi"),
    Transition(A.APPROVE_VERIFICATION, (Stage.VERIFICATION,), CaseStatus.SUBMITTED, Stage.INTERVENTION,
               CaseStatus.PLANNING, SUPERVISOR, guards=("not_own_submission",),
               closes=StepKind.APPROVAL, opens=StepKind.PLAN, notify=((Notify.OWNER, "approved"),),
               label="Setujui verifikasi"),
    Transition(A.RETURN_VERIFICATION, (Stage.VERIFICATION,), CaseStatus.SUBMITTED, None, CaseStatus.ASSIGNED,
               SUPERVISOR, required=("comment",), guards=("not_own_submission",),
               closes=StepKind.APPROVAL, opens=StepKind.VERIFICATION, notify=((Notify.OWNER, "returned"),),
               label="Kembalikan verifikasi"),
    Transition(A.SUBMIT_PLAN, (Stage.INTERVENTION,), CaseStatus.PLANNING, None, CaseStatus.PLAN_SUBMITTED,
               WORKER, required=("interventions",), guards=("actor_is_owner", "plan_is_valid"),
               closes=StepKind.PLAN, opens=StepKind.APPROVAL,
               notify=((Notify.SUPERVISORS, "approval_requested"),), label="Kirim rencana intervensi"),
    Transition(A.APPROVE_PLAN, (Stage.INTERVENTION,), CaseStatus.PLAN_SUBMITTED, None, CaseStatus.ACTIVE,
               SUPERVISOR, guards=("not_own_submission",), closes=StepKind.APPROVAL,
               notify=((Notify.OWNER, "approved"), (Notify.AGENCIES, "new_in_queue")),
               label="Setujui rencana"),
    Transition(A.RETURN_PLAN, (Stage.INTERVENTION,), CaseStatus.PLAN_SUBMITTED, None, CaseStatus.PLANNING,
               SUPERVISOR, required=("comment",), guards=("not_own_submission",),
               closes=StepKind.APPROVAL, opens=StepKind.PLAN, notify=((Notify.OWNER, "returned"),),
               label="Kembalikan rencana"),
    Transition(A.COMPLETE_INTERVENTIONS, (Stage.INTERVENTION,), CaseStatus.ACTIVE, Stage.EVALUATION,
               CaseStatus.ASSIGNED, frozenset(), guards=("interventions_finished",),
               opens=StepKind.EVALUATION, notify=((Notify.OWNER, "evaluation_due"),), automatic=True),
    Transition(A.SUBMIT_EVALUATION, (Stage.EVALUATION,), CaseStatus.ASSIGNED, None, CaseStatus.SUBMITTED,
               WORKER, required=("outcome",), choices={"outcome": OUTCOMES}, guards=("actor_is_owner",),
               closes=StepKind.EVALUATION, opens=StepKind.APPROVAL,
               notify=((Notify.SUPERVISORS, "approval_requested"),), label="Kirim evaluasi"),
    # The outcome decides where approval leads: graduated / refer_out close, continue replans.
    Transition(A.APPROVE_EVALUATION, (Stage.EVALUATION,), CaseStatus.SUBMITTED, None, None,
               SUPERVISOR, guards=("not_own_submission",), closes=StepKind.APPROVAL,
               notify=((Notify.OWNER, "approved"),), label="Setujui evaluasi"),
    Transition(A.RETURN_EVALUATION, (Stage.EVALUATION,), CaseStatus.SUBMITTED, None, CaseStatus.ASSIGNED,
               SUPERVISOR, required=("comment",), guards=("not_own_submission",),
               closes=StepKind.APPROVAL, opens=StepKind.EVALUATION, notify=((Notify.OWNER, "returned"),),
               label="Kembalikan evaluasi"),
    Transition(A.CLOSE_CASE, OPEN_STAGES, None, Stage.CLOSED, CaseStatus.CLOSED, SUPERVISOR,
               required=("reason",), choices={"reason": CLOSE_REASONS},
               notify=((Notify.OWNER, "closed"),), label="Tutup kasus"),
    Transition(A.REOPEN_CASE, (Stage.CLOSED,), CaseStatus.CLOSED, Stage.VERIFICATION, CaseStatus.ASSIGNED,
               SUPERVISOR, required=("comment",), guards=("owner_available", "no_other_open_case"),
               opens=StepKind.VERIFICATION, notify=((Notify.OWNER, "assigned"),), label="Buka kembali kasus"),
    Transition(A.REASSIGN, OPEN_STAGES, None, None, None, SUPERVISOR, required=("assignee_id",),
               guards=("assignee_is_social_worker",), notify=((Notify.OWNER, "assigned"),),
               label="Alihkan ke pekerja sosial lain"),
)

BY_ACTION: dict[Action, Transition] = {t.action: t for t in TRANSITIONS}

# Where an approved evaluation leads, by its outcome.
EVALUATION_RESULT: dict[str, tuple[Stage, CaseStatus]] = {
    "graduated": (Stage.CLOSED, CaseStatus.CLOSED),
    "refer_out": (Stage.CLOSED, CaseStatus.CLOSED),
    "continue": (Stage.INTERVENTION, CaseStatus.PLANNING),
}

# Due dates, in days, when no SLA setting overrides them (DESIGN.md §2).
DEFAULT_SLA_DAYS: dict[StepKind, int] = {
    StepKind.TRIAGE: 3,
    StepKind.VERIFICATION: 14,
    StepKind.PLAN: 7,
    StepKind.APPROVAL: 3,
    StepKind.EVALUATION: 30,
}


def applies(transition: Transition, stage: Stage, status: CaseStatus) -> bool:
    """True when *transition* can start from a case in *stage*/*status*."""
    return stage in transition.from_stages and transition.from_status in (None, status)


def candidate_actions(stage: Stage, status: CaseStatus) -> list[Transition]:
    """User actions the table allows from this state, before role, scope and guards."""
    return [t for t in TRANSITIONS if not t.automatic and applies(t, stage, status)]
