"""SMTP server and webhook down, then up: retried with backoff and delivered. Kept down: ``failed``
after the configured attempts, shown to the admin on /admin/deliveries, and the retry button works."""

from __future__ import annotations

import pytest

from caseapp.notifications.models import Channel
from tests.helpers import csrf_token, login
from tests.notifications.integration import NotificationStack, wait_until_quiet
from tests.notifications.servers import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration]


def prepare(stack):
    stack.prefer("worker@sinergi.test", {"approved": [Channel.EMAIL, Channel.WEBHOOK]}, phone="+6281234567890")
    stack.prefer("supervisor@sinergi.test", {})
    case = stack.committed_case()
    stack.start_worker()
    stack.start_beat()  # its relay publishes each retry when it comes due
    stack.approve_in_process(case)
    return case


def test_smtp_and_webhook_down_then_up_are_retried_and_delivered(app, database_url, tmp_path, monkeypatch):
    with NotificationStack(database_url, tmp_path, monkeypatch, smtp_up=False, webhook_up=False,
                           NOTIFY_MAX_ATTEMPTS="6", NOTIFY_BACKOFF_BASE="0.5", NOTIFY_BACKOFF_MAX="2") as stack:
        case = prepare(stack)
        # A failed attempt has been recorded (last_error set), not merely claimed: an attempt still in
        # flight when the servers come back up would succeed at the first try.
        failed_once = wait_for(lambda: (rows := stack.notification(case))["email"]["attempts"] >= 1
                               and rows["email"]["last_error"] and rows["webhook"]["attempts"] >= 1
                               and rows["webhook"]["last_error"] and rows, timeout=20,
                               message="a first failed attempt on both channels")
        assert failed_once["email"]["status"] in ("pending", "sending")
        assert "unavailable" in (failed_once["email"]["last_error"] or "unavailable")
        stack.smtp.start()
        stack.webhook.start()
        wait_for(lambda: stack.notification(case)["email"]["status"] == "sent"
                 and stack.notification(case)["webhook"]["status"] == "sent", timeout=30, message="delivery")
        wait_until_quiet(1.5)
        rows = stack.notification(case)
        assert 2 <= rows["email"]["attempts"] <= 6 and 2 <= rows["webhook"]["attempts"] <= 6
        assert rows["email"]["last_error"] is None
        assert len(stack.smtp.for_delivery(rows["email"]["id"])) == 1
        assert [c["delivery"] for c in stack.webhook.received()] == [f"sinergi-delivery-{rows['webhook']['id']}"]


def test_kept_down_fails_after_the_configured_attempts_and_the_admin_sees_and_retries_it(
        app, database_url, tmp_path, monkeypatch):
    with NotificationStack(database_url, tmp_path, monkeypatch, smtp_up=False, webhook_up=False,
                           NOTIFY_MAX_ATTEMPTS="3") as stack:
        case = prepare(stack)
        rows = wait_for(lambda: (r := stack.notification(case))["email"]["status"] == "failed"
                        and r["webhook"]["status"] == "failed" and r, timeout=30, message="both to be failed")
        assert rows["email"]["attempts"] == 3 and rows["webhook"]["attempts"] == 3
        assert "SMTP server 127.0.0.1" in rows["email"]["last_error"]
        assert "webhook unavailable" in rows["webhook"]["last_error"]
        wait_until_quiet(1.5)
        assert stack.notification(case)["email"]["attempts"] == 3  # given up: no more attempts

        admin = stack.app.test_client()
        login(admin, "admin@sinergi.test")
        page = admin.get("/admin/deliveries")
        assert page.status_code == 200
        for channel in ("email", "webhook"):
            assert f"/admin/deliveries/{rows[channel]['id']}/retry" in page.text
        assert "SMTP server 127.0.0.1" in page.text and "worker@sinergi.test" in page.text

        stack.smtp.start()
        response = admin.post(f"/admin/deliveries/{rows['email']['id']}/retry",
                              data={"csrf_token": csrf_token(page.text)})
        assert response.status_code == 302
        wait_for(lambda: stack.smtp.for_delivery(rows["email"]["id"]), timeout=20, message="the retried e-mail")
        wait_until_quiet(1)
        assert len(stack.smtp.for_delivery(rows["email"]["id"])) == 1
        after = stack.notification(case)
        assert (after["email"]["status"], after["email"]["attempts"]) == ("sent", 1)
        assert after["webhook"]["status"] == "failed"  # not retried: still on the admin page
        assert f"/admin/deliveries/{rows['webhook']['id']}/retry" in admin.get("/admin/deliveries").text
