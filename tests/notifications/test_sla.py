"""SLA scan and daily digest: the right people, the right kinds, and never twice."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from caseapp.agencies.models import Agency, Programme
from caseapp.cases.models import InterventionStatus, SlaSetting, Stage, Step, StepStatus
from caseapp.notifications import operations as ops
from caseapp.notifications.models import Notification
from caseapp.notifications.sla import WIB, dedupe_key
from tests.factories import CaseFactory, InterventionFactory

TODAY = date(2026, 3, 10)
NOW = datetime.combine(TODAY, time(8, 30), tzinfo=WIB)  # a Tuesday morning in Kediri


def due(days: int) -> datetime:
    return datetime.combine(TODAY + timedelta(days=days), time(12, 0), tzinfo=WIB)


@pytest.fixture
def work(ctx, people):
    case = CaseFactory(owner_id=people["worker"].id)
    ctx.flush()

    def step(name, days, kind="verification", assignee=people["worker"].id):
        row = Step(case_id=case.id, stage=Stage.VERIFICATION, kind=kind, assignee_id=assignee,
                   status=StepStatus.OPEN, due_at=due(days))
        ctx.add(row)
        ctx.flush()
        return name, row

    steps = dict([step("soon", 2), step("today", 0), step("late1", -1), step("late4", -4), step("far", 10),
                  step("approval", -3, kind="approval", assignee=None)])
    dinkes = ctx.scalar(select(Agency).where(Agency.code == "DINKES"))
    programme = ctx.scalar(select(Programme).where(Programme.agency_id == dinkes.id))
    intervention = InterventionFactory(case=case, programme_id=programme.id, agency_id=dinkes.id,
                                       status=InterventionStatus.PENDING, due_at=due(0))
    ctx.flush()
    return {"case": case, "steps": steps, "intervention": intervention}


def written(ctx, case):
    rows = ctx.scalars(select(Notification).where(Notification.case_id == case.id,
                                                  Notification.kind.in_(("due_soon", "due_today", "overdue",
                                                                         "escalation")))).all()
    return Counter((n.kind, n.recipient_id, n.payload.get("task"), n.payload["due_date"]) for n in rows)


def test_reminders_and_escalations_go_to_the_right_people(ctx, people, work, published):
    ops.scan_sla(ctx, now=NOW)
    worker, supervisor, dokter = people["worker"].id, people["supervisor"].id, people["dokter"].id
    day = lambda n: (TODAY + timedelta(days=n)).isoformat()  # noqa: E731
    assert written(ctx, work["case"]) == Counter({
        ("due_soon", worker, "verification", day(2)): 1,
        ("due_today", worker, "verification", day(0)): 1,
        ("overdue", worker, "verification", day(-1)): 1,
        ("overdue", worker, "verification", day(-4)): 1,
        ("escalation", supervisor, "verification", day(-4)): 1,   # 4 days late ≥ 3
        ("overdue", supervisor, "approval", day(-3)): 1,          # nobody holds an approval: the supervisors
        ("escalation", supervisor, "approval", day(-3)): 1,       # ... and up to the city-wide supervisors
        ("due_today", dokter, "intervention", day(0)): 1,         # unclaimed: the agency's officers
    })
    late4 = work["steps"]["late4"]
    key = dedupe_key("escalation", "step", late4.id, TODAY - timedelta(days=4), supervisor)
    assert key == f"escalation:step:{late4.id}:2026-03-06:u{supervisor}"
    assert ctx.scalar(select(Notification.payload).where(Notification.dedupe_key == key))["days"] == 4


def test_scanning_twice_writes_nothing_twice(ctx, work, published):
    first = ops.scan_sla(ctx, now=NOW)
    assert first >= 8
    assert ops.scan_sla(ctx, now=NOW) == 0
    assert ops.scan_sla(ctx, now=NOW + timedelta(hours=3)) == 0  # later the same day
    assert all(count == 1 for count in written(ctx, work["case"]).values())


def test_the_next_day_moves_each_step_on_without_repeating(ctx, people, work, published):
    ops.scan_sla(ctx, now=NOW)
    ops.scan_sla(ctx, now=NOW + timedelta(days=1))
    counts = written(ctx, work["case"])
    soon = (TODAY + timedelta(days=2)).isoformat()
    today = TODAY.isoformat()
    worker, supervisor = people["worker"].id, people["supervisor"].id
    assert counts[("due_soon", worker, "verification", soon)] == 1          # still due soon: not again
    assert counts[("overdue", worker, "verification", today)] == 1          # yesterday's "today" is late now
    assert counts[("overdue", worker, "verification", (TODAY - timedelta(days=1)).isoformat())] == 1
    assert ("escalation", supervisor, "verification", (TODAY - timedelta(days=1)).isoformat()) not in counts


def test_sla_settings_change_the_offsets(ctx, people, work, published):
    ctx.add(SlaSetting(key="verification", days=14, remind_days_before=10, escalate_days_after=1))
    ctx.flush()
    ops.scan_sla(ctx, now=NOW)
    counts = written(ctx, work["case"])
    supervisor = people["supervisor"].id
    assert counts[("due_soon", people["worker"].id, "verification", (TODAY + timedelta(days=10)).isoformat())] == 1
    assert counts[("escalation", supervisor, "verification", (TODAY - timedelta(days=1)).isoformat())] == 1


def test_closed_cases_and_finished_steps_are_left_alone(ctx, work, published):
    work["case"].stage = Stage.CLOSED
    ctx.flush()
    ops.scan_sla(ctx, now=NOW)
    assert written(ctx, work["case"]) == Counter()


def test_digest_once_per_user_per_day(ctx, people, work, published):
    assert ops.send_digest(ctx, now=NOW) >= 3
    assert ops.send_digest(ctx, now=NOW + timedelta(hours=5)) == 0
    digest = ctx.scalar(select(Notification).where(Notification.kind == "digest",
                                                   Notification.recipient_id == people["worker"].id))
    assert digest.dedupe_key == f"digest:u{people['worker'].id}:{TODAY.isoformat()}"
    counts = digest.payload["counts"]
    assert (counts["open"], counts["overdue"], counts["due_today"]) == (5, 2, 1)
    assert digest.payload["items"][0]["overdue"] is True
    assert ctx.scalar(select(Notification).where(Notification.kind == "digest",
                                                 Notification.recipient_id == people["viewer"].id)) is None
    assert ops.send_digest(ctx, now=NOW + timedelta(days=1)) >= 3  # a new day, a new digest
