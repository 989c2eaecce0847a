"""Every workflow action × every role: who may take it, written out as one table.

The table is independent of the code's own transition table on purpose: if someone widens a role in
``workflow.py``, this test disagrees. ``ok`` = the action went through; ``403`` = in scope but not
allowed (wrong role, not the owner); ``404`` = the case is outside the user's scope.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.core.errors import NotAllowed, NotFound
from tests.factories import HouseholdFactory, PersonFactory, UserFactory

# worker = the case's owner; colleague = another social worker of the same kelurahan (not the owner),
# who sees the case only while it is a new referral.
USERS = ("worker", "colleague", "worker2", "supervisor", "dokter", "viewer", "admin")
SUPERVISOR_ONLY = {"worker": "403", "colleague": "404", "worker2": "404", "supervisor": "ok", "dokter": "404",
                   "viewer": "404", "admin": "403"}
OWNER_ONLY = {"worker": "ok", "colleague": "404", "worker2": "404", "supervisor": "403", "dokter": "404",
              "viewer": "404", "admin": "403"}
# A new referral is visible to every social worker of its kelurahan (to pick up), so there the
# colleague is refused rather than not found.
ON_REFERRAL = {**SUPERVISOR_ONLY, "colleague": "403"}
ACTIONS = {
    "accept_referral": ("referral", ON_REFERRAL),
    "reject_referral": ("referral", ON_REFERRAL),
    "submit_verification": ("verification", OWNER_ONLY),
    "approve_verification": ("verification_submitted", SUPERVISOR_ONLY),
    "return_verification": ("verification_submitted", SUPERVISOR_ONLY),
    "submit_plan": ("planning", OWNER_ONLY),
    "approve_plan": ("plan_submitted", SUPERVISOR_ONLY),
    "return_plan": ("plan_submitted", SUPERVISOR_ONLY),
    "submit_evaluation": ("evaluation", OWNER_ONLY),
    "approve_evaluation": ("evaluation_submitted", SUPERVISOR_ONLY),
    "return_evaluation": ("evaluation_submitted", SUPERVISOR_ONLY),
    "close_case": ("verification", SUPERVISOR_ONLY),
    # A rejected referral never had an owner: no social worker sees it any more.
    "reopen_case": ("closed", {**SUPERVISOR_ONLY, "worker": "404"}),
    "reassign": ("verification", SUPERVISOR_ONLY),
}
PLAN = [{"program": "ATM_BERAS"}]


def data_for(action, people):
    return {
        "accept_referral": {"assignee_id": people["worker"].id}, "reject_referral": {"reason": "duplicate"},
        "submit_verification": {"findings": "f"}, "return_verification": {"comment": "c"},
        "submit_plan": {"interventions": PLAN}, "return_plan": {"comment": "c"},
        "submit_evaluation": {"outcome": "graduated"}, "return_evaluation": {"comment": "c"},
        "close_case": {"reason": "moved"}, "reopen_case": {"comment": "c", "assignee_id": people["worker"].id},
        "reassign": {"assignee_id": people["colleague"].id},
    }.get(action, {})


def case_at(session, people, state):
    household = PersonFactory(household=HouseholdFactory(kelurahan_code="35.71.01.1001")).household
    case = ops.create_referral(session, actor=people["worker"], household=household, source="OUTREACH", reason="x")

    def act(action, who, **data):
        ops.transition_case(session, case, action, people[who], version=case.version, **data)

    path = [("accept_referral", "supervisor", {"assignee_id": people["worker"].id}),
            ("submit_verification", "worker", {"findings": "f"}), ("approve_verification", "supervisor", {}),
            ("submit_plan", "worker", {"interventions": PLAN}), ("approve_plan", "supervisor", {})]
    stops = {"referral": 0, "verification": 1, "verification_submitted": 2, "planning": 3, "plan_submitted": 4,
             "active": 5}
    if state == "closed":
        act("reject_referral", "supervisor", reason="duplicate")
        return case
    for action, who, data in path[: stops.get(state, 5)]:
        act(action, who, **data)
    if state.startswith("evaluation"):
        for iv in case.interventions:
            ops.act_on_intervention(session, iv, "cancel", people["supervisor"], version=iv.version, reason="x")
        session.refresh(case)
        if state == "evaluation_submitted":
            act("submit_evaluation", "worker", outcome="graduated")
    return case


@pytest.fixture
def people(ctx):
    found = {u.email.split("@")[0]: u for u in ctx.scalars(select(User))}
    found["colleague"] = UserFactory(role="social_worker", kelurahan_code="35.71.01.1001", kecamatan_code="35.71.01")
    return found


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_action_matrix(ctx, people, action):
    state, expected = ACTIONS[action]
    got = {}
    for user in USERS:
        case = case_at(ctx, people, state)
        try:
            ops.transition_case(ctx, case, action, people[user], version=case.version, **data_for(action, people))
            got[user] = "ok"
        except NotAllowed:
            got[user] = "403"
        except NotFound:
            got[user] = "404"
    assert got == expected


def test_every_user_action_is_in_the_table():
    from caseapp.cases.workflow import TRANSITIONS

    assert {t.action.value for t in TRANSITIONS if not t.automatic} == set(ACTIONS)
