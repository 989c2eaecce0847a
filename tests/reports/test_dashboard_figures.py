"""Pre-computed default dashboard (issue #8): same figures as the live statements, refresh time
shown, and any narrowing filter still computed live."""

from __future__ import annotations

from caseapp.extensions import db
from caseapp.reports.forms import default_filters
from caseapp.reports.operations import refresh_dashboard_figures
from caseapp.reports.pages import dashboard_figures
from caseapp.reports.queries import ReportFilters, Scope, compute_figures
from tests.helpers import login
from tests.reports.builders import BANDAR_LOR, MOJOROTO, SEMAMPIR, case, household

LIVE_ONLY = ("as_of", "filters")


def _this_year_cases():
    today = default_filters().now
    for kelurahan in (BANDAR_LOR, BANDAR_LOR, SEMAMPIR):
        case(household(kelurahan), opened=today.replace(hour=1, minute=0, second=0, microsecond=0))


def test_stored_figures_equal_the_live_ones_for_the_default_view(ctx):
    _this_year_cases()
    took = refresh_dashboard_figures(db.session)
    assert set(took) == {"city", "register"}  # no supervisor is limited to a kecamatan in the demo users
    filters = default_filters()
    stored, computed_at = dashboard_figures(Scope(None), filters)
    live = compute_figures(Scope(None), filters)
    assert computed_at is not None
    assert stored["funnel"]["total"] == 3
    assert {k: v for k, v in stored.items() if k not in LIVE_ONLY} == \
        {k: v for k, v in live.items() if k not in LIVE_ONLY}


def test_a_narrowing_filter_or_another_period_is_computed_live(ctx):
    _this_year_cases()
    refresh_dashboard_figures(db.session)
    f = default_filters()
    narrowed = ReportFilters(date_from=f.date_from, date_to=f.date_to, kecamatan=MOJOROTO)
    figures, computed_at = dashboard_figures(Scope(None), narrowed)
    assert computed_at is None and figures["funnel"]["total"] == 2
    other = ReportFilters(date_from=f.date_from.replace(year=f.date_from.year - 1), date_to=f.date_to)
    assert dashboard_figures(Scope(None), other)[1] is None


def test_the_page_says_when_the_default_view_was_computed(app, client, session):
    with app.app_context():
        _this_year_cases()
        refresh_dashboard_figures(db.session)
        db.session.commit()
    login(client, "viewer@sinergi.test")
    page = client.get("/reports/dashboard")
    assert page.status_code == 200
    assert "terakhir diperbarui" in page.text and 'data-testid="dashboard-computed-at"' in page.text
    narrowed = client.get(f"/reports/dashboard?kecamatan={MOJOROTO}")
    assert narrowed.status_code == 200 and "dashboard-computed-at" not in narrowed.text


def test_the_viewers_home_shows_the_register_as_counted_by_the_refresh(ctx):
    """The viewers' home page reads the register's totals from the scheduled refresh (4 M members are
    not counted on every visit) and says when; before any refresh it counts them then and there."""
    from caseapp.home.queries import city_aggregates
    from caseapp.reports.pages import count_register

    before = city_aggregates()
    assert before["as_of"] is None and before["households"] == count_register()["households"]
    _this_year_cases()
    refresh_dashboard_figures(db.session)
    after = city_aggregates()
    assert after["as_of"] is not None
    assert {k: after[k] for k in ("households", "persons", "desil_1")} == count_register()
    assert after["open_cases"] == before["open_cases"] + 3
