"""Caseload counts come from the case tallies (issue #8) and must equal a count of the cases in scope."""

from __future__ import annotations

from sqlalchemy import func, select, update

from caseapp.auth.models import User
from caseapp.cases.models import Case, CaseTally, Stage, Step
from caseapp.cases.queries import CaseFilters, case_scope, caseload, cases_per_stage, tallied_stage_counts
from caseapp.cases.screens import StageCounts, stage_counts
from caseapp.core.counting import COUNT_CAP
from caseapp.demo.loader import load_demo
from caseapp.extensions import db


def _live(user: User, **where) -> dict[str, int]:
    stmt = select(Case.stage, func.count()).where(case_scope(user)).group_by(Case.stage)
    for column, value in where.items():
        stmt = stmt.where(getattr(Case, column) == value)
    return {str(stage): n for stage, n in db.session.execute(stmt)}


def test_tallied_counts_equal_a_count_of_the_cases_for_every_demo_user(ctx):
    load_demo(ctx, households=120, progress=lambda _m: None)
    users = ctx.scalars(select(User).where(User.active.is_(True))).all()
    checked = 0
    for user in users:
        tallied = tallied_stage_counts(user)
        if tallied is None:  # agency officers: counted on the cases themselves
            continue
        checked += 1
        assert {k: v for k, v in tallied.items() if v} == _live(user), user.email
        for stage in Stage:
            page = caseload(user, CaseFilters(stage=stage.value, per_page=5))
            assert page.total == _live(user).get(stage.value, 0), (user.email, stage)
        if user.kelurahan_code:
            page = caseload(user, CaseFilters(kelurahan=user.kelurahan_code))
            assert page.total == sum(_live(user, kelurahan_code=user.kelurahan_code).values())
        assert stage_counts(user).by_stage == {s.value: _live(user).get(s.value, 0) for s in Stage}
    assert checked >= 4


def test_overdue_beyond_the_cap_reads_as_more_than():
    assert StageCounts({}, 12).overdue_label == "12"
    assert StageCounts({}, COUNT_CAP).overdue_label == str(COUNT_CAP)
    assert StageCounts({}, COUNT_CAP + 1).overdue_label == f"{COUNT_CAP}+"


def test_home_figures_equal_a_count_of_the_cases_and_say_when_there_are_more(ctx, monkeypatch):
    from caseapp.home import queries as home

    load_demo(ctx, households=120, progress=lambda _m: None)
    supervisor = ctx.scalar(select(User).where(User.email == "supervisor@sinergi.test"))
    worker = ctx.scalar(select(User).where(User.email == "worker@sinergi.test"))
    live = _live(supervisor)
    summary = home.supervisor_summary(supervisor)
    assert summary["open"] == sum(n for stage, n in live.items() if stage != Stage.CLOSED.value)
    assert summary["new_referrals"] == live.get(Stage.REFERRAL.value, 0)
    assert cases_per_stage(supervisor) == {s.value: live.get(s.value, 0) for s in Stage}
    mine = db.session.scalar(select(func.count()).where(Case.owner_id == worker.id, Case.stage != Stage.CLOSED))
    assert home.social_worker_summary(worker)["my_open"] == mine
    from caseapp.core import counting

    monkeypatch.setattr(counting, "COUNT_CAP", 2)
    assert home._capped(select(Case.id)) == "2+"
    assert home._capped(select(Case.id).where(Case.id < 0)) == 0


def test_recount_finds_and_repairs_a_drifted_tally_and_step_copy(app, session):
    with app.app_context():
        load_demo(db.session, households=40, progress=lambda _m: None)
        runner = app.test_cli_runner()
        clean = runner.invoke(args=["cases", "recount", "--check"])
        assert clean.exit_code == 0, clean.output
        assert "differs: 0; case tallies that differ: 0" in clean.output
        db.session.execute(update(CaseTally).values(n=CaseTally.n + 7))
        db.session.execute(update(Step).values(case_owner_id=None))
        found = runner.invoke(args=["cases", "recount", "--check"])
        assert found.exit_code == 1 and "case tallies that differ: 0" not in found.output
        repaired = runner.invoke(args=["cases", "recount"])
        assert repaired.exit_code == 0 and "Recounted from the cases." in repaired.output
        assert runner.invoke(args=["cases", "recount", "--check"]).exit_code == 0
