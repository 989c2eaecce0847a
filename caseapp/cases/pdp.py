"""The cases part of the UU PDP export (see ``caseapp.households.pdp``): registered at start-up.

Households sit below cases and may not import them, so this module hands its part over through
:func:`caseapp.households.pdp.register_pdp_source`: every case of the person's household with its
steps, interventions, notes (decrypted) and the list of attachments (names and sizes, not bytes).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseapp.cases.models import Attachment, Case, Intervention, Note, Step
from caseapp.core import crypto
from caseapp.core.identifiers import NOTE_PURPOSE
from caseapp.households.models import Household, Person
from caseapp.households.pdp import PdpPart, register_pdp_source, row_dict


def cases_part(session: Session, household: Household, person: Person) -> PdpPart:
    cases = list(session.scalars(select(Case).where(Case.household_id == household.id).order_by(Case.id)))
    case_ids = [c.id for c in cases]

    def rows(model, order=None):
        if not case_ids:
            return []
        return list(session.scalars(select(model).where(model.case_id.in_(case_ids)).order_by(order or model.id)))

    steps, interventions, notes, attachments = rows(Step), rows(Intervention), rows(Note), rows(Attachment)
    out = []
    for case in cases:
        out.append({
            **row_dict(case),
            "steps": [row_dict(s) for s in steps if s.case_id == case.id],
            "interventions": [{**row_dict(i), "concerns_this_person": i.target_person_id in (None, person.id)}
                              for i in interventions if i.case_id == case.id],
            "notes": [{**row_dict(n, skip=frozenset({"body"})), "body": crypto.decrypt(n.body, NOTE_PURPOSE)}
                      for n in notes if n.case_id == case.id],
            "attachments": [row_dict(a, skip=frozenset({"storage_name"})) for a in attachments
                            if a.case_id == case.id],
        })
    return PdpPart(
        sections={"cases": out},
        objects={"case": case_ids, "intervention": [i.id for i in interventions],
                 "attachment": [a.id for a in attachments], "step": [s.id for s in steps]},
        case_ids=case_ids,
    )


def init_case_pdp() -> None:
    register_pdp_source(cases_part)
