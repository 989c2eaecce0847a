"""Worker side without a broker: task names, routing, the beat schedule, safe settings, thin tasks."""

from __future__ import annotations

from celery import current_app as current_celery
from celery.schedules import crontab
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.notifications import operations as ops
from caseapp.notifications.models import DeliveryStatus, Notification
from config import celery_settings
from workers import notifications as tasks
from workers.schedule import beat_schedule

TASKS = {"notifications.deliver_in_app", "notifications.deliver_email", "notifications.deliver_webhook",
         "notifications.relay_outbox", "notifications.scan_sla", "notifications.send_digest"}


def test_tasks_are_named_by_domain_and_routed_to_the_notifications_queue(app):
    celery = app.extensions["celery"]
    assert set(current_celery.tasks) | set(celery.tasks) >= TASKS
    for name in TASKS:
        assert celery.amqp.router.route({}, name)["queue"].name == "notifications"
    assert celery.amqp.router.route({}, "core.do_nothing")["queue"].name == "default"


def test_settings_make_delivery_safe():
    settings = celery_settings("redis://127.0.0.1:6379/0")
    assert settings["task_acks_late"] and settings["task_reject_on_worker_lost"]
    assert settings["worker_prefetch_multiplier"] == 1
    assert settings["task_serializer"] == "json" and settings["accept_content"] == ["json"]
    assert settings["worker_cancel_long_running_tasks_on_connection_loss"]
    transport = settings["broker_transport_options"]
    assert transport["visibility_timeout"] > settings["task_time_limit"] > settings["task_soft_time_limit"]
    assert transport["socket_timeout"] and transport["socket_connect_timeout"]
    assert settings["task_publish_retry_policy"]["max_retries"] <= 1


def test_shortened_clocks_keep_their_order(monkeypatch):
    monkeypatch.setenv("CELERY_TASK_TIME_LIMIT", "4")
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "6")
    monkeypatch.setenv("CELERY_RESTORE_INTERVAL", "1")
    settings = celery_settings("redis://127.0.0.1:6379/0")
    assert (settings["task_time_limit"], settings["task_soft_time_limit"]) == (4, 3)
    assert settings["broker_transport_options"]["visibility_timeout"] == 6
    assert settings["broker_transport_options"]["unacked_restore_interval"] == 1


def test_claim_lease_outlives_the_task_time_limit(app):
    assert app.config["NOTIFY_CLAIM_LEASE"] > app.config["CELERY"]["task_time_limit"]


def test_beat_runs_relay_scan_and_the_digest_at_seven(app):
    schedule = beat_schedule(app.config)
    assert {entry["task"] for entry in schedule.values()} == {
        "notifications.relay_outbox", "notifications.scan_sla", "notifications.send_digest",
        "cases.anonymise_expired",  # tests/privacy/test_retention.py
        "reports.refresh_dashboard"}  # issue #8: the pre-computed default dashboard
    digest = schedule["notifications.send_digest"]["schedule"]
    assert isinstance(digest, crontab) and digest.hour == {7} and digest.minute == {0}
    assert app.config["CELERY"]["timezone"] == "Asia/Jakarta"
    assert schedule["notifications.scan_sla"]["schedule"] == 900
    assert all(entry["options"]["expires"] > 0 for entry in schedule.values())


def test_a_task_calls_the_operation_and_commits(ctx, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.extensions, "sinergi_local_jobs", {})
    worker = ctx.scalar(select(User).where(User.email == "worker@sinergi.test"))
    ids = ops.write_notifications(ctx, [ops.Draft(recipient_id=worker.id, kind="assigned")])
    assert tasks.deliver_in_app.run(ids) == 1
    assert tasks.deliver_in_app.run(ids) == 0
    assert ctx.scalar(select(Notification.status).where(Notification.id == ids[0])) == DeliveryStatus.SENT
    assert tasks.relay_outbox.run()["in_app"] == 0


def test_a_fresh_message_is_never_taken_for_poison(app):
    class Request:
        delivery_info = {"redelivered": False}
        id = "abc"

    class Task:
        name = "notifications.deliver_email"
        request = Request()

    with app.app_context():
        assert tasks.poison_message(Task()) is False
