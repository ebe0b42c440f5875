"""Metrics and logs under a real gunicorn with two sync workers, as production runs it (MAJLIS_ENV=production).

The server is a subprocess on a free loopback port with the shipped deploy/gunicorn.conf.py (its
hooks metrics.on_starting and metrics.child_exit, its JSON logconfig) and PROMETHEUS_MULTIPROC_DIR in a
temporary directory. The database is a SQLite
file: what is tested here is the processes, not the database.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from comment_service import create_app, services
from comment_service.extensions import db
from comment_service.moderation.status import ModerationMode
from tests.conftest import ORIGIN, comment_payload
from tests.netfaults import free_port
from tests.test_privacy import EMAILS, email_forms, ip_forms

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "metrics-token-for-the-test"
FORWARDED_IP = "203.0.113.77"
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"



@dataclass
class Gunicorn:
    proc: subprocess.Popen
    port: int
    stderr_path: Path

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            hdrs = {"Content-Type": "application/json"} if data else {}
            conn.request(method, path, body=data, headers={**hdrs, **(headers or {})})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read().decode()
        finally:
            conn.close()

    def scrape(self) -> dict:
        status, headers, text = self.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200, text
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def lines(self) -> list[str]:
        return self.stderr_path.read_text().splitlines()

    def workers(self) -> set[int]:
        """The master's children: its workers."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                found.add(int(stat.parent.name))
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def healthz_count(scraped: dict) -> float:
    return scraped.get(
        ("majlis_http_requests_total", (("endpoint", "ops.healthz"), ("method", "GET"), ("status", "200"))), 0.0
    )


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """Start gunicorn (the same multiprocess directory every time in a test); stopped at the end."""
    db_url = f"sqlite:///{tmp_path / 'majlis.db'}"
    setup = create_app(test_config={"SQLALCHEMY_DATABASE_URI": db_url})
    with setup.app_context():
        db.create_all()
        services.create_site("news", "The News", [ORIGIN], ModerationMode.PRE)
        db.session.remove()
        db.engine.dispose()
    multiproc = tmp_path / "metrics"
    started: list[Gunicorn] = []

    def start() -> Gunicorn:
        port = free_port()
        stderr_path = tmp_path / f"stderr-{port}.log"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MAJLIS_", "PROMETHEUS_"))},
            "MAJLIS_ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": db_url,
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "MAJLIS_METRICS_TOKEN": TOKEN,
            "MAJLIS_TRUSTED_PROXIES": "1", "MAJLIS_POST_RATE_LIMIT": "2 per minute",
            "MAJLIS_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "MAJLIS_WORKER_TIMEOUT": "60",
            "RATELIMIT_STORAGE_URI": f"sqlite:///{tmp_path / 'ratelimits.db'}",
        }
        with stderr_path.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(CONFIG)],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
            )
        server = Gunicorn(proc, port, stderr_path)
        started.append(server)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, stderr_path.read_text()
            try:
                if server.request("GET", "/readyz")[0] == 200 and len(server.workers()) == 2:
                    return server
            except OSError:
                pass
            assert time.monotonic() < deadline, stderr_path.read_text()
            time.sleep(0.2)

    yield start
    for server in started:
        server.stop()


def _hit_until_both_workers_served(server: Gunicorn) -> int:
    """GET /healthz from 8 threads until the access lines show both workers answered; how many were sent."""
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        while sent < 2000:
            statuses = list(pool.map(lambda _: server.request("GET", "/healthz")[0], range(40)))
            assert statuses == [200] * 40
            sent += 40
            pids = {line["pid"] for line in map(json.loads, server.lines())
                    if line.get("logger") == "comment_service.access" and line.get("path") == "/healthz"}
            if len(pids) == 2:
                return sent
    raise AssertionError("one worker answered every request")


def test_one_scrape_sums_both_workers_and_a_restart_starts_from_zero(serve):
    server = serve()
    warmup = server.scrape()  # /readyz probes only so far
    assert healthz_count(warmup) == 0
    sent = _hit_until_both_workers_served(server)
    # Each scrape is answered by one worker; whichever it is, it reports both workers' answers.
    # Scrapes go four at a time: one after another, a preloaded gunicorn may hand all of them to
    # the same worker (whichever wakes first).
    scrape_pids, totals = set(), set()
    with ThreadPoolExecutor(4) as pool:
        for _ in range(40):
            totals.update(pool.map(lambda _: healthz_count(server.scrape()), range(4)))
            scrape_pids = {line["pid"] for line in map(json.loads, server.lines())
                           if line.get("logger") == "comment_service.access" and line.get("path") == "/metrics"}
            if len(scrape_pids) == 2:
                break
    assert totals == {sent}, (totals, sent)
    assert len(scrape_pids) == 2
    # The queue gauge is read from the database at scrape time.
    status, headers, _ = server.request("POST", "/api/v1/sites/news/comments",
                                        comment_payload(author_email=EMAILS[0]), {"X-Forwarded-For": FORWARDED_IP})
    assert status == 201
    assert server.scrape()[("majlis_queue_pending", (("site", "news"),))] == 1

    server.stop()
    again = serve()
    assert healthz_count(again.scrape()) == 0  # on_starting emptied the directory: no counts from the last run


def test_production_logs_are_json_lines_with_request_ids_and_no_address(serve):
    server = serve()
    status, headers, _ = server.request("GET", "/healthz", headers={"X-Request-ID": "lb-abc.123"})
    assert status == 200 and headers["X-Request-ID"] == "lb-abc.123"
    for i, email in enumerate([*EMAILS, EMAILS[0]]):  # the fourth from one address is over the limit
        status, headers, body = server.request(
            "POST", "/api/v1/sites/news/comments", comment_payload(author_email=email, author_name=f"R{i}"),
            {"X-Forwarded-For": FORWARDED_IP, "X-Request-ID": f"post-{i}"},
        )
        assert status in (201, 429) and headers["X-Request-ID"] == f"post-{i}"
    status, headers, _ = server.request("GET", f"/api/v1/sites/news/comments/{EMAILS[0]}")
    assert status == 404 and len(headers["X-Request-ID"]) == 32
    server.stop()

    lines = server.lines()
    parsed = [json.loads(line) for line in lines]  # every line, gunicorn's own included, is JSON
    assert any(p["logger"] == "gunicorn.error" and "Booting worker" in p["message"] for p in parsed)
    access = [p for p in parsed if p["logger"] == "comment_service.access"]
    assert {"lb-abc.123", "post-0", "post-3"} <= {p["request_id"] for p in access}
    assert all(p["request_id"] and p["status"] and "duration_ms" in p for p in access)
    text = "\n".join(lines)
    for email in EMAILS:
        for form in email_forms(email):
            assert form not in text, f"{form!r} in the log"
    for form in ip_forms(FORWARDED_IP) | ip_forms("127.0.0.1"):
        assert form not in text, f"{form!r} in the log"


def test_a_killed_worker_leaves_no_request_in_progress_behind(serve):
    server = serve()
    in_progress = ("majlis_http_requests_in_progress", ())
    assert server.scrape()[in_progress] == 1  # the scrape itself
    _hit_until_both_workers_served(server)
    counted = healthz_count(server.scrape())
    # A client that sends its headers and then stalls in the body: one worker is inside the request.
    stalled = socket.create_connection(("127.0.0.1", server.port))
    stalled.sendall(b"POST /api/v1/sites/news/comments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{\"thread\": ")
    deadline = time.monotonic() + 10
    while server.scrape()[in_progress] != 2:
        assert time.monotonic() < deadline, "the stalled request never showed as in progress"
        time.sleep(0.1)
    old = server.workers()
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    stalled.close()
    deadline = time.monotonic() + 30
    while not (len(server.workers()) == 2 and not server.workers() & old):
        assert time.monotonic() < deadline, server.stderr_path.read_text()
        time.sleep(0.2)
    after = server.scrape()
    assert after[in_progress] == 1  # child_exit forgot the dead workers' gauges (else 2)
    assert healthz_count(after) == counted  # ...and kept their counts
