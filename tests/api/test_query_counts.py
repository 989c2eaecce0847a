"""Lists issue a bounded number of SQL statements whatever the page size (no N+1)."""

from __future__ import annotations

from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.extensions import db
from tests.api.test_cases_api import ApiUser
from tests.factories import HouseholdFactory, PersonFactory
from tests.helpers import counting


def test_case_list_query_count_does_not_grow_with_page_size(app, client):
    with app.app_context():
        worker = db.session.scalar(select(User).where(User.email == "worker@sinergi.test"))
        for n in range(60):
            household = PersonFactory(household=HouseholdFactory(), name=f"Warga {n}").household
            ops.create_referral(db.session, actor=worker, household=household, source="OUTREACH", reason="x")
        db.session.commit()
    supervisor = ApiUser(client, "supervisor@sinergi.test")
    counts = {}
    for per_page in (5, 50):
        with counting(app) as statements:
            response = supervisor.get(f"/api/v1/cases?per_page={per_page}")
        assert response.status_code == 200 and len(response.json["items"]) == per_page
        counts[per_page] = len(statements)
    print(f'statements per list request: {counts}')
    assert counts[5] == counts[50], counts
    assert counts[50] <= 8, counts
