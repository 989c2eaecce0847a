"""Each security test logs in as several users: start it with fresh per-address login counters."""

from __future__ import annotations

import pytest

from caseapp.extensions import limiter


@pytest.fixture(autouse=True)
def fresh_login_limits(app):
    with app.app_context():
        limiter.reset()
