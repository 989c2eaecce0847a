"""A real Celery worker process on the real Redis runs a task inside the Flask app context."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery

from config import celery_settings

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration]

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(app, database_url, redis_url, tmp_path):
    env = {
        **os.environ,
        "SINERGI_ENV": "testing",
        "TEST_DATABASE_URL": database_url,
        "TEST_REDIS_URL": redis_url,
    }
    log = (tmp_path / "worker.log").open("w")
    queue = f"test-{os.getpid()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "solo",
         "--queues", queue, "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield queue
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def test_worker_runs_a_task_with_the_app_and_database(worker, redis_url):
    client = Celery("sinergi-test")
    client.config_from_object(celery_settings(redis_url))
    result = client.send_task("core.check_database", queue=worker)
    answer = result.get(timeout=60)
    assert answer == {"dialect": "postgresql", "regions": 51}
