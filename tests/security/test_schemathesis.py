"""schemathesis against the app's own OpenAPI document (``/api/v1/openapi.json``), in-process (WSGI).

Every operation gets generated requests (bounded: ``MAX_EXAMPLES`` per operation, deterministic),
sent with a bearer token from ``POST /api/v1/auth/token`` (the social worker, who may use most of
the API; the supervisor for reports). Each response must be no server error (5xx), carry a status
code and content type the document declares, and a body that matches the declared schema. All
writes happen inside the test's rolled-back transaction.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import DEMO_PASSWORD, totp_code

MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]



@pytest.fixture
def bearer(app, session):
    client = app.test_client()

    def token(email: str) -> dict[str, str]:
        body = {"email": email, "password": DEMO_PASSWORD}
        if email.startswith("supervisor"):
            body["totp"] = totp_code()
        response = client.post("/api/v1/auth/token", json=body)
        assert response.status_code == 200, response.json
        return {"Authorization": f"Bearer {response.json['token']}"}

    return {"worker": token("worker@sinergi.test"), "supervisor": token("supervisor@sinergi.test")}


def _runner(operation, headers, calls):
    @given(case=operation.as_strategy())
    # No shrinking: a failure is reported as found (the bound on the run's time matters more here).
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        calls[0] += 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    return run


def test_api_conforms_to_its_openapi_document(app, session, bearer):
    # schemathesis' pytest loader (from_fixture) does not run under pytest 9; drive Hypothesis directly.
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations, failures, calls = 0, [], [0]
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1
        who = "supervisor" if operation.path.startswith("/reports") or "reports" in operation.path else "worker"

        try:
            _runner(operation, bearer[who], calls)()
        except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
            if not isinstance(exc, Exception | BaseExceptionGroup):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}:\n{exc}")
    print(f"\nschemathesis: {operations} operations, {calls[0]} requests; failing operations: {len(failures)}")
    assert operations >= 15
    assert failures == [], "\n\n".join(failures)
