"""My work, triage and approval lists: the page of step ids is chosen first, then joined (issue #8).

The lists must still be: open steps only, in the user's scope only, soonest due first (no due date
last, ties by id), at most ``limit`` rows, each with its head of household and kelurahan name.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from caseapp.agencies.models import Region
from caseapp.auth.models import User
from caseapp.cases.models import Stage, Step, StepStatus
from caseapp.cases.operations.scope_sync import sync_step_scope
from caseapp.cases.queries import WORK_PAGE, _work_items, my_overdue_steps, my_steps, new_referrals
from caseapp.core.models import utcnow
from tests.factories import CaseFactory, HouseholdFactory, PersonFactory


def _user(session, email) -> User:
    return session.scalar(select(User).where(User.email == email))


def _step(session, case, *, kind="verification", assignee=None, due=None, status=StepStatus.OPEN) -> Step:
    step = Step(case_id=case.id, stage=case.stage, kind=kind, round=1, status=status, assignee_id=assignee,
                due_at=due)
    session.add(step)
    sync_step_scope(session, [case.id])  # as the workflow does whenever it opens a step
    return step


def test_my_steps_open_in_scope_soonest_due_first_with_head_and_kelurahan(ctx):
    worker, worker2 = _user(ctx, "worker@sinergi.test"), _user(ctx, "worker2@sinergi.test")
    home = HouseholdFactory(kelurahan_code="35.71.01.1001")
    PersonFactory(household=home, name="Kepala Urutan")
    own = CaseFactory(household=home, owner_id=worker.id)
    elsewhere = CaseFactory(household=HouseholdFactory(kelurahan_code="35.71.02.1001"), owner_id=worker2.id)
    now = utcnow()
    later = _step(ctx, own, assignee=worker.id, due=now + timedelta(days=3))
    undated = _step(ctx, own, assignee=worker.id, due=None)
    soonest = _step(ctx, own, assignee=worker.id, due=now - timedelta(days=1))
    tie_a = _step(ctx, own, assignee=worker.id, due=now + timedelta(days=2))
    tie_b = _step(ctx, own, assignee=worker.id, due=now + timedelta(days=2))
    done = _step(ctx, own, assignee=worker.id, due=now - timedelta(days=5), status=StepStatus.DONE)
    out_of_scope = _step(ctx, elsewhere, assignee=worker.id, due=now - timedelta(days=9))

    items = my_steps(worker).items
    mine = [item for item in items if item.case.id == own.id]
    assert [item.step.id for item in mine] == [soonest.id, tie_a.id, tie_b.id, later.id, undated.id]
    assert {item.head_name for item in mine} == {"Kepala Urutan"}
    kelurahan = ctx.scalar(select(Region.name).where(Region.code == "35.71.01.1001"))
    assert {item.kelurahan_name for item in mine} == {kelurahan}
    ids = {item.step.id for item in items}
    assert done.id not in ids
    assert out_of_scope.id not in ids
    dated = [item.step.due_at for item in items if item.step.due_at is not None]
    assert dated == sorted(dated)

    first_two = _work_items(worker, Step.assignee_id == worker.id, limit=2)
    assert [item.step.id for item in first_two] == [item.step.id for item in items[:2]]


def test_new_referrals_only_those_of_the_workers_kelurahan(ctx):
    worker = _user(ctx, "worker@sinergi.test")
    here = CaseFactory(household=HouseholdFactory(kelurahan_code="35.71.01.1001"), stage=Stage.REFERRAL,
                       owner_id=None)
    there = CaseFactory(household=HouseholdFactory(kelurahan_code="35.71.02.1001"), stage=Stage.REFERRAL,
                        owner_id=None)
    triage_here = _step(ctx, here, kind="triage", due=utcnow())
    triage_there = _step(ctx, there, kind="triage", due=utcnow())

    ids = {item.step.id for item in new_referrals(worker)}
    assert triage_here.id in ids
    assert triage_there.id not in ids


def test_work_lists_page_through_every_step_and_count_them_all(ctx):
    """My work shows 50 steps a page, with the true number of open steps (not the page's length)."""
    worker = _user(ctx, "worker@sinergi.test")
    case = CaseFactory(household=HouseholdFactory(kelurahan_code="35.71.01.1001"), owner_id=worker.id)
    now = utcnow()
    before = my_steps(worker).total
    made = [_step(ctx, case, assignee=worker.id, due=now + timedelta(minutes=n)) for n in range(WORK_PAGE + 5)]
    first, second = my_steps(worker, 1), my_steps(worker, 2)
    assert first.total == second.total == before + len(made)
    assert len(first) == WORK_PAGE and first.has_next and not first.has_prev and second.has_prev
    seen = [item.step.id for page in range(1, 2 + first.total // WORK_PAGE) for item in my_steps(worker, page)]
    assert len(seen) == len(set(seen)) == first.total
    assert {step.id for step in made} <= set(seen)
    overdue_before = my_overdue_steps(worker)
    _step(ctx, case, assignee=worker.id, due=now - timedelta(days=2))
    assert my_overdue_steps(worker) == overdue_before + 1


def test_a_step_in_two_arms_of_the_scope_is_listed_and_counted_once(ctx):
    """A referral in the worker's kelurahan that the worker also owns matches both arms of the scope."""
    worker = _user(ctx, "worker@sinergi.test")
    before = new_referrals(worker).total
    both = CaseFactory(household=HouseholdFactory(kelurahan_code="35.71.01.1001"), stage=Stage.REFERRAL,
                       owner_id=worker.id)
    step = _step(ctx, both, kind="triage", due=utcnow())
    listed = [item.step.id for page in (1, 2, 3) for item in new_referrals(worker, page)]
    assert listed.count(step.id) == 1
    assert new_referrals(worker).total == before + 1


def test_the_steps_copy_of_the_scope_admits_exactly_the_open_steps_of_cases_in_scope(ctx):
    """Work lists test the scope on the steps' copies; for every demo user the open steps they admit
    are exactly the open steps of the cases ``case_scope`` admits."""
    from caseapp.cases.models import Case
    from caseapp.cases.queries import case_scope, step_scope_arms
    from caseapp.demo.loader import load_demo

    load_demo(ctx, households=80, progress=lambda _m: None)
    checked = 0
    for user in ctx.scalars(select(User).where(User.active.is_(True))):
        arms = step_scope_arms(user)
        if arms is None:
            continue
        checked += 1
        by_copy = set(ctx.scalars(select(Step.id).where(Step.status == StepStatus.OPEN, or_(*arms))))
        by_case = set(ctx.scalars(select(Step.id).join(Case, Case.id == Step.case_id)
                                  .where(Step.status == StepStatus.OPEN, case_scope(user))))
        assert by_copy == by_case, user.email
    assert checked >= 4
