"""The SLA scan run twice in a row (and twice at once) by real workers: no duplicate reminders or
escalations; the e-mails read back from the SMTP server speak each recipient's language and hold no
NIK; the webhook receiver checks every signature."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from caseapp.auth.models import User
from caseapp.cases.models import Stage, Step, StepStatus
from caseapp.core.models import utcnow
from caseapp.notifications.models import Channel, Notification, NotificationDelivery
from caseapp.notifications.sla import WIB, local_date
from tests.factories import CaseFactory, HouseholdFactory, PersonFactory
from tests.notifications.conftest import HEAD_NIK
from tests.notifications.integration import NotificationStack, wait_until_quiet
from tests.notifications.servers import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration]

FULL_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
SLA_KINDS = ("due_soon", "due_today", "overdue", "escalation")


@pytest.fixture
def stack(app, database_url, tmp_path, monkeypatch):
    with NotificationStack(database_url, tmp_path, monkeypatch) as running:
        yield running


def late_case(stack) -> dict:
    """A committed case with steps due in 2 days, today, 1 day ago and 4 days ago (owner worker@)."""
    today = local_date(utcnow())
    with stack.db() as session:
        worker = session.scalar(select(User).where(User.email == "worker@sinergi.test"))
        household = PersonFactory(household=HouseholdFactory(), nik=HEAD_NIK).household
        case = CaseFactory(household=household, owner_id=worker.id)
        session.flush()
        steps = {}
        for name, days in (("soon", 2), ("today", 0), ("late", -1), ("very_late", -4)):
            step = Step(case_id=case.id, stage=Stage.VERIFICATION, kind="verification", assignee_id=worker.id,
                        status=StepStatus.OPEN, due_at=datetime.combine(today + timedelta(days=days), time(12),
                                                                        tzinfo=WIB))
            session.add(step)
            session.flush()
            steps[name] = step.id
        return {"id": case.id, "number": case.number, "steps": steps}


def sla_rows(stack, case):
    with stack.db() as session:
        return session.execute(select(Notification.kind, Notification.recipient_id, Notification.dedupe_key,
                                      Notification.status)
                               .where(Notification.case_id == case["id"], Notification.kind.in_(SLA_KINDS))).all()


def deliveries(stack, case):
    with stack.db() as session:
        return session.execute(select(NotificationDelivery.id, NotificationDelivery.channel,
                                      NotificationDelivery.status, Notification.kind)
                               .join(Notification).where(Notification.case_id == case["id"])).all()


def test_sla_scan_twice_sends_nothing_twice_in_the_right_language(stack):
    worker = stack.prefer("worker@sinergi.test", {k: [Channel.EMAIL] for k in ("due_soon", "due_today", "overdue")})
    supervisor = stack.prefer("supervisor@sinergi.test", {"escalation": [Channel.EMAIL, Channel.WEBHOOK]},
                              phone="+6285600000001", locale="en")
    case = late_case(stack)
    stack.start_worker("w1", concurrency=2)

    stack.send("notifications.scan_sla")
    stack.send("notifications.scan_sla")  # a second beat, at the same moment
    wait_for(lambda: len(deliveries(stack, case)) >= 6 and all(d.status == "sent" for d in deliveries(stack, case)),
             timeout=30, message="the reminders to be delivered")
    stack.send("notifications.scan_sla")  # and again, a run later
    wait_until_quiet(2)

    rows = sla_rows(stack, case)
    assert Counter((r.kind, r.recipient_id) for r in rows) == Counter(
        {("due_soon", worker): 1, ("due_today", worker): 1, ("overdue", worker): 2, ("escalation", supervisor): 1})
    assert len({r.dedupe_key for r in rows}) == 5
    assert all(r.status == "sent" for r in rows)
    very_late = case["steps"]["very_late"]
    assert any(r.dedupe_key.startswith(f"escalation:step:{very_late}:") for r in rows)
    with stack.db() as session:
        assert session.scalar(select(func.count()).select_from(Notification).where(
            Notification.dedupe_key.like(f"escalation:step:{very_late}:%"))) == 1

    sent = deliveries(stack, case)
    assert sorted((d.channel, d.kind) for d in sent) == sorted(
        [("email", "due_soon"), ("email", "due_today"), ("email", "overdue"), ("email", "overdue"),
         ("email", "escalation"), ("webhook", "escalation")])
    mails = [m for d in sent if d.channel == "email" for m in stack.smtp.for_delivery(d.id)]
    assert len(mails) == 5  # one per delivery, none twice
    subjects = {m["To"]: [] for m in mails}
    for mail in mails:
        subjects[mail["To"]].append(str(mail["Subject"]).strip())
        shown = mail["Subject"] + mail.get_body(("plain",)).get_content() + mail.get_body(("html",)).get_content()
        assert HEAD_NIK not in shown and not FULL_NIK.search(shown)
        assert case["number"] in mail["Subject"]
    assert all("Verifikasi kasus" in s for s in subjects["worker@sinergi.test"])  # Indonesian
    assert any("jatuh tempo hari ini" in s for s in subjects["worker@sinergi.test"])
    [escalation] = [s.strip() for s in subjects["supervisor@sinergi.test"]]
    assert escalation == f"[Sinergi] Escalation: Verification of case {case['number']} is 4 days overdue"

    [call] = stack.webhook.received()  # the receiver verified the HMAC signature and the timestamp
    assert stack.webhook.rejected == []
    assert call["body"]["event"] == "escalation" and call["body"]["to"] == "+6285600000001"
    assert call["body"]["locale"] == "en" and HEAD_NIK not in str(call["body"])
