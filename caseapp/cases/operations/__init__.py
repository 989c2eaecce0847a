"""Every write to a case. Operations flush, never commit: the caller owns the transaction."""

from caseapp.cases.operations.attachments import add_attachment
from caseapp.cases.operations.interventions import (
    INTERVENTION_ACTIONS,
    act_on_intervention,
    allowed_intervention_actions,
)
from caseapp.cases.operations.transitions import (
    GUARDS,
    create_referral,
    next_case_number,
    open_case_of,
    pending_approval_submitter,
    transition_case,
)

__all__ = [
    "GUARDS",
    "INTERVENTION_ACTIONS",
    "act_on_intervention",
    "add_attachment",
    "allowed_intervention_actions",
    "create_referral",
    "next_case_number",
    "open_case_of",
    "pending_approval_submitter",
    "transition_case",
]
