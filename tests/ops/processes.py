"""Real processes for the operations tests: gunicorn serving wsgi:app with deploy/gunicorn.conf.py.

The notification stack (tests/notifications/integration.py) gives its own redis-server on a free
port, the Celery worker and the cleanup; :class:`Gunicorn` adds the web server on another free
loopback port, with its output captured in a file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.notifications.servers import free_port, wait_for

PROJECT_DIR = Path(__file__).resolve().parents[2]


class Gunicorn:
    def __init__(self, env: dict[str, str], log: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.log_path = log
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": str(workers)}
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        with self.log_path.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                cwd=PROJECT_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self._up() or self.process.poll() is not None, timeout=60, message="gunicorn to serve")
        assert self.process.poll() is None, self.log()[-3000:]
        return self

    def _up(self) -> bool:
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def request(self, method: str, path: str, body: dict | None = None,
                headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode() if body is not None else None
        content = {"Content-Type": "application/json"} if data else {}
        request = urllib.request.Request(self.base + path, data=data, method=method,  # noqa: S310 - loopback
                                         headers={**content, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def get(self, path: str, headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, headers=headers)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


def json_lines(text: str) -> list[dict]:
    """The log lines that are JSON objects (a worker also prints Celery's banner as plain text)."""
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines
