"""Fresh authentication for sensitive account changes (SECURITY.md 7.5.1, ASVS 7.5.1).

Changing one's e-mail or second factor needs the password (and the TOTP code when enrolled)
re-entered on ``/account/confirm`` within the last ``REAUTH_WINDOW``. Logging in does not count:
a session left open on a shared office computer must not be enough to take the account over.
The moment is kept in the signed session cookie, which is cleared at login and logout.
"""

from __future__ import annotations

from flask import current_app, session

from caseapp.core.models import utcnow

SESSION_KEY = "reauth_at"


def mark_fresh() -> None:
    session[SESSION_KEY] = utcnow().timestamp()


def is_fresh() -> bool:
    confirmed = session.get(SESSION_KEY)
    if confirmed is None:
        return False
    window = current_app.config["REAUTH_WINDOW"].total_seconds()
    return 0 <= utcnow().timestamp() - confirmed <= window

