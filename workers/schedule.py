"""The beat schedule: outbox relay, SLA scan, the 07:00 digest and the 02:30 retention run
(Asia/Jakarta, the Celery timezone).

Run exactly one beat per deployment. Every periodic task is idempotent (a second beat, or a beat
restarted mid-period, sends nothing twice); a single beat only keeps the load down.
"""

from __future__ import annotations

from collections.abc import Mapping

from celery.schedules import crontab


def beat_schedule(config: Mapping) -> dict:
    relay, scan = config["NOTIFY_RELAY_INTERVAL"], config["NOTIFY_SLA_SCAN_INTERVAL"]
    return {
        # An expired copy is dropped: when workers were down, the queue holds one relay, not hundreds.
        "notifications.relay_outbox": {"task": "notifications.relay_outbox", "schedule": relay,
                                       "options": {"expires": max(relay, 1)}},
        "notifications.scan_sla": {"task": "notifications.scan_sla", "schedule": scan,
                                   "options": {"expires": max(scan, 1)}},
        "notifications.send_digest": {"task": "notifications.send_digest",
                                      "schedule": crontab(hour=config["NOTIFY_DIGEST_HOUR"], minute=0),
                                      "options": {"expires": 3600}},
        # Anonymise households whose cases are all closed and past retention (idempotent).
        "cases.anonymise_expired": {"task": "cases.anonymise_expired",
                                    "schedule": crontab(hour=config["RETENTION_HOUR"], minute=30),
                                    "options": {"expires": 6 * 3600}},
        # Pre-computed default dashboard (issue #8): the page shows when it last ran.
        "reports.refresh_dashboard": {"task": "reports.refresh_dashboard",
                                      "schedule": config.get("DASHBOARD_REFRESH_SECONDS", 600),
                                      "options": {"expires": 300}},
    }
