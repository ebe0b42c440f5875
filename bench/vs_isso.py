"""Majlis beside Isso 0.14 in the same run: server CPU per request, req/s and worker memory.

Installs Isso 0.14.x from PyPI into bench/.work/isso-venv (kept and reused), seeds the same
threads into both (Isso through its own HTTP API, Majlis through its services), starts three
gunicorns with the same flags (Isso, Majlis `wsgi:app` in production with rate limits on in
Redis, and bench/hello_app.py) on loopback ports, and runs wrk against them in turns. The number
that matters is the CPU the gunicorn workers spend per answered request (from /proc), which
holds still on a shared machine where req/s does not. See bench/README.md.

    .venv/bin/python bench/vs_isso.py --duration 10 --rounds 2 [--database-url URL] [--json] [--check]
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.read_thread import NAMES, body_for, ensure_wrk, log, parse_wrk  # noqa: E402

BIN = Path(sys.executable).parent
WORK = ROOT / "bench" / ".work"
ISSO_VENV = WORK / "isso-venv"
ISSO_SPEC = "isso>=0.14,<0.15"
SLUG = "bench"
READ_KEY, BIG_KEY = "article-1", "article-big"
COUNT_KEYS = [f"count-{i:02d}" for i in range(20)]
POST_THREADS = 50  # posts rotate over this many threads (the first post of each creates it)
BIG_SIZE, PAGE = 1000, 200  # the 1,000-comment thread; Majlis pages it 200 at a time, as the widget does
CLK = os.sysconf("SC_CLK_TCK")
# The bench site's word lists: none of them occurs in the bench texts, so every post is matched
# against both lists (the banned list first) and published.
BANNED_WORDS = ["casino", "viagra", "كازينو", "قمار", "crypto-pump", "escort", "رهان", "loan-shark"]
SUSPECT_WORDS = ["idiot", "stupid", "غبي", "أحمق", "liar", "كاذب", "scam", "احتيال"]
# Majlis's targets of issue 10, item 9: the ratio of server CPU per request.
TARGETS = {"post": 0.67, "counts": 1.0, "read": 1.6}
RSS_TARGET_MB = 60.0
SCENARIOS = {"read": "read a 100-comment thread", "post": "post a comment, every rule and the rate limit on",
             "counts": "counts for 20 threads"}


def parse_args() -> argparse.Namespace:
    """Read the command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=16, help="wrk connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--rounds", type=int, default=2, help="rounds per scenario, servers interleaved in each")
    p.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured wrk per server and scenario")
    p.add_argument("--rss-seconds", type=int, default=6, help="seconds of 1,000-comment reads before reading RSS")
    p.add_argument("--database-url", help="PostgreSQL URL for Majlis (a fresh schema, dropped after); "
                   "default: temp SQLite. Isso always uses SQLite, its only database.")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="Majlis's rate-limit store")
    p.add_argument("--hold-first-time", action="store_true",
                   help="also hold first-time authors (every bench post is from a new author, so all are held)")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    p.add_argument("--check", action="store_true", help="exit 0 only when every target of the issue is met")
    return p.parse_args()


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """utime + stime of a process in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (/proc/<pid>/status) and Pss (/proc/<pid>/smaps_rollup) of a process, in MB."""
    out: dict[str, float] = {}
    for name, key, out_key in (("status", "VmRSS:", "rss_mb"), ("smaps_rollup", "Pss:", "pss_mb")):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(key):
                    out[out_key] = round(int(line.split()[1]) / 1024, 1)
                    break
    return out


@dataclass
class Server:
    """One gunicorn (its own process group) and what the bench knows about it."""

    name: str
    label: str
    proc: subprocess.Popen
    base: str
    log_path: Path
    next_ip: int = 0  # the next client address index this server's posts use (see client_ip)
    ext_cpu: Callable[[], float] = field(default=lambda: 0.0)  # CPU outside the workers (database, Redis)

    def workers(self) -> list[int]:
        """The pids of the master's worker processes."""
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            return sorted(int(k) for k in kids)
        except OSError:
            return []

    def cpu(self, pids: list[int]) -> float:
        return sum(proc_cpu(p) for p in pids)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until the workers stop using CPU (requests still queued when wrk stopped are done)."""
        pids, deadline, quiet = self.workers(), time.monotonic() + timeout, 0
        last = self.cpu(pids)
        while quiet < 2 and time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.cpu(pids)
            quiet, last = (quiet + 1 if now == last else 0), now

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        return ""


def start_gunicorn(name: str, label: str, gunicorn: Path, target: str, env: dict[str, str], chdir: Path,
                   tmp: Path) -> Server:
    """gunicorn with the flags every target gets: 2 sync workers, --log-level warning, no access log."""
    port = free_port()
    cmd = [str(gunicorn), "--workers", "2", "--worker-class", "sync", "--log-level", "warning",
           "--bind", f"127.0.0.1:{port}", "--chdir", str(chdir), target]
    log_path = tmp / f"{name}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=chdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return Server(name, label, proc, f"http://127.0.0.1:{port}", log_path)


def stop(server: Server) -> None:
    """SIGTERM to the server's process group, SIGKILL to whatever is left after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(5)


def request(url: str, method: str = "GET", body: object = None, headers: dict[str, str] | None = None,
            timeout: float = 60.0) -> tuple[int, bytes]:
    """One HTTP request; returns status and body (error statuses included)."""
    data = None if body is None else json.dumps(body).encode()
    hdrs = {**({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, hdrs, method=method), timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(server: Server, path: str, timeout: float = 60.0) -> None:
    """Poll until the server answers 200 on path; fail with its log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while server.proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if request(server.base + path, timeout=5)[0] == 200:
                if len(server.workers()) == 2:
                    return
        time.sleep(0.2)
    raise SystemExit(f"bench failed: {server.label} did not answer {path} in {timeout:.0f} s "
                     f"(gunicorn status {server.proc.returncode}):\n{server.log_tail()}")


def client_ip(i: int) -> str:
    """The i-th client address (sent as X-Forwarded-For): each i < 65,536 has a /24 of its own, so
    neither Isso's per-/24 guard nor Majlis's per-address limit ever sees the same client twice."""
    return f"10.{i >> 8 & 255}.{i & 255}.{1 + (i >> 16) % 254}"


# --- Isso -----------------------------------------------------------------------------------


def ensure_isso() -> tuple[Path, str]:
    """The Isso venv (created, or reused when it has Isso 0.14.x and our gunicorn) and Isso's version."""
    gunicorn_version = importlib.metadata.version("gunicorn")
    python = ISSO_VENV / "bin" / "python"
    probe = "import importlib.metadata as m, isso; print(m.version('isso'), m.version('gunicorn'))"
    if python.exists():
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
        if done.returncode == 0 and (v := done.stdout.split()) and v[0].startswith("0.14.") \
                and v[1] == gunicorn_version:
            return ISSO_VENV, v[0]
        log(f"rebuilding {ISSO_VENV} (found: {done.stdout.strip() or done.stderr.strip()[-200:]})")
    log(f"installing {ISSO_SPEC} and gunicorn=={gunicorn_version} into {ISSO_VENV}")
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(ISSO_VENV)], check=True, capture_output=True)
    pip = subprocess.run([str(ISSO_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                          ISSO_SPEC, f"gunicorn=={gunicorn_version}"], capture_output=True, text=True, check=False)
    if pip.returncode != 0:
        raise SystemExit(f"bench failed: pip could not install {ISSO_SPEC}:\n{pip.stderr[-3000:]}")
    done = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('isso'))"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench failed: Isso installed but does not import:\n{done.stderr[-3000:]}")
    return ISSO_VENV, done.stdout.strip()


def isso_config(tmp: Path, origin: str) -> Path:
    """Isso's settings for the bench: its own SQLite in the temp dir, moderation off, the guard on
    with its defaults, one trusted proxy hop, no notifications (Majlis logs nothing per request either)."""
    path = tmp / "isso.cfg"
    path.write_text(f"""[general]
dbpath = {tmp / 'isso.db'}
host = {origin}
max-age = 15m
notify =
reply-notifications = false
gravatar = false
latest-enabled = false

[moderation]
enabled = false

[server]
trusted-proxies = 127.0.0.1

[guard]
enabled = true
ratelimit = 2
direct-reply = 3
reply-to-self = false
require-author = false
require-email = false

[hash]
salt = {secrets.token_hex(12)}
algorithm = pbkdf2
""")
    return path


def isso_post_body(i: int, n: int, uri_title: str, parent: int | None = None) -> dict:
    """Isso's widget's payload for the i-th comment of a thread, the n-th of the seed."""
    return {"text": f"{body_for(i)} #{n}", "author": NAMES[i % len(NAMES)], "email": f"seed{n}@example.org",
            "website": None, "parent": parent, "title": uri_title, "notification": 0}


def seed_isso(isso: Server, origin: str, threads: list[tuple[str, int]]) -> None:
    """Post the bench threads through Isso's API, each comment from a client of its own."""
    for key, size in threads:
        ids: list[int] = []
        uri = urllib.parse.quote("/" + key, safe="")
        for i in range(size):
            parent = ids[i // 2] if i % 4 == 3 else None
            headers = {"Origin": origin, "X-Forwarded-For": client_ip(isso.next_ip)}
            doc = isso_post_body(i, isso.next_ip, key, parent)
            isso.next_ip += 1
            status, body = request(f"{isso.base}/new?uri={uri}", "POST", doc, headers)
            if status != 201:
                raise SystemExit(f"bench failed: seeding Isso ({key} #{i}) answered {status}: {body[:300]!r}\n"
                                 f"{isso.log_tail()}")
            ids.append(json.loads(body)["id"])


def isso_rows(tmp: Path) -> int:
    with contextlib.closing(sqlite3.connect(tmp / "isso.db")) as con:
        return con.execute("SELECT count(*) FROM comments").fetchone()[0]


# --- Majlis ---------------------------------------------------------------------------------


def prepare_database(url: str | None, tmp: Path, app_name: str) -> tuple[str, Callable[[], None], object]:
    """DATABASE_URL (temp SQLite, or a fresh PostgreSQL schema whose connections carry app_name), the
    function that drops it, and an engine of the bench's own on it."""
    import sqlalchemy as sa

    from config.settings import normalise_database_url

    if url is None:
        db_url = f"sqlite:///{tmp / 'majlis.db'}"
        return db_url, lambda: None, sa.create_engine(db_url)
    target = sa.make_url(normalise_database_url(url))
    if target.get_backend_name() != "postgresql" or target.host not in {None, "127.0.0.1", "localhost", "::1"}:
        raise SystemExit("bench failed: --database-url must be a local PostgreSQL (leave it out for temp SQLite)")
    engine, schema = sa.create_engine(target), f"bench_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    bench_engine = sa.create_engine(target.update_query_dict({"options": f"-csearch_path={schema}"}))

    def drop() -> None:
        bench_engine.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    app_url = target.update_query_dict({"options": f"-csearch_path={schema}", "application_name": app_name})
    return app_url.render_as_string(hide_password=False), drop, bench_engine


def seed_majlis(origin: str, threads: list[tuple[str, int]], hold_first_time: bool) -> None:
    """The bench site with every rule configured, a few bans, and the threads, in-process."""
    from comment_service import create_app, services
    from comment_service.extensions import db
    from comment_service.moderation.status import ModerationMode
    from comment_service.services.ban_admin import create_ban
    from comment_service.services.sites import update_settings

    app = create_app(env="production")
    with app.app_context():
        site = services.create_site(SLUG, "Bench", [origin], ModerationMode.POST)
        update_settings(site, {"banned_words": BANNED_WORDS, "suspect_words": SUSPECT_WORDS, "link_limit": 2,
                               "hold_first_time": hold_first_time})
        for kind, value in (("email", "spammer@bad.example"), ("domain", "spam.example"), ("ip", "192.0.2.0/24")):
            create_ban(site, kind, value, reason="bench", expires_at=None, expires_in_days=None,
                       reject_existing=False, actor="bench")
        n = 0
        for key, size in threads:
            ids: list[int] = []
            for i in range(size):
                data = {"thread": key, "thread_title": key, "thread_url": f"{origin}/{key}", "author_url": None,
                        "parent_id": ids[i // 2] if i % 4 == 3 else None, "author_name": NAMES[i % len(NAMES)],
                        "author_email": f"seed{n}@example.org", "body": f"{body_for(i)} #{n}", "company": ""}
                comment = services.submit_comment(site, data, client_ip(60000 + n % 5000)).comment
                n += 1
                if comment["status"] not in ("published", "approved") and not hold_first_time:
                    raise SystemExit(f"bench failed: seed comment {key} #{i} was held")
                ids.append(comment["id"])
        db.engine.dispose()


def majlis_rows(engine) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM comment")).scalar_one()


def pg_backend_cpu(engine, app_name: str) -> Callable[[], float]:
    """CPU of the PostgreSQL backends serving Majlis (by application_name); backends that appear
    between two calls count from zero, as they started since."""
    import sqlalchemy as sa

    def cpu() -> float:
        with engine.connect() as conn:
            pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                                {"n": app_name}).scalars().all()
        return sum(proc_cpu(p) for p in pids)

    return cpu


def redis_cpu(client) -> Callable[[], float]:
    """CPU of the whole Redis server (it may serve others too: indicative only)."""
    def cpu() -> float:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    return cpu


# --- wrk scripts ----------------------------------------------------------------------------


def lua_str(text: str) -> str:
    """A Lua long string holding text exactly."""
    level = 1  # never [[...]]: a text ending in "]" would close it early (and `t[[[k]]]` is a call)
    while f"]{'=' * level}]" in text + "]":
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def lua_template(text: str) -> str:
    """A Lua expression of text where the markers @I@ and @K@ become the variables i and k."""
    out: list[str] = []
    for n, piece in enumerate(text.split("@I@")):
        if n:
            out.append("i")
        for m, part in enumerate(piece.split("@K@")):
            if m:
                out.append("k")
            if part:
                out.append(lua_str(part))
    return " .. ".join(out) or '""'


def static_script(tmp: Path, name: str, method: str, path: str, headers: dict[str, str], body: str | None) -> Path:
    """A wrk script sending the same request every time."""
    lines = [f"wrk.method = {lua_str(method)}", f"wrk.path = {lua_str(path)}"]
    lines += [f"wrk.headers[ {lua_str(k)} ] = {lua_str(v)}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {lua_str(body)}")
    script = tmp / f"{name}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def cycle_script(tmp: Path, name: str, paths: list[str], headers: dict[str, str]) -> Path:
    """A wrk script that GETs the paths in turn (the pages of a thread)."""
    hdrs = ", ".join(f"[ {lua_str(k)} ] = {lua_str(v)}" for k, v in headers.items())
    script = tmp / f"{name}.lua"
    script.write_text(f"""local paths = {{{", ".join(lua_str(p) for p in paths)}}}
local headers = {{{hdrs}}}
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", paths[(n - 1) % #paths + 1], headers)
end
""")
    return script


def post_script(tmp: Path, name: str, path: str, headers: dict[str, str], bodies: list[str], nonce: str) -> Path:
    """A wrk script posting a new comment each time: request i (counted over the wrk run's threads
    from BENCH_BASE) has its own text, author email and client address (X-Forwarded-For), goes to
    thread k = i mod POST_THREADS, and Majlis's gets its own Idempotency-Key as the widget sends."""
    hdrs = ", ".join(f"[ {lua_str(k)} ] = {lua_str(v)}" for k, v in headers.items())
    funcs = ",\n  ".join(f"function(i, k) return {lua_template(b)} end" for b in bodies)
    script = tmp / f"{name}.lua"
    script.write_text(f"""local base = tonumber(os.getenv("BENCH_BASE") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local bodies = {{
  {funcs}
}}
local made = 0
function setup(thread)
  thread:set("tid", made)
  made = made + 1
end
local n = 0
function request()
  local i = base + tid + nthreads * n
  n = n + 1
  local k = i % {POST_THREADS}
  local headers = {{{hdrs}}}
  headers["X-Forwarded-For"] = "10." .. (math.floor(i / 256) % 256) .. "." .. (i % 256) .. "."
    .. (1 + math.floor(i / 65536) % 254)
  headers["Idempotency-Key"] = {lua_str(nonce)} .. "-" .. i
  return wrk.format("POST", {lua_template(path)}, headers, bodies[i % #bodies + 1](i, k))
end
""")
    return script


def post_bodies(kind: str, origin: str) -> list[str]:
    """Six request bodies (Arabic and English, 250-350 characters of text) with @I@ and @K@ markers."""
    out = []
    for t in range(6):
        text = body_for(t) + " #@I@"
        if kind == "isso":
            doc = {"text": text, "author": NAMES[t], "email": "reader@I@@example.org", "website": None,
                   "parent": None, "title": "Post @K@", "notification": 0}
        else:  # the widget's payload (embed.js)
            doc = {"thread": "post-@K@", "thread_title": "Post @K@", "thread_url": f"{origin}/post-@K@",
                   "parent_id": None, "author_name": NAMES[t], "author_email": "reader@I@@example.org",
                   "author_url": None, "body": text, "company": ""}
        out.append(json.dumps(doc, ensure_ascii=False))
    return out


# --- measuring ------------------------------------------------------------------------------

SHOW_BAD = """
local shown = false
function response(status, headers, body)
  if (status < 200 or status > 299) and not shown then
    shown = true
    io.stderr:write("BAD " .. status .. " " .. string.sub(body or "", 1, 400) .. "\\n")
  end
end
"""


def check_script(wrk: str, server: Server, script: Path, path: str) -> None:
    """One second of the script on one connection, failing with the first answer that is not 2xx."""
    probe = script.with_suffix(".check.lua")
    probe.write_text(script.read_text() + SHOW_BAD)
    env = {**os.environ, "BENCH_BASE": str(server.next_ip), "BENCH_THREADS": "1"}
    cmd = [wrk, "-t1", "-c1", "-d1s", "--timeout", "60s", "--latency", "-s", str(probe), server.base + path]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    server.next_ip += parse_wrk(done.stdout)["requests"] + 64 if done.returncode == 0 else 0
    # wrk runs its default request when the script does not load, so anything on stderr fails the check.
    if done.returncode != 0 or done.stderr.strip():
        bad = [line for line in done.stderr.splitlines() if line.startswith("BAD ")]
        raise SystemExit(f"bench failed: {script.name} on {server.label}: "
                         f"{bad[0] if bad else done.stderr or done.stdout}")
    server.wait_idle()


def run_wrk(wrk: str, server: Server, script: Path, args: argparse.Namespace, duration: int,
            connections: int | None = None, path: str = "/", rows: Callable[[], int] | None = None) -> dict:
    """One wrk run; the workers' CPU (and the database's and Redis's) before and after it."""
    conns = connections or args.connections
    threads = min(args.threads, conns)
    env = {**os.environ, "BENCH_BASE": str(server.next_ip), "BENCH_THREADS": str(threads)}
    cmd = [wrk, f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "60s", "--latency", "-s", str(script),
           server.base + path]
    pids = server.workers()
    rows0 = rows() if rows else None
    cpu0, ext0, t0 = server.cpu(pids), server.ext_cpu(), time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    cpu1, ext1, wall = server.cpu(pids), server.ext_cpu(), time.monotonic() - t0
    if done.returncode != 0:
        raise SystemExit(f"bench failed: wrk exited with {done.returncode}: {done.stderr or done.stdout}")
    res = parse_wrk(done.stdout)
    server.next_ip += res["requests"] + 4 * conns + 64  # the requests wrk sent but did not count, and then some
    server.wait_idle()
    n = max(res["requests"], 1)
    res.update(cpu_ms=round((cpu1 - cpu0) * 1000 / n, 4), ext_cpu_ms=round((ext1 - ext0) * 1000 / n, 4),
               cpu_share=round((cpu1 - cpu0) / wall, 3), workers_same=pids == server.workers())
    if rows is not None:
        res["stored"] = rows() - rows0
    return res


@dataclass
class Bench:
    args: argparse.Namespace
    wrk: str
    servers: dict[str, Server]
    scripts: dict[tuple[str, str], tuple[Path, str]]  # (server, scenario) -> (script, path)
    rows: dict[str, Callable[[], int]]
    runs: dict[str, dict[str, list[dict]]] = field(default_factory=dict)

    def measure(self, scenario: str, names: list[str]) -> None:
        for name in names:  # warm-up: imports, compiled statements, caches; not measured
            if self.args.warmup > 0:
                script, path = self.scripts[(name, scenario)]
                run_wrk(self.wrk, self.servers[name], script, self.args, self.args.warmup, path=path)
        for r in range(self.args.rounds):
            for name in names:
                log(f"{scenario} round {r + 1}/{self.args.rounds}: {self.servers[name].label}")
                script, path = self.scripts[(name, scenario)]
                rows = self.rows.get(name) if scenario == "post" else None
                res = run_wrk(self.wrk, self.servers[name], script, self.args, self.args.duration, path=path,
                              rows=rows)
                self.runs.setdefault(scenario, {}).setdefault(name, []).append(res)


def memory_after_big_read(bench: Bench, names: list[str]) -> dict[str, dict]:
    """Read the 1,000-comment thread (hello: GET /) for --rss-seconds, then each worker's RSS and PSS."""
    out = {}
    for name in names:
        server = bench.servers[name]
        script, path = bench.scripts[(name, "big")]
        log(f"memory: 1,000-comment reads on {server.label}")
        res = run_wrk(bench.wrk, server, script, bench.args, bench.args.rss_seconds, connections=4, path=path)
        workers = {pid: memory_mb(pid) for pid in server.workers()}
        out[name] = {"requests": res["requests"], "non_2xx": res["non_2xx"], "cpu_ms": res["cpu_ms"],
                     "workers": workers,
                     "max_rss_mb": max((w.get("rss_mb", 0) for w in workers.values()), default=0),
                     "max_pss_mb": max((w.get("pss_mb", 0) for w in workers.values()), default=0)}
    return out


def summarise(bench: Bench, memory: dict[str, dict], meta: dict) -> dict:
    """Medians per server and scenario, the ratios against the targets, and every problem."""
    med: dict[str, dict[str, dict]] = {}
    problems: list[str] = []
    for scenario, per in bench.runs.items():
        for name, rs in per.items():
            med.setdefault(scenario, {})[name] = {
                f: statistics.median(r[f] for r in rs) for f in ("cpu_ms", "ext_cpu_ms", "rps", "p50_ms", "p99_ms")}
            for r in rs:
                if r["non_2xx"]:
                    problems.append(f"{scenario} on {name}: {r['non_2xx']} non-2xx answers of {r['requests']}")
                if r["socket_errors"].get("connect") or r["socket_errors"].get("timeout"):
                    problems.append(f"{scenario} on {name}: socket errors {r['socket_errors']}")
                if not r["workers_same"]:
                    problems.append(f"{scenario} on {name}: a worker was replaced during the run")
                slack = 4 * bench.args.connections + 64  # requests in flight when wrk stopped are stored too
                if "stored" in r and not r["requests"] - r["non_2xx"] <= r["stored"] <= r["requests"] + slack:
                    problems.append(f"{scenario} on {name}: {r['stored']} comments stored for "
                                    f"{r['requests'] - r['non_2xx']} 2xx answers")
    for name, m in memory.items():
        if m["non_2xx"]:
            problems.append(f"memory read on {name}: {m['non_2xx']} non-2xx answers")
    ratios = {}
    for scenario, base in (("post", "isso"), ("counts", "isso"), ("read", "hello")):
        a, b = med[scenario]["majlis"], med[scenario][base]
        ratios[scenario] = {"vs": base, "cpu": round(a["cpu_ms"] / b["cpu_ms"], 3),
                            "cpu_with_db_redis": round((a["cpu_ms"] + a["ext_cpu_ms"])
                                                       / (b["cpu_ms"] + b["ext_cpu_ms"]), 3),
                            "rps": round(a["rps"] / b["rps"], 3), "target_cpu": TARGETS[scenario],
                            "met": a["cpu_ms"] / b["cpu_ms"] <= TARGETS[scenario],
                            "per_round_cpu": [round(x["cpu_ms"] / y["cpu_ms"], 3) for x, y in
                                              zip(bench.runs[scenario]["majlis"], bench.runs[scenario][base],
                                                  strict=True)]}
    rss = memory["majlis"]["max_rss_mb"]
    ratios["rss"] = {"max_rss_mb": rss, "target_mb": RSS_TARGET_MB, "met": rss <= RSS_TARGET_MB}
    return {"meta": meta, "median": med, "ratios": ratios, "memory": memory,
            "targets_met": all(r["met"] for r in ratios.values()), "valid": not problems, "problems": problems,
            "runs": bench.runs}


def print_table(res: dict, args: argparse.Namespace) -> None:
    """The issue's table for this run, then the ratios against the targets."""
    meta, med, mem, ratios = res["meta"], res["median"], res["memory"], res["ratios"]
    cols = [("isso", f"Isso {meta['isso_version']}"), ("majlis", f"Majlis {meta['database']}"),
            ("hello", "Flask hello")]
    print(f"gunicorn 2 sync workers each; wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
          f"{args.rounds} round(s) per scenario, servers in turns; medians")
    print("server CPU per request (gunicorn workers, ms) and req/s")
    print(f"{'scenario':<50}" + "".join(f"{label:>22}" for _, label in cols))
    for scenario, label in SCENARIOS.items():
        cells = []
        for name, _ in cols:
            m = med[scenario].get(name)
            cells.append(f"{m['cpu_ms']:>10.3f} ms {m['rps']:>6.0f}/s" if m else "")
        print(f"{label:<50}" + "".join(f"{c:>22}" for c in cells))
    cells = []
    for name, _ in cols:
        ws = mem[name]["workers"].values()
        cells.append(" / ".join(f"{w.get('rss_mb', 0):.0f}" for w in ws) + " MB")
    print(f"{'worker RSS after the 1,000-comment read':<50}" + "".join(f"{c:>22}" for c in cells))
    cells = [" / ".join(f"{w.get('pss_mb', 0):.0f}" for w in mem[name]["workers"].values()) + " MB" for name, _ in cols]
    print(f"{'  (PSS)':<50}" + "".join(f"{c:>22}" for c in cells))
    m = med
    print(f"Majlis outside its workers (database backends and the whole Redis server), ms per request: "
          f"read {m['read']['majlis']['ext_cpu_ms']:.3f}, post {m['post']['majlis']['ext_cpu_ms']:.3f}, "
          f"counts {m['counts']['majlis']['ext_cpu_ms']:.3f}")
    print("targets (CPU per request, Majlis / baseline; req/s ratio beside it)")
    for scenario, vs in (("post", "Isso"), ("counts", "Isso"), ("read", "Flask hello")):
        r = ratios[scenario]
        print(f"  {scenario:<7} Majlis/{vs:<12} {r['cpu']:>6.3f}  (<= {r['target_cpu']:.2f}) "
              f"{'met' if r['met'] else 'MISSED':<7} rounds {', '.join(f'{x:.3f}' for x in r['per_round_cpu'])}; "
              f"with db+redis {r['cpu_with_db_redis']:.3f}; req/s ratio {r['rps']:.3f}")
    r = ratios["rss"]
    print(f"  rss     Majlis worker max {r['max_rss_mb']:.0f} MB (<= {r['target_mb']:.0f} MB) "
          f"{'met' if r['met'] else 'MISSED'}")
    print(f"all targets: {'met' if res['targets_met'] else 'not met'}; run "
          f"{'valid' if res['valid'] else 'INVALID'}")
    for p in res["problems"]:
        print(f"problem: {p}")


def main() -> int:
    """Install, set up, check, measure, report and clean up."""
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally block on kill too
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even when started in the background
    tmp = Path(tempfile.mkdtemp(prefix="majlis-vs-isso-"))
    servers: list[Server] = []
    drop_db: Callable[[], None] = lambda: None
    redis_client, redis_before = None, set()
    try:
        wrk = ensure_wrk()
        isso_venv, isso_version = ensure_isso()
        import redis

        redis_client = redis.Redis.from_url(args.redis_url, socket_timeout=5)
        try:
            redis_client.ping()
        except redis.RedisError as exc:
            raise SystemExit(f"bench failed: the rate-limit store {args.redis_url} does not answer: {exc}") from None
        redis_before = set(redis_client.scan_iter(match="LIMITS*", count=1000))
        app_name = f"majlis-bench-{secrets.token_hex(4)}"
        db_url, drop_db, engine = prepare_database(args.database_url, tmp, app_name)
        database = "PostgreSQL" if args.database_url else "SQLite"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MAJLIS_", "ISSO_"))}
        hello = start_gunicorn("hello", "Flask hello", BIN / "gunicorn", "bench.hello_app:app", base_env, ROOT, tmp)
        servers.append(hello)
        wait_ready(hello, "/")
        origin = hello.base  # Isso's startup check fetches its `host`: it must answer, on loopback
        env = {**base_env, "FLASK_APP": "wsgi", "MAJLIS_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
               "DATABASE_URL": db_url, "MAJLIS_RATELIMIT_ENABLED": "true", "RATELIMIT_STORAGE_URI": args.redis_url,
               "MAJLIS_TRUSTED_PROXIES": "1", "MAJLIS_LOG_LEVEL": "WARNING"}
        log(f"flask db upgrade ({database})")
        up = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=False)
        if up.returncode:
            raise SystemExit(f"bench failed: flask db upgrade:\n{up.stderr}")
        threads = [(READ_KEY, 100), (BIG_KEY, BIG_SIZE), *((k, i % 5 + 1) for i, k in enumerate(COUNT_KEYS))]
        log(f"seeding Majlis: {sum(n for _, n in threads)} comments in {len(threads)} threads")
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            seed_majlis(origin, threads, args.hold_first_time)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        majlis = start_gunicorn("majlis", f"Majlis {database}", BIN / "gunicorn", "wsgi:app", env, ROOT, tmp)
        servers.append(majlis)
        isso_env = {**base_env, "ISSO_SETTINGS": str(isso_config(tmp, origin))}
        isso = start_gunicorn("isso", f"Isso {isso_version}", isso_venv / "bin" / "gunicorn", "isso.run:application",
                              isso_env, tmp, tmp)
        servers.append(isso)
        wait_ready(majlis, "/healthz")
        wait_ready(isso, "/info")
        status, body = request(majlis.base + "/readyz")
        if status != 200 or json.loads(body)["checks"]["rate_limit_store"] != "ok":
            raise SystemExit(f"bench failed: Majlis's /readyz answered {status} {body[:300]!r}")
        log(f"seeding Isso: {sum(n for _, n in threads)} comments through POST /new")
        seed_isso(isso, origin, threads)
        on_redis = redis_cpu(redis_client)
        on_pg = pg_backend_cpu(engine, app_name) if args.database_url else (lambda: 0.0)
        majlis.ext_cpu = lambda: on_pg() + on_redis()
        hdr = {"Origin": origin, "Accept": "application/json"}

        # Every request is checked once before it is measured.
        read_path = f"/api/v1/sites/{SLUG}/comments?thread={READ_KEY}&limit=100"
        status, body = request(majlis.base + read_path, headers=hdr)
        if status != 200 or len(json.loads(body)["comments"]) != 100:
            raise SystemExit(f"bench failed: Majlis's thread read answered {status}: {body[:300]!r}")
        read_bytes = {"majlis": len(body)}
        isso_read = f"/?uri={urllib.parse.quote('/' + READ_KEY, safe='')}"
        status, body = request(isso.base + isso_read, headers=hdr)
        if status != 200 or json.loads(body)["total_replies"] != 100:
            raise SystemExit(f"bench failed: Isso's thread read answered {status}: {body[:300]!r}")
        read_bytes["isso"] = len(body)
        counts_path = f"/api/v1/sites/{SLUG}/counts?" + "&".join(f"thread={k}" for k in COUNT_KEYS)
        status, body = request(majlis.base + counts_path, headers=hdr)
        expected = {k: i % 5 + 1 for i, k in enumerate(COUNT_KEYS)}
        if status != 200 or json.loads(body)["counts"] != expected:
            raise SystemExit(f"bench failed: Majlis's counts answered {status}: {body[:300]!r}")
        isso_uris = ["/" + k for k in COUNT_KEYS]
        status, body = request(isso.base + "/count", "POST", isso_uris, hdr)
        if status != 200 or json.loads(body) != list(expected.values()):
            raise SystemExit(f"bench failed: Isso's /count answered {status}: {body[:300]!r}")
        big_paths, cursor, total = [], None, 0
        while True:
            path = f"/api/v1/sites/{SLUG}/comments?thread={BIG_KEY}&limit={PAGE}"
            path += f"&cursor={cursor}" if cursor else ""
            status, body = request(majlis.base + path, headers=hdr)
            page = json.loads(body)
            total += len(page["comments"])
            big_paths.append(path)
            if status != 200 or not (cursor := page.get("next_cursor")):
                break
        if total != BIG_SIZE:
            raise SystemExit(f"bench failed: Majlis's {BIG_SIZE}-comment thread read gave {total} comments")
        isso_big = f"/?uri={urllib.parse.quote('/' + BIG_KEY, safe='')}"
        status, body = request(isso.base + isso_big, headers=hdr)
        if status != 200 or json.loads(body)["total_replies"] != BIG_SIZE:
            raise SystemExit(f"bench failed: Isso's {BIG_SIZE}-comment thread read answered {status}")
        nonce = secrets.token_hex(6)
        post_hdr = {**hdr, "Content-Type": "application/json"}
        isso_post = "/new?uri=%2Fpost-@K@"
        majlis_post = f"/api/v1/sites/{SLUG}/comments"
        for name, path, kind in (("isso", isso_post, "isso"), ("majlis", majlis_post, "majlis")):
            doc = post_bodies(kind, origin)[0].replace("@I@", "0").replace("@K@", "x")
            server = {"isso": isso, "majlis": majlis}[name]
            status, body = request(server.base + path.replace("@K@", "x"), "POST", json.loads(doc),
                                   {**hdr, "X-Forwarded-For": client_ip(server.next_ip),
                                    "Idempotency-Key": f"{nonce}-check"})
            server.next_ip += 1
            if status != 201:
                raise SystemExit(f"bench failed: a post to {server.label} answered {status}: {body[:300]!r}")
            if name == "majlis" and json.loads(body)["comment"]["status"] != (
                    "pending" if args.hold_first_time else "published"):
                raise SystemExit(f"bench failed: Majlis held the bench post: {body[:300]!r}")
        scripts = {
            ("hello", "read"): (static_script(tmp, "hello", "GET", "/", hdr, None), "/"),
            ("hello", "big"): (static_script(tmp, "hello-big", "GET", "/", hdr, None), "/"),
            ("majlis", "read"): (static_script(tmp, "majlis-read", "GET", read_path, hdr, None), read_path),
            ("isso", "read"): (static_script(tmp, "isso-read", "GET", isso_read, hdr, None), isso_read),
            ("majlis", "counts"): (static_script(tmp, "majlis-counts", "GET", counts_path, hdr, None), counts_path),
            ("isso", "counts"): (static_script(tmp, "isso-counts", "POST", "/count", post_hdr, json.dumps(isso_uris)),
                                 "/count"),
            ("majlis", "post"): (post_script(tmp, "majlis-post", majlis_post, post_hdr, post_bodies("majlis", origin),
                                             nonce), majlis_post),
            ("isso", "post"): (post_script(tmp, "isso-post", isso_post, post_hdr, post_bodies("isso", origin), nonce),
                               "/new"),
            ("majlis", "big"): (cycle_script(tmp, "majlis-big", big_paths, hdr), big_paths[0]),
            ("isso", "big"): (static_script(tmp, "isso-big", "GET", isso_big, hdr, None), isso_big),
        }
        for (name, _), (script, path) in scripts.items():
            check_script(wrk, {"isso": isso, "majlis": majlis, "hello": hello}[name], script, path)
        bench = Bench(args, wrk, {"isso": isso, "majlis": majlis, "hello": hello}, scripts,
                      {"isso": lambda: isso_rows(tmp), "majlis": lambda: majlis_rows(engine)})
        bench.measure("read", ["isso", "majlis", "hello"])
        bench.measure("counts", ["isso", "majlis"])  # before the posts: Isso's count reads every comment
        rows_before_posts = {"isso": isso_rows(tmp), "majlis": majlis_rows(engine)}
        keys_before = sum(1 for _ in redis_client.scan_iter(match="LIMITS*", count=1000))
        bench.measure("post", ["isso", "majlis"])
        keys_after = sum(1 for _ in redis_client.scan_iter(match="LIMITS*", count=1000))
        memory = memory_after_big_read(bench, ["isso", "majlis", "hello"])
        status, body = request(majlis.base + "/readyz")
        meta = {"isso_version": isso_version, "database": database, "read_bytes": read_bytes,
                "comments_before_posts": rows_before_posts, "rate_limit_keys_added_by_posts": keys_after - keys_before,
                "readyz_after": json.loads(body), "hold_first_time": args.hold_first_time,
                "command": " ".join(sys.argv)}
        res = summarise(bench, memory, meta)
        if keys_after <= keys_before:
            res["problems"].append("the posts left no rate-limit keys in Redis: were the limits on?")
            res["valid"] = False
        if status != 200 or json.loads(body)["checks"]["rate_limit_store"] != "ok":
            res["problems"].append(f"Majlis's /readyz after the run: {status} {body[:200]!r}")
            res["valid"] = False
        print(json.dumps(res, indent=2)) if args.json else print_table(res, args)
        if not res["valid"]:
            return 1
        return 0 if (res["targets_met"] or not args.check) else 1
    except KeyboardInterrupt:
        log("interrupted: stopping the servers and removing the temp files")
        return 130
    finally:
        for server in reversed(servers):
            stop(server)
        with contextlib.suppress(Exception):
            drop_db()
        if redis_client is not None:  # the limit counters this run made (they expire within the hour anyway)
            with contextlib.suppress(Exception):
                new = [k for k in redis_client.scan_iter(match="LIMITS*", count=1000) if k not in redis_before]
                for i in range(0, len(new), 500):
                    redis_client.delete(*new[i:i + 500])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
