"""A worker SIGKILLed in the middle of sending an e-mail delivers it once after restart; the same task
message delivered twice sends one e-mail and one webhook call."""

from __future__ import annotations

import re
import threading

import pytest

from caseapp.notifications.models import Channel
from tests.notifications.integration import NotificationStack, wait_until_quiet
from tests.notifications.servers import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration]


@pytest.fixture
def stack(app, database_url, tmp_path, monkeypatch):
    with NotificationStack(database_url, tmp_path, monkeypatch) as running:
        yield running


def only_approved_goes_out(stack, channels):
    """Only the approval reaches the outside, so every e-mail and webhook call in the test is that one."""
    stack.prefer("worker@sinergi.test", {"approved": channels}, phone="+6281234567890")
    stack.prefer("supervisor@sinergi.test", {})


def test_worker_killed_mid_delivery_delivers_once_after_restart(stack):
    only_approved_goes_out(stack, [Channel.EMAIL])
    case = stack.committed_case()
    first = stack.start_worker("w1")
    stack.smtp.stall.set()  # the SMTP server holds the transaction before it accepts the message
    stack.approve_in_process(case)
    wait_for(stack.smtp.stalled.is_set, timeout=20, message="the worker to be in the middle of the delivery")
    email = stack.notification(case)["email"]
    assert (email["status"], email["attempts"]) == ("sending", 1)

    stack.kill(first)  # SIGKILL parent and pool child: no ack, no cleanup, the claim stays
    stack.smtp.stall.clear()
    assert stack.smtp.for_delivery(email["id"]) == []
    assert stack.notification(case)["email"]["status"] == "sending"

    # Restarted: the unacknowledged message comes back after the visibility timeout, the claim's lease
    # has run out by then, and the e-mail is sent.
    stack.start_worker("w1")
    wait_for(lambda: stack.smtp.for_delivery(email["id"]), timeout=30, message="the e-mail after the restart")
    wait_until_quiet(2)
    assert len(stack.smtp.for_delivery(email["id"])) == 1
    email = stack.notification(case)["email"]
    assert (email["status"], email["attempts"]) == ("sent", 2)
    # No beat runs here: it was the broker that handed the killed worker's message out again.
    [task_id] = set(re.findall(r"notifications\.deliver_email\[([0-9a-f-]+)\] received", stack.log("worker-w1.log")))
    assert stack.log("worker-w1.log").count(f"deliver_email[{task_id}] received") == 2


def test_the_same_task_message_twice_sends_one_email_and_one_webhook_call(stack):
    only_approved_goes_out(stack, [Channel.EMAIL, Channel.WEBHOOK])
    case = stack.committed_case()
    stack.approve_in_process(case)  # published to Redis; no worker is running yet
    rows = stack.notification(case)
    for task, delivery in (("notifications.deliver_email", rows["email"]), ("notifications.deliver_webhook",
                                                                           rows["webhook"])):
        # The very same message again (same task id, same body), as a broker redelivery would hand out.
        for _ in range(2):
            stack.send(task, [delivery["id"]], task_id=f"duplicate-{delivery['id']}")
    # Two pool processes take the copies at the same time; a slow SMTP server keeps them overlapping.
    stack.smtp.stall.set()
    threading.Timer(1.5, stack.smtp.stall.clear).start()
    stack.start_worker("w2", concurrency=2)
    wait_for(lambda: stack.smtp.for_delivery(rows["email"]["id"]) and stack.webhook.received(), timeout=30,
             message="the e-mail and the webhook call")
    wait_until_quiet(2)
    assert len(stack.smtp.for_delivery(rows["email"]["id"])) == 1
    assert len(stack.webhook.received()) == 1 and stack.webhook.rejected == []
    rows = stack.notification(case)
    assert (rows["email"]["status"], rows["email"]["attempts"]) == ("sent", 1)
    assert (rows["webhook"]["status"], rows["webhook"]["attempts"]) == ("sent", 1)
    log = stack.log("worker-w2.log")
    assert log.count(f"deliver_email[duplicate-{rows['email']['id']}] received") == 2
    assert log.count(f"deliver_webhook[duplicate-{rows['webhook']['id']}] received") == 2
