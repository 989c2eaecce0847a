"""The files in deploy/ do what docs/deploy.md says (issue #9)."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import yaml

from caseapp import create_app
from caseapp.extensions import db
from tests.notifications.servers import free_port, wait_for

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT_DIR / "deploy"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read_string((DEPLOY / "systemd" / name).read_text().replace("\\\n", " "))
    return parser


@pytest.mark.parametrize("name", ["sinergi-web.service", "sinergi-worker.service", "sinergi-beat.service",
                                  "sinergi-backup.service"])
def test_each_unit_runs_as_sinergi_with_the_env_file_from_the_checkout(name):
    service = unit(name)["Service"]
    assert service["User"] == "sinergi" and service["EnvironmentFile"] == "/etc/sinergi/sinergi.env"
    assert service["WorkingDirectory"] == "/opt/sinergi/app"
    assert service["ExecStart"].startswith("/opt/sinergi/venv/bin/")


def test_the_units_start_gunicorn_one_worker_kind_and_one_beat():
    assert "gunicorn -c deploy/gunicorn.conf.py wsgi:app" in unit("sinergi-web.service")["Service"]["ExecStart"]
    worker = unit("sinergi-worker.service")["Service"]["ExecStart"]
    assert "celery -A workers.celery_app worker --queues default,notifications" in worker
    beats = [path.name for path in (DEPLOY / "systemd").glob("*.service") if " beat" in
             unit(path.name)["Service"]["ExecStart"]]
    assert beats == ["sinergi-beat.service"]
    # The worker's stop timeout outlasts the task time limit (300 s): warm shutdown finishes tasks.
    assert int(unit("sinergi-worker.service")["Service"]["TimeoutStopSec"]) > 300


def test_nginx_upload_limit_matches_the_app_and_headers_feed_proxyfix(app):
    site = (DEPLOY / "nginx" / "sinergi.conf").read_text()
    [limit] = re.findall(r"client_max_body_size (\d+)m;", site)
    assert int(limit) * 1024 * 1024 == app.config["MAX_CONTENT_LENGTH"]
    params = (DEPLOY / "nginx" / "sinergi_proxy_params").read_text()
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Request-ID"):
        assert f"proxy_set_header {header} " in params
    assert "TRUSTED_PROXY_HOPS=1" in (DEPLOY / "sinergi.env.example").read_text()
    assert "alias /opt/sinergi/app/caseapp/static/;" in site and "ssl_certificate " in site

# CI installs nginx (.ci/run): there a missing nginx fails the test instead of skipping it.
NGINX_MISSING = (shutil.which("nginx") is None or shutil.which("openssl") is None) and not os.environ.get("CI")


@pytest.mark.skipif(NGINX_MISSING,
                    reason="nginx is not installed (apt-get install nginx-light)")
def test_nginx_accepts_the_site(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem"), "-days", "1", "-subj", "/CN=sinergi.test"],
                   check=True, capture_output=True)
    site = (DEPLOY / "nginx" / "sinergi.conf").read_text()
    site = re.sub(r"/etc/letsencrypt/live/[^/]+/fullchain.pem", str(tmp_path / "cert.pem"), site)
    site = re.sub(r"/etc/letsencrypt/live/[^/]+/privkey.pem", str(tmp_path / "key.pem"), site)
    site = site.replace("/etc/nginx/sinergi_proxy_params", str(DEPLOY / "nginx" / "sinergi_proxy_params"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; include {tmp_path}/site.conf; }}\n")
    result = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_redis_broker_configuration_persists_and_never_evicts(tmp_path):
    port = free_port()
    process = subprocess.Popen(["redis-server", str(DEPLOY / "redis" / "sinergi-redis.conf"), "--port", str(port),
                                "--bind", "127.0.0.1", "--dir", str(tmp_path), "--logfile", str(tmp_path / "r.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    try:
        def ping():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait_for(ping, timeout=10, message="redis-server with the deploy configuration")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert int(client.config_get("maxmemory")["maxmemory"]) > 0
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_docker_compose_runs_migrations_first_and_one_beat():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "migrate", "web", "worker", "beat"}
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["migrate"]["command"][-2:] == ["db", "upgrade"]
    assert "/usr/local/etc/redis/redis.conf" in services["redis"]["command"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "postgresql-client" in dockerfile and "deploy/gunicorn.conf.py" in dockerfile


def test_every_environment_variable_of_config_is_documented():
    names = set(re.findall(r'_env\("([A-Z_]+)"', (PROJECT_DIR / "config.py").read_text()))
    names -= {"TEST_DATABASE_URL", "TEST_REDIS_URL"}  # the test suite's, not an operator's
    names |= {"SINERGI_INSTANCE", "ALLOW_UNSAFE_MIGRATIONS"}
    documented = (PROJECT_DIR / "docs" / "deploy.md").read_text()
    missing = sorted(name for name in names if name not in documented
                     and not (name.startswith("NOTIFY_") and "NOTIFY_*" in documented))
    assert missing == []


def test_the_sinergi_flask_wrapper_reads_the_env_file_without_shell_expansion(tmp_path, database_url):
    env_file = tmp_path / "sinergi.env"
    env_file.write_text(f"# comment\nSINERGI_ENV=testing\nTEST_DATABASE_URL={database_url}\n"
                        "MAIL_FROM=Sinergi <sinergi@kedirikota.test> $HOME `id`\n")
    result = subprocess.run(
        ["sh", str(DEPLOY / "sinergi-flask"), "shell"],
        input="from flask import current_app; print(repr(current_app.config['MAIL_FROM']))\n",
        env={"PATH": "/usr/bin:/bin", "SINERGI_ENV_FILE": str(env_file), "SINERGI_APP_DIR": str(PROJECT_DIR),
             "SINERGI_VENV": str(Path(sys.executable).parent.parent)},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "'Sinergi <sinergi@kedirikota.test> $HOME `id`'" in result.stdout


def test_the_gunicorn_configuration_loads(database_url):
    namespace: dict = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    assert namespace["accesslog"] is None and namespace["bind"].startswith("127.0.0.1:")
    formatter = namespace["logconfig_dict"]["formatters"]["sinergi"]["()"]
    assert formatter.startswith("caseapp.core.logging.")
    app = create_app("testing")  # the formatter classes it names exist
    with app.app_context():
        db.engine.dispose()
