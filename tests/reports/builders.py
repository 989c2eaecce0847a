"""Hand-made report data: cases, steps and interventions with explicit timestamps (WIB).

Every row is written directly (no workflow), so each test states exactly what happened when and
can write the right answer beside it.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from caseapp.agencies.models import Agency, Programme
from caseapp.cases.models import Case, CaseStatus, Intervention, InterventionStatus, Stage, Step, StepStatus
from caseapp.extensions import db
from caseapp.households.identity import build_kk, build_nik
from caseapp.households.models import HouseholdStatus, Relation
from caseapp.reports.queries import ReportFilters
from tests.factories import CaseFactory, HouseholdFactory, PersonFactory

JAKARTA = ZoneInfo("Asia/Jakarta")
YEAR_2025 = ReportFilters(date(2025, 1, 1), date(2025, 12, 31))
MOJOROTO, KOTA, PESANTREN = "35.71.01", "35.71.02", "35.71.03"
BANDAR_LOR, BANDAR_KIDUL, SEMAMPIR, BANGSAL = "35.71.01.1001", "35.71.01.1002", "35.71.02.1001", "35.71.03.1001"


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    """A moment in Kediri time."""
    return datetime(year, month, day, hour, tzinfo=JAKARTA)


def agency_id(code: str) -> int:
    return db.session.scalar(select(Agency.id).where(Agency.code == code))


def programme(code: str) -> Programme:
    return db.session.scalar(select(Programme).where(Programme.code == code))


# Our own KK/NIK serials (other dates than tests.factories uses), so these builders never use up the
# shared factory counter; unique within a test, which is all the rolled-back transaction needs.
_serials = itertools.cycle(range(1, 10_000))
KK_DATE, BIRTH_DATE = date(2021, 3, 3), date(1975, 6, 6)


def household(kelurahan: str = BANDAR_LOR, *, desil: int | None = 1, incomes: tuple = (None,),
              name: str | None = None, address: str = "Jl. Mawar No. 1",
              status: HouseholdStatus = HouseholdStatus.ACTIVE):
    """A household whose members have the given monthly incomes (the first is the head)."""
    kecamatan = kelurahan.split(".")[2]
    home = HouseholdFactory(kelurahan_code=kelurahan, desil=desil, address=address, status=status,
                            kk=build_kk("35", "71", kecamatan, KK_DATE, next(_serials)))
    for i, income in enumerate(incomes):
        PersonFactory(household=home, relation=Relation.HEAD if i == 0 else Relation.CHILD, monthly_income=income,
                      birth_date=BIRTH_DATE, nik=build_nik("35", "71", kecamatan, BIRTH_DATE, "L", next(_serials)),
                      **({"name": name} if name and i == 0 else {}))
    db.session.flush()
    return home


def case(home=None, *, opened: datetime, stage: Stage = Stage.VERIFICATION, closed: datetime | None = None,
         outcome: str | None = None, closure_reason: str | None = None) -> Case:
    home = home or household()
    status = CaseStatus.CLOSED if stage == Stage.CLOSED else CaseStatus.ASSIGNED
    made = CaseFactory(household=home, stage=stage, status=status, opened_at=opened, closed_at=closed,
                       outcome=outcome, closure_reason=closure_reason or outcome)
    db.session.flush()
    return made


def step(owner: Case, kind: str, stage: Stage, *, opened: datetime, done: datetime | None = None,
         due: datetime | None = None, agency: str | None = None, decision: str | None = None) -> Step:
    """A step; ``done`` is when it was decided (triage, approval) or submitted (the work itself)."""
    decided = kind in ("triage", "approval")
    made = Step(case_id=owner.id, stage=stage, kind=kind, status=StepStatus.DONE if done else StepStatus.OPEN,
                opened_at=opened, due_at=due, agency_id=agency_id(agency) if agency else None,
                decided_at=done if decided else None, decision=decision,
                submitted_at=(opened if kind == "approval" else done if not decided else None))
    db.session.add(made)
    db.session.flush()
    return made


def intervention(owner: Case, code: str, *, created: datetime, status: InterventionStatus = InterventionStatus.PENDING,
                 delivered_on: date | None = None, amount: int | None = None, due: datetime | None = None,
                 updated: datetime | None = None) -> Intervention:
    prog = programme(code)
    made = Intervention(case_id=owner.id, programme_id=prog.id, agency_id=prog.agency_id, status=status,
                        created_at=created, updated_at=updated or created, due_at=due, delivered_on=delivered_on,
                        amount=Decimal(amount) if amount is not None else None, milestones={}, version=1)
    db.session.add(made)
    db.session.flush()
    return made


def delivered(owner: Case, code: str, on: date, amount: int | None = None, created: datetime | None = None):
    """An intervention queued (by default the same morning) and delivered on *on*."""
    return intervention(owner, code, created=created or at(on.year, on.month, on.day, 8),
                        status=InterventionStatus.DELIVERED, delivered_on=on, amount=amount)
