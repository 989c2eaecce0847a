"""Headers and error pages: what every response carries, and errors that help without leaking."""

from __future__ import annotations

from caseapp.core import http
from tests.helpers import login


def test_security_headers_on_pages(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Request-ID"]


def test_no_inline_scripts_or_styles_in_pages(client):
    login(client, "worker@sinergi.test")
    html = client.get("/").text
    assert "<script>" not in html and "style=" not in html and "<style" not in html


def test_404_page_is_generic_with_a_correlation_id(client):
    login(client, "worker@sinergi.test")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] in response.text
    assert "Traceback" not in response.text


def test_api_404_is_json_in_the_error_shape(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert set(response.json) >= {"error", "message", "fields"}


def test_server_error_shows_no_internals(app):
    # The catch-all handler is installed outside testing only (tests want tracebacks); call it directly.
    with app.test_request_context("/"):
        body, status = http._handle_unexpected(RuntimeError("SELECT secret FROM users"))
    assert status == 500
    assert "SELECT" not in body and "RuntimeError" not in body
    assert "Terjadi kesalahan di server" in body
