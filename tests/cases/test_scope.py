"""The scoped-query layer: who sees which case and household (DESIGN.md §1), decided in SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from caseapp.agencies.models import Agency, Programme
from caseapp.auth.models import User
from caseapp.cases.models import Case, Stage
from caseapp.cases.queries import get_visible_case_or_404, visible_cases
from caseapp.households.models import Household
from caseapp.households.queries import visible_households
from tests.factories import CaseFactory, HouseholdFactory, InterventionFactory, UserFactory


def user(session, email) -> User:
    return session.scalar(select(User).where(User.email == email))


def agency(session, code) -> Agency:
    return session.scalar(select(Agency).where(Agency.code == code))


@pytest.fixture
def world(ctx):
    """Cases in two kecamatan, owned by the two demo workers, one served by DINKES, one new referral."""
    worker, worker2 = user(ctx, "worker@sinergi.test"), user(ctx, "worker2@sinergi.test")
    mojoroto = HouseholdFactory(kelurahan_code="35.71.01.1001")
    kota = HouseholdFactory(kelurahan_code="35.71.02.1001")
    cases = {
        "own": CaseFactory(household=mojoroto, owner_id=worker.id),
        "other": CaseFactory(household=kota, owner_id=worker2.id),
        "referral_here": CaseFactory(household=mojoroto, stage=Stage.REFERRAL, owner_id=None),
        "referral_there": CaseFactory(household=kota, stage=Stage.REFERRAL, owner_id=None),
    }
    rtlh = ctx.scalar(select(Programme).where(Programme.code == "DOKTER_KELUARGA"))
    InterventionFactory(case=cases["other"], programme_id=rtlh.id, agency_id=agency(ctx, "DINKES").id)
    cases["desk"] = CaseFactory(household=mojoroto, referred_by_agency_id=agency(ctx, "KEL-011001").id)
    return cases


def visible(session, email) -> set[int]:
    return set(session.scalars(visible_cases(user(session, email)).with_only_columns(Case.id)))


def names(world, ids) -> set[str]:
    return {name for name, case in world.items() if case.id in ids}


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("admin@sinergi.test", {"own", "other", "referral_here", "referral_there", "desk"}),
        ("supervisor@sinergi.test", {"own", "other", "referral_here", "referral_there", "desk"}),
        ("worker@sinergi.test", {"own", "referral_here"}),
        ("worker2@sinergi.test", {"other", "referral_there"}),
        ("dokter@sinergi.test", {"other"}),
        ("rumah@sinergi.test", set()),
        ("viewer@sinergi.test", set()),
    ],
)
def test_visible_cases_by_role(ctx, world, email, expected):
    assert names(world, visible(ctx, email)) == expected


def test_kecamatan_supervisor_sees_only_their_kecamatan(ctx, world):
    supervisor = UserFactory(role="supervisor", kecamatan_code="35.71.02")
    ids = set(ctx.scalars(visible_cases(supervisor).with_only_columns(Case.id)))
    assert names(world, ids) == {"other", "referral_there"}


def test_kelurahan_desk_sees_only_what_it_referred(ctx, world):
    desk = UserFactory(role="agency_officer", agency_id=agency(ctx, "KEL-011001").id)
    ids = set(ctx.scalars(visible_cases(desk).with_only_columns(Case.id)))
    assert names(world, ids) == {"desk"}


def test_out_of_scope_is_a_404_not_a_403(ctx, world):
    worker = user(ctx, "worker@sinergi.test")
    assert get_visible_case_or_404(worker, world["own"].id) == world["own"]
    with pytest.raises(NotFound):
        get_visible_case_or_404(worker, world["other"].id)


def test_visible_households(ctx, world):
    def households(email):
        return set(ctx.scalars(visible_households(user(ctx, email)).with_only_columns(Household.id)))

    mojoroto, kota = world["own"].household_id, world["other"].household_id
    assert {mojoroto, kota} <= households("admin@sinergi.test")
    assert mojoroto in households("worker@sinergi.test") and kota not in households("worker@sinergi.test")
    assert households("dokter@sinergi.test") == {kota}
    assert households("rumah@sinergi.test") == set()
    assert households("viewer@sinergi.test") == set()
