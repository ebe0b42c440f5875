"""The real worker: `flask worker` in a process of its own, and `make run`'s deploy/run.sh, which
starts it beside gunicorn. Comments that arrive while no worker runs are delivered once one starts;
Ctrl-C stops everything. The queue is huey's SQLite file (the default) or Redis."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook as Verifier

from comment_service import create_app, services
from comment_service.extensions import db
from comment_service.moderation.status import ModerationMode
from comment_service.services.sites import issue_api_key
from tests.conftest import ORIGIN, auth, comment_payload, scratch_database
from tests.netfaults import free_port, redis_db, redis_up
from tests.receiver import receiver

ROOT = Path(__file__).resolve().parents[2]
SECRET = "w" * 40


@pytest.fixture
def jobs_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The queue: huey's SQLite file (the default), or the Redis URL a test is parametrized with."""
    return getattr(request, "param", None) or f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def world(tmp_path: Path, jobs_url: str) -> Iterator[dict]:
    """A database with the schema and a site, a queue, and the environment every process shares."""
    if jobs_url.startswith("redis"):
        from huey import RedisHuey

        RedisHuey("majlis", url=jobs_url).flush()
    with scratch_database(tmp_path, "wrk") as url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MAJLIS_", "PROMETHEUS_"))},
            "MAJLIS_ENV": "production", "SECRET_KEY": SECRET, "DATABASE_URL": url, "FLASK_APP": "wsgi",
            "MAJLIS_JOBS_URL": jobs_url, "MAJLIS_WEBHOOK_ALLOW_PRIVATE": "true",
            "MAJLIS_LOG_FORMAT": "text", "RATELIMIT_STORAGE_URI": "memory://", "MAJLIS_RATELIMIT_ENABLED": "false",
        }
        app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET,
                                      "MAJLIS_JOBS_URL": env["MAJLIS_JOBS_URL"]})
        with app.app_context():
            db.create_all()
            site = services.create_site("news", "The News", [ORIGIN], ModerationMode.POST)
            key = issue_api_key(site)
            db.session.remove()
        yield {"app": app, "env": env, "key": key, "tmp": tmp_path}
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _worker(env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "flask", "worker", "--threads", "2"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen, sig: int = signal.SIGINT, group: bool = False) -> int:
    (os.killpg if group else os.kill)(proc.pid, sig)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def _subscribe(client, key: str, url: str) -> str:
    r = client.post("/api/v1/sites/news/webhooks", headers=auth(key),
                    json={"url": url, "events": ["comment.created", "comment.published"]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["secret"]


@pytest.mark.parametrize("jobs_url", [
    pytest.param(None, id="sqlite"),
    pytest.param(f"redis://127.0.0.1:6379/{redis_db(12)}", id="redis",
                 marks=pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")),
], indirect=True)
def test_comments_posted_while_no_worker_runs_are_delivered_once_it_starts(world):
    app, env = world["app"], world["env"]
    client = app.test_client()
    with receiver() as hook:
        secret = _subscribe(client, world["key"], hook.url)
        posted = [client.post("/api/v1/sites/news/comments", json=comment_payload(), headers={"Origin": ORIGIN})
                  for _ in range(3)]
        assert [r.status_code for r in posted] == [201] * 3  # no worker runs: the posts do not wait for one
        time.sleep(0.5)
        assert hook.got == []
        worker = _worker(env, world["tmp"] / "worker.log")
        try:
            got = hook.wait_for(6, timeout=20)
        finally:
            code = _stop(worker)
        log = (world["tmp"] / "worker.log").read_text()
        assert code == 0, log
        time.sleep(0.3)
        assert len(hook.got) == 6, "each message once"
    ids = {r.get_json()["comment"]["id"] for r in posted}
    assert {json.loads(g.body)["data"]["comment"]["id"] for g in got} == ids
    for message in got:
        Verifier(secret).verify(message.body, message.headers)
    assert "majlis worker: jobs from" in log and "Traceback" not in log
    assert "Executing" not in log, "one line per job is noise: huey's own are off below WARNING"


def test_make_runs_server_and_worker_together_and_ctrl_c_stops_both(world):
    """deploy/run.sh, as `make run` calls it: one command serves and delivers; SIGINT to its process
    group (a terminal's Ctrl-C) stops gunicorn and the worker, and nothing is left running."""
    port = free_port()
    env = {**world["env"], "MAJLIS_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1",
           "MAJLIS_BIN": str(Path(sys.executable).parent),
           "PROMETHEUS_MULTIPROC_DIR": str(world["tmp"] / "metrics")}
    client = world["app"].test_client()
    with receiver() as hook:
        _subscribe(client, world["key"], hook.url)
        log = world["tmp"] / "run.log"
        with log.open("w") as out:
            run = subprocess.Popen([str(ROOT / "deploy" / "run.sh")], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            import http.client

            deadline = time.monotonic() + 30
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("POST", "/api/v1/sites/news/comments", json.dumps(comment_payload()),
                                 {"Content-Type": "application/json", "Origin": ORIGIN})
                    status = conn.getresponse().status
                    break
                except OSError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            assert status == 201
            assert len(hook.wait_for(2, timeout=20)) == 2
        finally:
            code = _stop(run, group=True)
    text = log.read_text()
    assert "Consumer exiting" in text and "Shutting down: Master" in text, text
    assert "Aborted" not in text, "the worker got SIGINT twice: its running jobs were abandoned"
    assert code in (0, 130), text
    leftover = subprocess.run(["pgrep", "-g", str(run.pid)], capture_output=True, text=True).stdout.split()
    assert leftover == [], text
    (worker,) = re.findall(r"Huey consumer started with \d+ thread, PID (\d+)", text)
    assert not Path(f"/proc/{worker}").exists(), "the worker outlived make run"
