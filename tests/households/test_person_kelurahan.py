"""``persons.kelurahan_code`` (migration 0005d) always equals its household's kelurahan, after every
write path that creates people, moves them between households or moves a household; and the name
search that relies on it never shows a household outside the user's scope."""

from __future__ import annotations

from sqlalchemy import func, select

from caseapp.auth.models import User
from caseapp.cases.models import CaseStatus, Stage
from caseapp.core import counting
from caseapp.core.identifiers import lookup_hash
from caseapp.demo.households import load_demo_households
from caseapp.extensions import db
from caseapp.households import operations as ops
from caseapp.households import views
from caseapp.households.models import Household, Person
from caseapp.households.queries import (
    count_households,
    filtered_households,
    kelurahan_with_households,
    page_of_ids,
)
from tests.factories import CaseFactory, HouseholdFactory, InterventionFactory, PersonFactory
from tests.helpers import login
from tests.households.dtsen import col, rows_for, write_csv
from tests.households.test_import import run
from tests.households.test_operations import BANDAR_LOR, SEMAMPIR, household_data

KEDUNGLO = "35.71.01.1002"  # same kecamatan as Bandar Lor, nobody's worker kelurahan in the seed


def mismatches(session) -> int:
    """People whose copy of the kelurahan differs from their household's (0 when consistent)."""
    return session.scalar(
        select(func.count()).select_from(Person).join(Household, Household.id == Person.household_id)
        .where(Person.kelurahan_code.is_distinct_from(Household.kelurahan_code))
    )


def user(session, email) -> User:
    return session.scalar(select(User).where(User.email == email))


def test_registration_and_new_members_copy_the_household_kelurahan(ctx):
    worker = user(ctx, "worker@sinergi.test")
    household = ops.create_household(ctx, actor=worker, data=household_data())
    ops.add_member(ctx, actor=worker, household=household, version=household.version, data={
        "name": "Bagus Riyadi", "sex": "L", "birth_date": "2010-04-01", "relation": "child"})
    ctx.flush()
    assert {m.kelurahan_code for m in household.members} == {BANDAR_LOR}
    assert mismatches(ctx) == 0


def test_orm_moves_of_people_and_households_carry_the_kelurahan(ctx):
    first, second = HouseholdFactory(kelurahan_code=BANDAR_LOR), HouseholdFactory(kelurahan_code=SEMAMPIR)
    person = PersonFactory(household=first)
    ctx.flush()
    assert person.kelurahan_code == BANDAR_LOR
    person.household = second
    ctx.flush()
    assert person.kelurahan_code == SEMAMPIR
    PersonFactory(household=first)
    first.kelurahan_code = KEDUNGLO
    ctx.flush()
    assert mismatches(ctx) == 0
    assert set(ctx.scalars(select(Person.kelurahan_code).where(Person.household_id == first.id))) == {KEDUNGLO}


def test_import_new_moved_people_and_moved_households_keep_it_equal(ctx, tmp_path):
    rows = rows_for(6)
    assert run(write_csv(tmp_path / "a.csv", rows)).merged
    assert mismatches(ctx) == 0
    kks = list(dict.fromkeys(r[0] for r in rows))
    # Household 1 moves to another kelurahan; a child of another household moves into a third one.
    child = next(r for r in rows if r[0] != kks[0] and r[col("HUBUNGAN_KK")] == "3")
    target = next(r for r in rows if r[0] not in (kks[0], child[0]) and r[1] != child[1])
    other = next(code for code in ("35.71.01.1001", "35.71.01.1002") if code != rows[0][1])
    changed = []
    for r in rows:
        if r[0] == kks[0]:
            r = [r[0], other, *r[2:]]
        elif r is child:
            r = [target[0], *target[1:7], *r[7:]]
        changed.append(r)
    result = run(write_csv(tmp_path / "b.csv", changed))
    assert result.merged, result.errors
    assert result.summary["persons_moved"] == 1
    assert mismatches(ctx) == 0
    moved = ctx.scalar(select(Household).where(Household.kk_hash == lookup_hash(kks[0], "kk")))
    assert moved.kelurahan_code == other
    person = ctx.scalar(select(Person).where(Person.nik_hash == lookup_hash(child[col("NIK")], "nik")))
    assert person.kelurahan_code == target[1]


def test_demo_loader_sets_it(ctx):
    load_demo_households(ctx, 20, progress=lambda _msg: None)
    ctx.flush()
    assert ctx.scalar(select(func.count()).select_from(Person)) > 0
    assert mismatches(ctx) == 0


def test_name_search_follows_a_household_that_moved_out_of_the_area(ctx):
    worker, worker2 = user(ctx, "worker@sinergi.test"), user(ctx, "worker2@sinergi.test")
    household = HouseholdFactory(kelurahan_code=BANDAR_LOR)
    PersonFactory(household=household, name="Sukirno Wiryodiharjo")
    ctx.flush()

    def found(who) -> list[int]:
        stmt = filtered_households(who, q="Sukirno Wiryodiharjo")
        ids = db.session.scalars(stmt.with_only_columns(Household.id)).all()
        assert count_households(stmt) == len(ids)
        return ids

    assert found(worker) == [household.id] and found(worker2) == []
    household.kelurahan_code = SEMAMPIR
    ctx.flush()
    assert found(worker) == [] and found(worker2) == [household.id]
    # Misspelt (PostgreSQL) or a part of the name (both backends): still only in scope.
    assert db.session.scalars(filtered_households(worker2, q="Wiryodiharjo").with_only_columns(Household.id)).all() \
        == [household.id]
    assert db.session.scalars(filtered_households(worker, q="Wiryodiharjo").with_only_columns(Household.id)).all() \
        == []


def named_ids(who, q) -> list[int]:
    return db.session.scalars(filtered_households(who, q=q).with_only_columns(Household.id)).all()


def test_name_search_finds_case_households_outside_the_area_and_nothing_else(ctx):
    """The case arm: a worker's own case in another kelurahan is found; a case in their kelurahan is
    found once; another worker's case outside both areas is not; a referral is found by its kelurahan."""
    worker, worker2 = user(ctx, "worker@sinergi.test"), user(ctx, "worker2@sinergi.test")
    own_far = CaseFactory(owner_id=worker.id, household=HouseholdFactory(kelurahan_code=SEMAMPIR))
    own_near = CaseFactory(owner_id=worker.id, household=HouseholdFactory(kelurahan_code=BANDAR_LOR))
    others = CaseFactory(owner_id=worker2.id, household=HouseholdFactory(kelurahan_code=KEDUNGLO))
    referral = CaseFactory(stage=Stage.REFERRAL, status=CaseStatus.NEW, kelurahan_code=BANDAR_LOR,
                           household=HouseholdFactory(kelurahan_code=KEDUNGLO))
    for case in (own_far, own_near, others, referral):
        PersonFactory(household=case.household, name="Tumini Sastrowardoyo")
    ctx.flush()
    assert sorted(named_ids(worker, "Tumini Sastrowardoyo")) == sorted(
        [own_far.household_id, own_near.household_id, referral.household_id])
    assert sorted(named_ids(worker, "Sastrowardoyo")) == sorted(
        [own_far.household_id, own_near.household_id, referral.household_id])
    # worker2 (Semampir): their area has own_far's household; their own case is in Kedunglo.
    assert sorted(named_ids(worker2, "Tumini")) == sorted([own_far.household_id, others.household_id])
    kelurahan = set(ctx.scalars(kelurahan_with_households(worker)))
    assert kelurahan == {BANDAR_LOR, SEMAMPIR, KEDUNGLO}
    assert set(ctx.scalars(kelurahan_with_households(worker2))) == {SEMAMPIR, KEDUNGLO}


def test_agency_officer_without_area_finds_only_their_cases(ctx):
    officer = user(ctx, "rumah@sinergi.test")
    served = InterventionFactory(agency_id=officer.agency_id).case
    hidden = CaseFactory(household=HouseholdFactory(kelurahan_code=served.household.kelurahan_code))
    for case in (served, hidden):
        PersonFactory(household=case.household, name="Paidi Wirosuwito")
    ctx.flush()
    assert named_ids(officer, "Paidi Wirosuwito") == [served.household_id]


def test_search_count_stops_at_the_cap_and_every_page_stays_reachable(ctx):
    admin = user(ctx, "admin@sinergi.test")
    households = [HouseholdFactory(kelurahan_code=BANDAR_LOR) for _ in range(7)]
    for household in households:
        PersonFactory(household=household, name="Karsidi Wongsoredjo")
    ctx.flush()
    newest_first = sorted((h.id for h in households), reverse=True)
    stmt = filtered_households(admin, q="Karsidi")
    first = page_of_ids(stmt, 1, 2, cap=4)
    assert (first.ids, first.total, first.more, first.pages) == (newest_first[:2], 4, True, 3)
    deep = page_of_ids(stmt, 4, 2, cap=4)   # past the cap: counted to the end of that page
    assert (deep.ids, deep.page, deep.more) == (newest_first[6:7], 4, False) and deep.total == 7
    exact = page_of_ids(stmt, 9, 2, cap=10)  # beyond the last page: the last page
    assert (exact.ids, exact.page, exact.pages, exact.total, exact.more) == (newest_first[6:], 4, 4, 7, False)


def test_list_page_says_more_than_when_the_count_stops(client, ctx, monkeypatch):
    for _ in range(3):
        PersonFactory(household=HouseholdFactory(kelurahan_code=BANDAR_LOR), name="Ngatini Kromodikromo")
    ctx.flush()
    monkeypatch.setattr(counting, "COUNT_CAP", 2)
    monkeypatch.setattr(views, "PER_PAGE", 2)
    login(client, "worker@sinergi.test")
    page = client.get("/households/?q=Ngatini").get_data(as_text=True)
    assert "1–2 dari lebih dari 2 rumah tangga" in page
    assert "?q=Ngatini&amp;page=2" in page  # the next page is offered


def test_visible_household_counts_by_the_scopes_parts_equal_a_count_of_the_scope(ctx):
    """The home page counts a user's households by the scope's parts (area + case households outside
    it); the number must equal a count of the households the scope admits, for every demo user."""
    from caseapp.demo.loader import load_demo
    from caseapp.households.queries import count_households, count_visible_households, visible_households

    load_demo(ctx, households=60, progress=lambda _m: None)
    outside = HouseholdFactory(kelurahan_code="35.71.03.1001")
    worker = ctx.scalar(select(User).where(User.email == "worker@sinergi.test"))
    CaseFactory(household=outside, owner_id=worker.id, number="KDR-2026-990001")  # outside the worker's area
    ctx.flush()
    for user in ctx.scalars(select(User).where(User.active.is_(True))):
        assert count_visible_households(user) == count_households(visible_households(user)), user.email
