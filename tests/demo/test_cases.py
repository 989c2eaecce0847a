"""`flask demo load` also opens cases in every stage, through the real workflow, idempotently."""

from __future__ import annotations

from sqlalchemy import func, select

from caseapp.cases.models import Case, Intervention, Stage
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


def test_cli_demo_load_reports_what_it_did(app, session):
    result = app.test_cli_runner().invoke(args=["demo", "load", "--households", "5"])
    assert result.exit_code == 0, result.output
    assert "households=5" in result.output
