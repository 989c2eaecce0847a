"""Quarterly snapshots: once taken, a quarter's report never changes; taken once, after the quarter."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.extensions import db
from caseapp.households.models import Household, HouseholdStatus
from caseapp.reports import operations, pages, queries
from caseapp.reports.models import PovertyLine, ReportSnapshot
from caseapp.reports.periods import Quarter, today
from caseapp.reports.queries import Scope
from tests.helpers import csrf_token, login
from tests.reports.builders import BANDAR_LOR, MOJOROTO, SEMAMPIR, at, case, delivered, household
from tests.reports.conftest import MOJOROTO_NAME

Q1 = Quarter(2025, 1)


def change_everything() -> None:
    """What happens after a quarter closes: late entries dated inside it, a desil update, a closure."""
    late = case(household(SEMAMPIR), opened=at(2025, 1, 15))
    delivered(late, "RTLH", date(2025, 2, 1), 20_000_000)
    first = db.session.scalars(select(Household).order_by(Household.id)).first()
    first.desil = 3
    db.session.flush()


def main(html: str) -> str:
    return re.search(r"<main.*?</main>", html, re.S).group(0)


def test_a_snapshot_freezes_the_quarter_figures(ctx, reported):
    live_before = queries.compute_figures(Scope(None), pages.quarter_filters(Q1))
    snapshot = operations.take_snapshot(ctx, Q1)
    assert snapshot.figures["city"]["funnel"] == live_before["funnel"]
    assert set(snapshot.figures["kecamatan"]) == {"35.71.01", "35.71.02", "35.71.03"}
    assert len(snapshot.targets) == 9 and "head_name" not in snapshot.targets[0], "no names in the snapshot"

    change_everything()

    live_after = queries.compute_figures(Scope(None), pages.quarter_filters(Q1))
    assert live_after["funnel"]["total"] == live_before["funnel"]["total"] + 1
    frozen, used = pages.quarter_figures(Scope(None), Q1)
    assert used is not None
    assert frozen["funnel"] == live_before["funnel"]
    assert frozen["budget"] == live_before["budget"]
    assert frozen["coverage"] == live_before["coverage"]
    kecamatan, _ = pages.quarter_figures(Scope(MOJOROTO), Q1)
    assert kecamatan["coverage"]["city"]["desil1"] == 7


def test_a_quarter_is_frozen_once_and_only_after_it_ends(ctx):
    operations.take_snapshot(ctx, Q1)
    with pytest.raises(Conflict):
        operations.take_snapshot(ctx, Q1)
    with pytest.raises(ValidationFailed):
        operations.take_snapshot(ctx, Quarter.containing(today()))
    assert ctx.scalar(select(func.count()).select_from(ReportSnapshot)) == 1


def test_the_report_page_of_a_frozen_quarter_does_not_change(app, client, reported):
    login(client, "admin@sinergi.test")
    page = client.get("/reports/")
    response = client.post("/reports/2025/q1/snapshot", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert "sudah dikunci" in client.get(response.headers["Location"]).text  # the flash, shown once
    before = client.get("/reports/2025/q1")
    assert "Angka dikunci" in before.text
    with app.app_context():
        change_everything()
        db.session.commit()
    after = client.get("/reports/2025/q1")
    assert main(after.text) == main(before.text)
    xlsx_before = client.get("/reports/2025/q1.xlsx")
    assert xlsx_before.status_code == 200


def test_the_by_name_list_of_a_frozen_quarter_reads_names_live_so_anonymisation_reaches_it(app, client, reported):
    with app.app_context():
        operations.take_snapshot(db.session, Q1)
        db.session.commit()
    login(client, "admin@sinergi.test")
    assert MOJOROTO_NAME in client.get("/reports/2025/q1/households").text
    with app.app_context():
        named = db.session.scalars(select(Household).where(Household.address.contains("HYPERLINK"))).one()
        named.status = HouseholdStatus.ANONYMISED
        db.session.commit()
    listing = client.get(f"/reports/2025/q1/households?kelurahan={BANDAR_LOR}").text
    assert MOJOROTO_NAME not in listing and "(dianonimkan)" in listing


@pytest.mark.parametrize("email", ["viewer@sinergi.test", "supervisor@sinergi.test"])
def test_only_admins_may_freeze_a_quarter(app, client, email):
    login(client, email)
    page = client.get("/reports/")
    assert "Kunci angka" not in page.text
    response = client.post("/reports/2025/q1/snapshot", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReportSnapshot)) == 0


def test_admin_sees_the_button_only_for_ended_quarters_without_a_snapshot(client):
    login(client, "admin@sinergi.test")
    html = client.get("/reports/").text
    current = Quarter.containing(today())
    assert f'/reports/{current.year}/q{current.number}/snapshot"' not in html
    previous = current.previous()
    assert f'/reports/{previous.year}/q{previous.number}/snapshot"' in html


def test_cli_snapshot_and_poverty_line(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reports", "snapshot", "--quarter", "2025Q2"])
    assert result.exit_code == 0, result.output
    assert "Snapshot 2025Q2" in result.output
    again = runner.invoke(args=["reports", "snapshot", "--quarter", "2025Q2"])
    assert again.exit_code == 2 and "dikunci" in again.output
    assert runner.invoke(args=["reports", "snapshot", "--quarter", "2025-7"]).exit_code == 2
    line = runner.invoke(args=["reports", "poverty-line", "--valid-from", "2025-01-01", "--rupiah", "400000",
                               "--source", "BPS, rilis uji"])
    assert line.exit_code == 0, line.output
    with app.app_context():
        assert db.session.scalar(select(PovertyLine.rupiah_per_capita_month)) == 400_000
    duplicate = runner.invoke(args=["reports", "poverty-line", "--valid-from", "2025-01-01", "--rupiah", "1",
                                    "--source", "x"])
    assert duplicate.exit_code == 2


def test_quarters_parse_and_know_their_dates():
    q = Quarter.parse("2026Q3")
    assert (q.start, q.end, q.year_start, q.roman, q.code) == (date(2026, 7, 1), date(2026, 9, 30),
                                                               date(2026, 1, 1), "III", "2026Q3")
    assert Quarter(2025, 4).end == date(2025, 12, 31) and Quarter(2025, 1).previous() == Quarter(2024, 4)
    with pytest.raises(ValueError):
        Quarter.parse("2026Q5")
