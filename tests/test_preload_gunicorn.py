"""Workers forked from a master that loaded the app (deploy/gunicorn.conf.py, `preload_app`): what
they load, what they share, and that no database connection crosses the fork.

The servers are subprocesses with the shipped config, as production runs it (MAJLIS_ENV=production,
2 sync workers), wrapped by a config of the test's own that adds one hook: after each request a
worker writes the modules it has loaded to a file. On PostgreSQL (TEST_DATABASE_URL) the app's
connections carry an application_name of the test's own, so the server's pg_stat_activity shows
whose they are.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from comment_service import create_app, services
from comment_service.extensions import db
from comment_service.moderation.status import ModerationMode
from comment_service.prefork import forget_inherited_connections
from tests.conftest import TEST_DATABASE_URL, comment_payload, scratch_database
from tests.netfaults import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
# Generous ceilings: today a worker that read a thread holds ~71 MB RSS on SQLite and ~77 MB on
# PostgreSQL, of which ~26 MB are its own (USS) with preload; before this work, 82/90 MB, 64/68 own.
MAX_RSS_MB = 95
MAX_USS_PRELOADED_MB = 45
# Never imported by a process that serves requests: the migration tooling (`flask db` only).
CLI_ONLY = ("alembic", "flask_migrate", "mako", "pygments")

WRAPPER = """
__file__ = {deploy!r}
exec(compile(open(__file__).read(), __file__, "exec"))


def post_request(worker, req, environ, resp):
    import json, os, sys
    path = {out!r} + f"/modules-{{worker.pid}}.json"
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(sorted(sys.modules)))
    os.replace(path + ".tmp", path)  # whole, or not there yet
"""


def _request(port: int, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return sorted(found)


def _memory_mb(pid: int) -> dict[str, float]:
    kb = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        kb[name] = int(value.split()[0])
    return {"rss": kb["Rss"] / 1024, "uss": (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024}


def _tcp_ports_of(pid: int) -> set[int]:
    """The local ports of the TCP sockets process pid holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database with the schema and one site: a SQLite file, or a fresh schema in the PostgreSQL test database
    (its connections named by application_name)."""
    with scratch_database(tmp_path, "pre") as url_text:
        setup = create_app(test_config={"SQLALCHEMY_DATABASE_URI": url_text})
        with setup.app_context():
            db.create_all()
            services.create_site("news", "The News", [], ModerationMode.POST)
            db.session.remove()
            db.engine.dispose()
        yield url_text


@pytest.fixture
def serve(tmp_path: Path, database_url: str) -> Iterator:
    """Start gunicorn with the shipped config (plus the modules hook); stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(**extra_env: str) -> tuple[subprocess.Popen, int, Path]:
        port, out = free_port(), tmp_path / f"out-{len(started)}"
        out.mkdir()
        wrapper = out / "gunicorn.conf.py"
        wrapper.write_text(WRAPPER.format(deploy=str(CONFIG), out=str(out)))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MAJLIS_", "PROMETHEUS_"))},
            "MAJLIS_ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": database_url,
            "PROMETHEUS_MULTIPROC_DIR": str(out / "metrics"), "MAJLIS_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2", "RATELIMIT_STORAGE_URI": f"sqlite:///{out / 'ratelimits.db'}", **extra_env,
        }
        with (out / "stderr.log").open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(wrapper)], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)
        started.append(proc)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (out / "stderr.log").read_text()
            try:
                if _request(port, "/healthz")[0] == 200 and len(_children(proc.pid)) == 2:
                    return proc, port, out
            except OSError:
                pass
            assert time.monotonic() < deadline, (out / "stderr.log").read_text()
            time.sleep(0.2)

    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _until_both_workers_wrote(port: int, out: Path, master: int, path: str) -> list[int]:
    """Send `path` from 8 threads until both workers have written their module lists; their pids."""
    workers = _children(master)
    with ThreadPoolExecutor(8) as pool:
        for _ in range(50):
            assert set(pool.map(lambda _: _request(port, path)[0], range(16))) == {200}
            if all((out / f"modules-{pid}.json").exists() for pid in workers):
                return workers
    raise AssertionError("one worker answered every request")


@pytest.mark.parametrize("preload", ["1", "0"])
def test_a_serving_worker_loads_no_migration_tooling_and_stays_under_its_memory_ceiling(serve, preload):
    proc, port, out = serve(MAJLIS_PRELOAD=preload)
    for i in range(3):  # a thread of a few pages, with a write through the whole pipeline
        status, _ = _request(port, "/api/v1/sites/news/comments", "POST",
                             comment_payload(author_email=f"reader{i}@example.org", body=f"Comment number {i}. " * 10))
        assert status == 201
    workers = _until_both_workers_wrote(port, out, proc.pid, "/api/v1/sites/news/comments?thread=article-42&limit=100")
    for pid in workers:
        modules = json.loads((out / f"modules-{pid}.json").read_text())
        assert "comment_service.api.comments" in modules  # the list is the app's
        loaded = [m for m in modules if m.split(".")[0] in CLI_ONLY]
        assert loaded == [], f"worker {pid} imported {loaded[:5]}"
        mem = _memory_mb(pid)
        assert mem["rss"] < MAX_RSS_MB, mem
        if preload == "1":  # most of its pages are the master's, shared
            assert mem["uss"] < MAX_USS_PRELOADED_MB, mem


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="pg_stat_activity: PostgreSQL")
def test_with_preload_the_master_holds_no_connection_and_each_worker_its_own(serve, database_url):
    proc, port, out = serve(MAJLIS_PRELOAD="1")
    workers = _until_both_workers_wrote(port, out, proc.pid, "/readyz")  # /readyz runs SELECT 1
    name = sa.make_url(database_url).query["application_name"]
    admin = sa.create_engine(TEST_DATABASE_URL)
    with admin.connect() as conn:
        ports = {row[0] for row in conn.execute(
            sa.text("SELECT client_port FROM pg_stat_activity WHERE application_name = :name"), {"name": name})}
    admin.dispose()
    assert not ports & _tcp_ports_of(proc.pid), "the master holds a database connection"
    owners = [{p for p in ports if p in _tcp_ports_of(pid)} for pid in workers]
    assert all(len(own) == 1 for own in owners), owners  # a sync worker: one request, one connection
    assert owners[0] != owners[1]
    assert len(ports) == 2, ports  # and none that no live process owns


def test_create_app_opens_no_database_connection(tmp_path):
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'x.db'}"})
    with app.app_context():
        for engine in db.engines.values():
            assert engine.pool.checkedin() == 0 and engine.pool.checkedout() == 0


def test_a_forked_worker_drops_inherited_connections_without_closing_them(tmp_path):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'fork.db'}"
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": url})
    ident = sa.text("SELECT pg_backend_pid()" if TEST_DATABASE_URL else "SELECT 1")
    with app.app_context():
        with db.engine.connect() as conn:  # the master's: back in the pool after the block
            ours = conn.execute(ident).scalar()
        assert db.engine.pool.checkedin() == 1
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: report what it sees, never return into pytest
            code = 1
            try:
                forget_inherited_connections(app)
                with db.engine.connect() as conn:
                    theirs = conn.execute(ident).scalar()
                os.write(write, json.dumps([db.engine.pool.checkedin(), theirs]).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        report = os.read(read, 1000)
        os.close(read)
        assert status == 0
        checked_in, theirs = json.loads(report)
        assert checked_in == 1  # its own new connection, back in its own pool
        if TEST_DATABASE_URL:
            assert theirs != ours  # another server process: another connection
        with db.engine.connect() as conn:  # the master's connection was left open: it still works
            assert conn.execute(ident).scalar() == ours
        db.engine.dispose()
