"""Every write of the notifications domain, in one import (the modules beside this one hold them).

* :mod:`~caseapp.notifications.outbox` — write notifications with the action (same transaction);
* :mod:`~caseapp.notifications.delivery` — claim, send, retry, give up; retry failed rows by hand;
* :mod:`~caseapp.notifications.relay` — re-publish what is still pending;
* :mod:`~caseapp.notifications.sla` — SLA reminders, escalations, the daily digest;
* :mod:`~caseapp.notifications.inbox` and :mod:`~caseapp.notifications.preferences` — the user's side.
"""

from caseapp.notifications.delivery import (
    backoff_seconds,
    claim_deliveries,
    deliver_external,
    deliver_in_app,
    retry_deliveries,
)
from caseapp.notifications.inbox import mark_all_read, mark_read
from caseapp.notifications.outbox import Draft, publish_after_commit, record_case_notifications, write_notifications
from caseapp.notifications.preferences import set_preferences
from caseapp.notifications.relay import relay_outbox
from caseapp.notifications.sla import scan_sla, send_digest

__all__ = [
    "Draft",
    "backoff_seconds",
    "claim_deliveries",
    "deliver_external",
    "deliver_in_app",
    "mark_all_read",
    "mark_read",
    "publish_after_commit",
    "record_case_notifications",
    "relay_outbox",
    "retry_deliveries",
    "scan_sla",
    "send_digest",
    "set_preferences",
    "write_notifications",
]
