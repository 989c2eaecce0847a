"""`flask users create`: creates a usable account; bad input names the field and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseapp.auth.models import User
from caseapp.extensions import db
from tests.helpers import login


def run(app, *args):
    return app.test_cli_runner().invoke(args=["users", "create", *args])


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def test_create_a_social_worker_who_can_then_log_in(app, client):
    result = run(app, "--email", "Rahmat@Kedirikota.go.id", "--role", "social_worker", "--agency", "DINSOS",
                 "--name", "Rahmat Hidayat", "--password", "sawah hijau di pinggir kali")
    assert result.exit_code == 0, result.output
    assert "rahmat@kedirikota.go.id" in result.output
    response = login(client, "rahmat@kedirikota.go.id", "sawah hijau di pinggir kali")
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        (["--email", "x@y.id", "--role", "agency_officer", "--password", "sawah hijau di pinggir kali"],
         "--agency", "Petugas dinas harus punya dinas"),
        (["--email", "x@y.id", "--role", "social_worker", "--agency", "NOPE",
          "--password", "sawah hijau di pinggir kali"], "--agency", "NOPE"),
        (["--email", "x@y.id", "--role", "social_worker", "--password", "password123"], "--password", "minimal 12"),
        (["--email", "x@y.id", "--role", "social_worker", "--password", "kediri-dinsos-2025"],
         "--password", "nama instansi/kota"),
        (["--email", "worker@sinergi.test", "--role", "social_worker", "--password", "sawah hijau di pinggir kali"],
         "--email", "sudah dipakai"),
    ],
    ids=["officer-without-agency", "unknown-agency", "short-password", "context-password", "duplicate-email"],
)
def test_bad_input_names_the_field_and_changes_nothing(app, session, args, field, message):
    before = user_count(app)
    result = run(app, *args)
    assert result.exit_code == 2
    assert field in result.output and message in result.output
    assert user_count(app) == before


def test_an_unknown_role_is_refused_by_the_command_line(app, session):
    result = run(app, "--email", "x@y.id", "--role", "boss", "--password", "sawah hijau di pinggir kali")
    assert result.exit_code == 2
    assert "social_worker" in result.output
