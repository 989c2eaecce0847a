"""factory_boy factories for tests that need rows the demo data does not have."""

from __future__ import annotations

import itertools
from datetime import date

import factory
from factory.alchemy import SQLAlchemyModelFactory

from caseapp.auth.models import Role, User
from caseapp.cases.models import Case, CaseStatus, Intervention, Stage
from caseapp.cases.operations.scope_sync import tally, tally_key
from caseapp.core.identifiers import seal_number
from caseapp.extensions import db
from caseapp.households.identity import build_kk, build_nik
from caseapp.households.models import Household, Person, Relation, Sex

_counter = itertools.count()


def _serial() -> int:
    """Serials 1..9999, wrapping: rows of one test are unique; every test's rows are rolled back."""
    return 1 + next(_counter) % 9999



class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - the test's current session
        sqlalchemy_session_persistence = "flush"


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@sinergi.test")
    full_name = factory.Sequence(lambda n: f"Pengguna {n}")
    role = Role.SOCIAL_WORKER
    locale = "id"


def _kecamatan(kelurahan_code: str) -> str:
    return kelurahan_code.rsplit(".", 1)[0]


class HouseholdFactory(Base):
    class Meta:
        model = Household

    kelurahan_code = "35.71.01.1001"
    rw = 1
    rt = 2
    address = "Jl. Mawar No. 1"
    desil = 1
    desil_release = "DTSEN-2025-Q2"

    @factory.post_generation
    def kk(obj, create, extracted, **kwargs):
        kecamatan = _kecamatan(obj.kelurahan_code).split(".")[2]
        number = extracted or build_kk("35", "71", kecamatan, date(2020, 1, 15), _serial())
        sealed = seal_number(number, "kk")
        obj.kk_ciphertext, obj.kk_hash, obj.kk_masked = sealed.ciphertext, sealed.blind_index, sealed.masked


class PersonFactory(Base):
    class Meta:
        model = Person

    household = factory.SubFactory(HouseholdFactory)
    name = factory.Sequence(lambda n: f"Warga {n}")
    sex = Sex.MALE
    birth_date = date(1980, 5, 17)
    relation = Relation.HEAD

    @factory.post_generation
    def nik(obj, create, extracted, **kwargs):
        kecamatan = _kecamatan(obj.household.kelurahan_code).split(".")[2]
        number = extracted or build_nik("35", "71", kecamatan, obj.birth_date, obj.sex.value, _serial())
        sealed = seal_number(number, "nik")
        obj.nik_ciphertext, obj.nik_hash, obj.nik_masked = sealed.ciphertext, sealed.blind_index, sealed.masked


class CaseFactory(Base):
    class Meta:
        model = Case

    household = factory.SubFactory(HouseholdFactory)
    number = factory.Sequence(lambda n: f"KDR-2026-{n:06d}")
    stage = Stage.VERIFICATION
    status = CaseStatus.ASSIGNED
    kelurahan_code = factory.LazyAttribute(lambda o: o.household.kelurahan_code)
    kecamatan_code = factory.LazyAttribute(lambda o: _kecamatan(o.household.kelurahan_code))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Counted in the case tallies, as the workflow's ``create_referral`` does."""
        case = super()._create(model_class, *args, **kwargs)
        tally(db.session, [(None, tally_key(case.kelurahan_code, case.kecamatan_code, case.owner_id, case.stage), 1)])
        return case


class InterventionFactory(Base):
    class Meta:
        model = Intervention

    case = factory.SubFactory(CaseFactory)
    programme_id = 1
    agency_id = 1
