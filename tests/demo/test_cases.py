"""`flask demo load` also opens cases in every stage, through the real workflow, idempotently."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from caseapp.cases.models import Case, CaseTally, Intervention, Stage, Step
from caseapp.core.audit import AuditEvent
from caseapp.demo.loader import load_demo


def test_demo_cases_cover_every_stage_and_a_second_run_changes_nothing(ctx):
    summary = load_demo(ctx, households=120, progress=lambda _m: None)
    assert summary["households"] == 120
    assert summary["cases"] > 30
    stages = set(ctx.scalars(select(Case.stage).distinct()))
    assert stages == set(Stage)
    assert ctx.scalar(select(func.count(Intervention.id))) > 0
    counts = [ctx.scalar(select(func.count(m.id))) for m in (Case, Intervention, AuditEvent)]
    again = load_demo(ctx, households=120, progress=lambda _m: None)
    assert again["households"] == 0 and again["cases"] == 0
    assert [ctx.scalar(select(func.count(m.id))) for m in (Case, Intervention, AuditEvent)] == counts


def test_steps_and_tallies_carry_the_cases_scope_after_the_real_workflow(ctx):
    """Work lists read the case's owner, stage and area from the step's copies, and the caseload counts
    from the tallies (issue #8): after the workflow has walked cases through every stage, claims and
    reassignments, no copy differs and every tally equals a recount."""
    load_demo(ctx, households=120, progress=lambda _m: None)
    assert ctx.scalar(select(func.count(Step.id))) > 30
    assert ctx.scalar(select(func.count(Step.id)).join(Case, Case.id == Step.case_id).where(
        or_(Step.case_owner_id.is_distinct_from(Case.owner_id), Step.case_stage != Case.stage,
            Step.case_kelurahan_code != Case.kelurahan_code, Step.case_kecamatan_code != Case.kecamatan_code))) == 0
    # … and the case tallies (caseload counts) equal a recount of the cases.
    owner = func.coalesce(Case.owner_id, 0)
    recount = {(k, o, str(s)): n for k, o, s, n in ctx.execute(
        select(Case.kelurahan_code, owner, Case.stage, func.count()).group_by(Case.kelurahan_code, owner, Case.stage))}
    tallies = {(t.kelurahan_code, t.owner_id, str(t.stage)): t.n for t in ctx.scalars(select(CaseTally)) if t.n}
    assert tallies == recount


def test_cli_demo_load_reports_what_it_did(app, session):
    result = app.test_cli_runner().invoke(args=["demo", "load", "--households", "5"])
    assert result.exit_code == 0, result.output
    assert "households=5" in result.output
