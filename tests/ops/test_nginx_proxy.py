"""deploy/nginx in front of gunicorn for real: TLS, the upload limit, static files, and the forwarded
headers the app trusts through ProxyFix (TRUSTED_PROXY_HOPS=1). nginx and gunicorn run on free
loopback ports with a throw-away self-signed certificate."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.notifications.servers import free_port, wait_for
from tests.ops.processes import PROJECT_DIR, Gunicorn, json_lines

# CI installs nginx (.ci/run): there a missing nginx fails the test instead of skipping it.
NGINX_MISSING = (shutil.which("nginx") is None or shutil.which("openssl") is None) and not os.environ.get("CI")

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(NGINX_MISSING,
                                 reason="nginx is not installed (apt-get install nginx-light)")]

DEPLOY = PROJECT_DIR / "deploy"


class Nginx:
    def __init__(self, tmp: Path, upstream_port: int) -> None:
        self.tmp, self.http_port, self.https_port = tmp, free_port(), free_port()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp / "key.pem"),
                        "-out", str(tmp / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        site = (DEPLOY / "nginx" / "sinergi.conf").read_text()
        site = re.sub(r"/etc/letsencrypt/live/[^/]+/fullchain.pem", str(tmp / "cert.pem"), site)
        site = re.sub(r"/etc/letsencrypt/live/[^/]+/privkey.pem", str(tmp / "key.pem"), site)
        site = site.replace("/etc/nginx/sinergi_proxy_params", str(DEPLOY / "nginx" / "sinergi_proxy_params"))
        site = site.replace("/opt/sinergi/app/caseapp/static/", f"{PROJECT_DIR}/caseapp/static/")
        site = site.replace("127.0.0.1:8000", f"127.0.0.1:{upstream_port}")
        site = re.sub(r"listen (\[::\]:)?80;", lambda m: "" if m.group(1) else f"listen 127.0.0.1:{self.http_port};",
                      site)
        site = re.sub(r"listen (\[::\]:)?443 ssl http2;",
                      lambda m: "" if m.group(1) else f"listen 127.0.0.1:{self.https_port} ssl http2;", site)
        (tmp / "site.conf").write_text(site)
        (tmp / "nginx.conf").write_text(
            f"daemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
            f"http {{ access_log off; client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;\n"
            f"  types {{ image/svg+xml svg; text/css css; application/javascript js; }}\n"
            f"  include {tmp}/site.conf; }}\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> Nginx:
        self.process = subprocess.Popen(["nginx", "-c", str(self.tmp / "nginx.conf"), "-p", str(self.tmp)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self._up() or self.process.poll() is not None, timeout=20, message="nginx to listen")
        assert self.process.poll() is None, (self.tmp / "error.log").read_text()
        return self

    def _up(self) -> bool:
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)

    def request(self, method: str, path: str, body: bytes | None = None, tls: bool = True,
                headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
        if tls:
            context = ssl.create_default_context(cafile=str(self.tmp / "cert.pem"))
            connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context, timeout=30)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture
def proxied(app, database_url, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TEST_REDIS_URL"}
    env.update(SINERGI_ENV="testing", TEST_DATABASE_URL=database_url, TRUSTED_PROXY_HOPS="1", LOG_FORMAT="json")
    web = Gunicorn(env, tmp_path / "gunicorn.log", workers=1).start()
    nginx = Nginx(tmp_path, web.port)
    try:
        yield nginx.start(), web
    finally:
        nginx.stop()
        web.stop()


def test_nginx_serves_the_app_over_tls_with_the_forwarded_headers_trusted(proxied):
    nginx, web = proxied
    status, headers, body = nginx.request("GET", "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    # The app saw https (X-Forwarded-Proto through ProxyFix) and so sent HSTS.
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    # nginx's $request_id became the app's correlation id, in the header and in the log line.
    correlation = headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", correlation)
    wait_for(lambda: [line for line in json_lines(web.log()) if line.get("correlation_id") == correlation],
             timeout=10, message="the request line")
    # Directly, without the proxy, the same request is plain http: no HSTS.
    status, headers, _ = web.get("/healthz")
    assert status == 200 and "Strict-Transport-Security" not in headers


def test_plain_http_is_redirected_static_files_come_from_disk_and_big_uploads_stop_at_nginx(proxied):
    nginx, web = proxied
    status, headers, _ = nginx.request("GET", "/cases", tls=False)
    assert status == 301 and headers["Location"].startswith("https://")

    status, headers, body = nginx.request("GET", "/static/favicon.svg")
    assert status == 200 and body == (PROJECT_DIR / "caseapp" / "static" / "favicon.svg").read_bytes()
    assert "X-Request-ID" not in headers  # answered by nginx itself, not proxied

    status, _headers, _body = nginx.request("POST", "/login", body=b"x" * (21 * 1024 * 1024),
                                            headers={"Content-Type": "application/octet-stream"})
    assert status == 413
    assert not [line for line in json_lines(web.log()) if line.get("logger") == "sinergi.request"
                and line.get("method") == "POST"]  # never reached the app
