"""A household with a full case, built through the real operations, for the privacy tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.cases.models import Case, Intervention, Note
from caseapp.core import crypto
from caseapp.core.identifiers import HEALTH_NOTE_PURPOSE, NOTE_PURPOSE
from caseapp.extensions import db
from caseapp.households.models import Household, Person, Relation, Sex
from caseapp.households.operations import reveal_identity
from tests.factories import HouseholdFactory, PersonFactory

HEALTH_NOTE = "Diabetes tipe 2, kontrol rutin di Puskesmas Campurejo"
NOTE_BODY = "Kunjungan rumah: atap bocor, anak kedua putus sekolah"


@dataclass
class FullCase:
    household: Household
    head: Person
    spouse: Person
    case: Case
    intervention: Intervention
    users: dict[str, User]

    @property
    def nik(self) -> str:
        return crypto.decrypt(self.head.nik_ciphertext, "nik")

    @property
    def kk(self) -> str:
        return crypto.decrypt(self.household.kk_ciphertext, "kk")


def users() -> dict[str, User]:
    return {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}


def full_case(*, kelurahan_code: str = "35.71.01.1001", close: bool = False) -> FullCase:
    """Register, refer, verify, plan, approve, attach evidence, add a note; optionally close."""
    who = users()
    household = HouseholdFactory(kelurahan_code=kelurahan_code, address="Jl. Kenanga No. 7",
                                 latitude="-7.816000", longitude="112.011000", desil=1)
    head = PersonFactory(household=household, name="Slamet Riyadi", chronic_illness=True,
                         health_note=crypto.encrypt(HEALTH_NOTE, HEALTH_NOTE_PURPOSE), monthly_income=900000)
    spouse = PersonFactory(household=household, name="Sumarni", sex=Sex.FEMALE, relation=Relation.SPOUSE)
    case = ops.create_referral(db.session, actor=who["worker"], household=household, source="OUTREACH",
                               reason="Rumah hampir roboh, kepala keluarga sakit")
    steps = [("accept_referral", "supervisor", {"assignee_id": who["worker"].id}),
             ("submit_verification", "worker", {"findings": "Atap rusak berat"}),
             ("approve_verification", "supervisor", {}),
             ("submit_plan", "worker", {"interventions": [{"program": "DOKTER_KELUARGA", "person_id": head.id,
                                                            "note": "Kontrol gula darah"}]}),
             ("approve_plan", "supervisor", {})]
    for action, actor, data in steps:
        ops.transition_case(db.session, case, action, who[actor], version=case.version, **data)
    intervention = db.session.scalar(select(Intervention).where(Intervention.case_id == case.id))
    ops.add_attachment(db.session, actor=who["worker"], case=case, intervention=intervention,
                       filename="surat-keterangan.pdf", data=b"%PDF-1.4 bukti")
    db.session.add(Note(case_id=case.id, author_id=who["worker"].id, section="health",
                        body=crypto.encrypt(NOTE_BODY, NOTE_PURPOSE)))
    reveal_identity(db.session, actor=who["worker"], person=head)
    if close:
        ops.transition_case(db.session, case, "close_case", who["supervisor"], version=case.version,
                            reason="moved")
    db.session.flush()
    return FullCase(household, head, spouse, case, intervention, who)
