"""Redis stopped while a supervisor approves: the approval succeeds, and once Redis is back the
notification is delivered (in-app, e-mail, webhook), once, by a real worker and the beat's relay."""

from __future__ import annotations

import time

import pytest

from caseapp.notifications.models import Channel
from tests.notifications.integration import NotificationStack, wait_until_quiet
from tests.notifications.servers import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration]


@pytest.fixture
def stack(app, database_url, tmp_path, monkeypatch):
    with NotificationStack(database_url, tmp_path, monkeypatch) as running:
        yield running


def test_approval_with_redis_stopped_is_delivered_once_redis_is_back(stack):
    stack.prefer("worker@sinergi.test", {"approved": [Channel.EMAIL, Channel.WEBHOOK]}, phone="+6281234567890")
    stack.prefer("supervisor@sinergi.test", {})
    case = stack.committed_case()
    stack.start_worker()
    stack.start_beat()
    headers = stack.api_token("supervisor@sinergi.test")

    stack.redis.stop()
    started = time.monotonic()
    response = stack.app.test_client().post(f"/api/v1/cases/{case['id']}/actions", headers=headers,
                                            json={"action": "approve_verification", "version": case["version"]})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.json
    assert response.json["stage"] == "intervention"
    assert elapsed < 3, f"the approval waited {elapsed:.1f}s for a stopped Redis"

    # Written with the approval, waiting in the outbox: nothing can deliver without the broker.
    time.sleep(1.5)
    rows = stack.notification(case)
    assert (rows["status"], rows["email"]["status"], rows["webhook"]["status"]) == ("pending", "pending", "pending")
    assert stack.smtp.for_delivery(rows["email"]["id"]) == [] and stack.webhook.received() == []

    stack.redis.start()  # an empty Redis on the same port: the publish at commit time was lost
    wait_for(lambda: stack.notification(case)["status"] == "sent", timeout=40, message="in-app delivery")
    wait_for(lambda: stack.smtp.for_delivery(rows["email"]["id"]), timeout=20, message="the e-mail")
    wait_for(lambda: stack.webhook.received(), timeout=20, message="the webhook call")
    wait_until_quiet(2)

    rows = stack.notification(case)
    assert (rows["status"], rows["email"]["status"], rows["webhook"]["status"]) == ("sent", "sent", "sent")
    [mail] = stack.smtp.for_delivery(rows["email"]["id"])
    assert mail["Subject"] == f"[Sinergi] Langkah kasus {case['number']} disetujui"
    [call] = stack.webhook.received()
    assert call["delivery"] == f"sinergi-delivery-{rows['webhook']['id']}" and stack.webhook.rejected == []
    assert "Relay" in stack.log("beat.log") or "relay_outbox" in stack.log("beat.log")
