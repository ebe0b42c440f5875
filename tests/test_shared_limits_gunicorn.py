"""The embedded default rate-limit storage is shared by the workers of one host (issue 9, item 10).

Real gunicorn with two sync workers on a free loopback port, the SQLite storage in a temporary
file, a limit of 5 posts a minute from one address: exactly 5 are stored, whichever worker takes
each request (the access log names the worker, and both are seen to answer).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config import settings
from tests.netfaults import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LIMIT = 5


def test_the_default_storage_is_a_file_shared_by_the_hosts_workers():
    expected = f"sqlite:///{settings.INSTANCE_DIR / 'ratelimits.db'}"
    production = {"SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://x/y"}
    assert settings.DevelopmentConfig({}).RATELIMIT_STORAGE_URI == expected
    assert settings.ProductionConfig(production).RATELIMIT_STORAGE_URI == expected
    assert settings.TestingConfig({}).RATELIMIT_STORAGE_URI == "memory://"
    redis = {"RATELIMIT_STORAGE_URI": "redis://r:6379/0"}
    assert settings.DevelopmentConfig(redis).RATELIMIT_STORAGE_URI == "redis://r:6379/0"


def _post(port: int, n: int) -> int:
    body = json.dumps({"thread": "t", "author_name": "Layla", "author_email": "layla@example.org",
                       "body": f"Comment number {n}."}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/sites/news/comments", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def _workers(log: Path) -> set[str]:
    """The pids of the workers that answered a post (access log lines "pid status request")."""
    return {line.split()[0] for line in log.read_text().splitlines() if "POST /api/v1/sites/news/comments" in line}


@pytest.mark.slow
def test_two_workers_share_one_limit(tmp_path):
    env = {
        **os.environ, "FLASK_APP": "wsgi", "MAJLIS_ENV": "development", "SECRET_KEY": "s" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'majlis.db'}",
        "RATELIMIT_STORAGE_URI": f"sqlite:///{tmp_path / 'ratelimits.db'}",
        "MAJLIS_POST_RATE_LIMIT": f"{LIMIT} per minute",
    }
    for args in (["db", "upgrade"], ["sites", "create", "news", "--name", "News", "--mode", "post"]):
        subprocess.run([BIN / "flask", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    port, log, errors = free_port(), tmp_path / "access.log", tmp_path / "error.log"
    server = subprocess.Popen(
        [BIN / "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--access-logfile", str(log),
         "--access-logformat", "%(p)s %(s)s %(r)s", "--error-logfile", str(errors), "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None, errors.read_text()
                assert time.monotonic() < deadline, "gunicorn did not answer in 60 s"
                time.sleep(0.2)
        statuses = [_post(port, n) for n in range(LIMIT + 2)]
        # More posts until both workers have answered one (the kernel picks which worker accepts).
        n = len(statuses)
        while len(_workers(log)) < 2 and n < 40:
            statuses.append(_post(port, n))
            n += 1
            time.sleep(0.05)
        assert len(_workers(log)) == 2, "one worker took every request; nothing was shown"
        assert statuses == [201] * LIMIT + [429] * (len(statuses) - LIMIT)
    finally:
        server.terminate()
        server.wait(30)
