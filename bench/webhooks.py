"""Webhooks off the request path: the comment post's rate with 3 webhooks against none, and commit-to-arrival latency.

Builds a throw-away database with the migrations (or a fresh PostgreSQL schema), makes two
post-moderated sites, "quiet" with no webhooks and "hooked" with 3 webhooks subscribed to every
event type (made through the API) that point at 3 receivers this process runs on 127.0.0.1, starts
gunicorn (deploy/gunicorn.conf.py, 2 workers) and one `flask worker` with the same environment (both
from deploy/run.sh, as `make run` starts them), then:

1. rate: wrk posts to quiet and to hooked in turns (--rounds x --duration); the worker runs all
   along, as in production. After each hooked run it waits until every message has arrived (the
   drain), so the next quiet run does not pay for the hooked run's deliveries. Target: the median
   over the rounds of hooked req/s / quiet req/s >= --min-ratio. --paused adds, per round, a hooked
   run with the worker stopped: the request path alone.
2. latency: --posts posts to hooked at --rate a second from one client thread; for each message,
   its arrival at the receiver minus the moment the post's 201 came back. Target: p99 < --max-p99.

Every message is checked: signed with its endpoint's secret, arrived (once, or how many times),
about a hooked comment. Email notifications are not built yet: only webhooks are measured.

    .venv/bin/python bench/webhooks.py                                         # SQLite jobs file
    .venv/bin/python bench/webhooks.py --jobs-url redis://127.0.0.1:6379/13    # Redis jobs (db flushed)
    .venv/bin/python bench/webhooks.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_perf
    .venv/bin/python bench/webhooks.py --rounds 0 --posts 30 --rate 0.2     # latency only, an idle worker

Progress goes to stderr, the report (or --json) to stdout. Exit status 0 when both targets are met
and every check held, 1 otherwise (a missed target, a lost or badly signed message, a non-2xx
answer, a failed setup step), 130 on Ctrl-C; processes and temp files are always cleaned up.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.read_thread import NAMES, body_for, ensure_wrk, log, parse_wrk  # noqa: E402
from bench.vs_isso import free_port, lua_str, prepare_database, proc_cpu, request  # noqa: E402

BIN = Path(sys.executable).parent
ORIGIN = "https://news.example"
QUIET, HOOKED = "quiet", "hooked"
PAUSED = "paused"  # posts to hooked with the worker stopped (--paused)
HOOKS = 3
POST_THREADS = 20  # posts rotate over this many threads of each site
EVENT_TYPES = ["comment.created", "comment.published", "comment.held", "comment.approved", "comment.rejected",
               "comment.spam", "comment.deleted", "comment.edited", "report.created", "comment.hidden_by_reports"]
# The second message of a new comment, by the status the rules gave it (the first is comment.created).
SECOND = {"published": "comment.published", "approved": "comment.published", "pending": "comment.held",
          "spam": "comment.spam", "rejected": "comment.rejected"}
PER_POST = 2 * HOOKS  # messages per hooked post: created + published, to each endpoint


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3, help="quiet/hooked pairs, in turns")
    p.add_argument("--connections", type=int, default=12, help="wrk connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured wrk per site first")
    p.add_argument("--min-ratio", type=float, default=0.9, help="hooked/quiet req/s needed to pass")
    p.add_argument("--posts", type=int, default=200, help="posts timed in the latency phase")
    p.add_argument("--rate", type=float, default=20.0, help="posts a second in the latency phase")
    p.add_argument("--max-p99", type=float, default=2.0, help="latency p99 limit, seconds")
    p.add_argument("--drain-timeout", type=float, default=600.0, help="seconds to wait for a backlog to arrive")
    p.add_argument("--database-url", help="PostgreSQL URL (a fresh schema, dropped after); default: temp SQLite")
    p.add_argument("--jobs-url", help="MAJLIS_JOBS_URL; default: a SQLite file in the temp dir. A redis:// "
                   "database is flushed before and after the run: give one nobody else uses (e.g. /13)")
    p.add_argument("--worker-threads", type=int, help="MAJLIS_WORKER_THREADS (default: the app's, 4)")
    p.add_argument("--worker-session", choices=["run.sh", "own"], default="run.sh",
                   help="run.sh: gunicorn and the worker started by deploy/run.sh (make run); own: each started "
                   "here in a session of its own (its own scheduler autogroup, like two systemd units)")
    p.add_argument("--paused", action="store_true",
                   help="also, in each round, post to hooked with the worker stopped (SIGSTOP): the request path "
                   "alone (not a target; its backlog is drained after, which takes a while)")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a report")
    return p.parse_args()


# --- the receivers ---------------------------------------------------------------------------


@dataclass
class Arrival:
    hook: int  # which receiver (0..HOOKS-1)
    at: float  # time.time() once the body was read
    msg_id: str
    timestamp: str
    signature: str
    body: bytes


@dataclass
class Receivers:
    """HOOKS threaded HTTP servers on 127.0.0.1 answering 204 and recording every request."""

    got: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    servers: list[ThreadingHTTPServer] = field(default_factory=list)
    unique: set[tuple[int, str]] = field(default_factory=set)

    def start(self) -> None:
        for n in range(HOOKS):
            self.servers.append(self._serve(n))

    def _serve(self, hook: int) -> ThreadingHTTPServer:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.time()
                a = Arrival(hook, at, self.headers.get("webhook-id", ""), self.headers.get("webhook-timestamp", ""),
                            self.headers.get("webhook-signature", ""), body)
                with state.lock:
                    state.got.append(a)
                    state.unique.add((hook, a.msg_id))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 128
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def url(self, hook: int) -> str:
        return f"http://127.0.0.1:{self.servers[hook].server_address[1]}/hooks/{hook}"

    def counts(self) -> tuple[int, int]:
        """Requests received, and distinct (endpoint, webhook-id) among them."""
        with self.lock:
            return len(self.got), len(self.unique)

    def since(self, start: int) -> list[Arrival]:
        with self.lock:
            return self.got[start:]

    def stop(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.shutdown()
                server.server_close()


def signature_ok(secret: str, a: Arrival) -> bool:
    """Standard Webhooks: v1,base64(HMAC-SHA256(key, "id.timestamp.body")), any of the space-separated ones."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    want = base64.b64encode(hmac.new(key, f"{a.msg_id}.{a.timestamp}.".encode() + a.body,
                                     hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s.removeprefix("v1,"), want) for s in a.signature.split())


# --- processes -------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return sorted(int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    return []


def cmdline(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    return []


@dataclass
class Stack:
    """gunicorn and the worker. `run.sh`: started by deploy/run.sh (what `make run` runs) in a session
    of its own; `own`: each started here in a session of its own. Whether the worker shares gunicorn's
    session matters: each session is a scheduler autogroup, and the kernel gives autogroups equal CPU
    shares whatever their processes' nice values (as it gives two systemd units equal weights)."""

    procs: list[subprocess.Popen]
    log_path: Path
    gunicorn_pid: int = 0
    worker_pid: int = 0

    def web_workers(self) -> list[int]:
        return children(self.gunicorn_pid)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs) and Path(f"/proc/{self.worker_pid}").exists()

    def log_tail(self, lines: int = 25) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def groups(self) -> list[int]:
        """The process groups to signal: each started process's, and the worker's when run.sh gave it
        one of its own (`setsid`)."""
        out = [p.pid for p in self.procs]
        with contextlib.suppress(OSError):
            if self.worker_pid and (g := os.getpgid(self.worker_pid)) not in out and g != os.getpgrp():
                out.append(g)
        return out

    def stop(self) -> None:
        """SIGTERM to each process group (run.sh passes it on: SIGINT to the worker), SIGKILL to
        whatever is left after 15 s."""
        groups = self.groups()
        for g in groups[:len(self.procs)]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(g, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(max(0.1, deadline - time.monotonic()))
        while self.worker_pid and Path(f"/proc/{self.worker_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for g in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(g, signal.SIGKILL)
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(5)


def start_stack(layout: str, env: dict[str, str], tmp: Path) -> Stack:
    log_path = tmp / "stack.log"
    gunicorn = [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py")]
    worker = [str(BIN / "flask"), "worker"]
    cmds = [["bash", str(ROOT / "deploy" / "run.sh")]] if layout == "run.sh" else [gunicorn, worker]
    with log_path.open("wb") as out:
        procs = [subprocess.Popen(cmd, cwd=ROOT, env={**env, "MAJLIS_BIN": str(BIN)}, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True) for cmd in cmds]
    stack = Stack(procs, log_path)
    if layout != "run.sh":
        stack.gunicorn_pid, stack.worker_pid = procs[0].pid, procs[1].pid
    return stack


def wait_ready(stack: Stack, base: str, timeout: float = 60.0) -> None:
    """Until gunicorn answers /healthz with its 2 workers and the worker runs (run.sh: find both)."""
    deadline = time.monotonic() + timeout
    while all(p.poll() is None for p in stack.procs) and time.monotonic() < deadline:
        if not stack.worker_pid:
            for pid in children(stack.procs[0].pid):
                line = " ".join(cmdline(pid))
                if "gunicorn" in line:
                    stack.gunicorn_pid = pid
                elif "flask" in line and "worker" in line:
                    stack.worker_pid = pid
            if not (stack.gunicorn_pid and stack.worker_pid):
                stack.gunicorn_pid = stack.worker_pid = 0
        with contextlib.suppress(OSError):
            if stack.worker_pid and request(base + "/healthz", timeout=5)[0] == 200 and len(stack.web_workers()) == 2:
                return
        time.sleep(0.2)
    raise SystemExit(f"bench failed: gunicorn and the worker were not up in {timeout:.0f} s:\n{stack.log_tail()}")


def cpu_of(pids: list[int]) -> float:
    return sum(proc_cpu(p) for p in pids)


# --- setup -----------------------------------------------------------------------------------


def seed() -> str:
    """The two sites, in-process (settings from os.environ); the hooked site's API key."""
    from comment_service import create_app, services
    from comment_service.extensions import db
    from comment_service.moderation.status import ModerationMode
    from comment_service.services.sites import issue_api_key

    app = create_app(env="production")
    with app.app_context():
        services.create_site(QUIET, "Quiet", [ORIGIN], ModerationMode.POST)
        site = services.create_site(HOOKED, "Hooked", [ORIGIN], ModerationMode.POST)
        key = issue_api_key(site)
        db.engine.dispose()
    return key


def post_script(tmp: Path, slug: str, nonce: str) -> Path:
    """A wrk script posting a new comment each time: request i (over the run's wrk threads, from
    BENCH_BASE) has its own text and author email and goes to thread i mod POST_THREADS."""
    bodies = ", ".join(lua_str(body_for(t)) for t in range(6))
    names = ", ".join(lua_str(n) for n in NAMES)
    script = tmp / f"post-{slug}.lua"
    script.write_text(f"""local base = tonumber(os.getenv("BENCH_BASE") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local bodies = {{{bodies}}}
local names = {{{names}}}
local headers = {{["Content-Type"] = "application/json", ["Accept"] = "application/json",
                 ["Origin"] = {lua_str(ORIGIN)}}}
local made = 0
function setup(thread)
  thread:set("tid", made)
  made = made + 1
end
local n = 0
local function q(s)
  return '"' .. s:gsub('[\\\\"]', '\\\\%0') .. '"'
end
function request()
  local i = base + tid + nthreads * n
  n = n + 1
  local k = i % {POST_THREADS}
  local body = '{{"thread": "post-' .. k .. '", "thread_title": "Post ' .. k .. '", "author_name": '
    .. q(names[i % #names + 1]) .. ', "author_email": "{slug}-' .. i .. '@example.org", "body": '
    .. q(bodies[i % #bodies + 1] .. " {nonce}-" .. i) .. '}}'
  return wrk.format("POST", "/api/v1/sites/{slug}/comments", headers, body)
end
""")
    return script


SHOW_BAD = """
local shown = false
function response(status, headers, body)
  if (status < 200 or status > 299) and not shown then
    shown = true
    io.stderr:write("BAD " .. status .. " " .. string.sub(body or "", 1, 400) .. "\\n")
  end
end
"""


@dataclass
class Bench:
    args: argparse.Namespace
    wrk: str
    base: str
    stack: Stack
    receivers: Receivers
    rows: Callable[[str], dict[str, int]]  # site -> comment statuses and counts
    backlog: Callable[[], dict[str, int]]  # undispatched outbox rows, pending deliveries
    next_i: int = 0
    runs: dict[str, list[dict]] = field(default_factory=lambda: {QUIET: [], HOOKED: [], PAUSED: []})
    drains: list[dict] = field(default_factory=list)

    def wrk_run(self, slug: str, script: Path, duration: int, conns: int | None = None,
                threads: int | None = None, check: bool = False, pause: bool = False) -> dict:
        """One wrk run of posts to slug; with `pause`, the worker is stopped (SIGSTOP) during it and
        continued after (the request path alone). Only called with the queue drained, so the
        worker is idle when it stops."""
        conns = conns or self.args.connections
        threads = threads or min(self.args.threads, conns)
        env = {**os.environ, "BENCH_BASE": str(self.next_i), "BENCH_THREADS": str(threads)}
        if check:
            probe = script.with_suffix(".check.lua")
            probe.write_text(script.read_text() + SHOW_BAD)
            script = probe
        cmd = [self.wrk, f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "30s", "--latency",
               "-s", str(script), f"{self.base}/api/v1/sites/{slug}/comments"]
        web, rows0, got0 = self.stack.web_workers(), self.rows(slug)["total"], self.receivers.counts()[1]
        cpu0, wcpu0, bcpu0, t0 = cpu_of(web), proc_cpu(self.stack.worker_pid), time.process_time(), time.monotonic()
        if pause:
            os.kill(self.stack.worker_pid, signal.SIGSTOP)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        finally:
            if pause:
                os.kill(self.stack.worker_pid, signal.SIGCONT)
        cpu1, wcpu1, bcpu1, wall = cpu_of(web), proc_cpu(self.stack.worker_pid), time.process_time(), \
            time.monotonic() - t0
        if done.returncode != 0 or (check and done.stderr.strip()):
            bad = [line for line in done.stderr.splitlines() if line.startswith("BAD ")]
            raise SystemExit(f"bench failed: wrk on {slug}: {bad[0] if bad else done.stderr or done.stdout}")
        res = parse_wrk(done.stdout)
        self.next_i += res["requests"] + 4 * conns + 64  # requests sent but not counted, and then some
        time.sleep(0.3)  # the posts in flight when wrk stopped
        n = max(res["requests"], 1)
        res.update(web_cpu_ms=round((cpu1 - cpu0) * 1000 / n, 3), worker_cpu_share=round((wcpu1 - wcpu0) / wall, 3),
                   web_cpu_share=round((cpu1 - cpu0) / wall, 3), bench_cpu_share=round((bcpu1 - bcpu0) / wall, 3),
                   stored=self.rows(slug)["total"] - rows0, workers_same=web == self.stack.web_workers(),
                   messages_during=self.receivers.counts()[1] - got0, load=os.getloadavg()[0])
        return res

    def drain(self, label: str) -> dict:
        """Wait until every hooked comment's messages have arrived and nothing is pending; how long it took."""
        t0, w0 = time.monotonic(), proc_cpu(self.stack.worker_pid)
        got0 = self.receivers.counts()[1]
        deadline = t0 + self.args.drain_timeout
        while True:
            expected = PER_POST * self.rows(HOOKED)["total"]
            unique = self.receivers.counts()[1]
            left = self.backlog()
            if unique >= expected and not left["undispatched"] and not left["pending"]:
                break
            if not self.stack.alive():
                raise SystemExit(f"bench failed: the worker or gunicorn exited:\n{self.stack.log_tail()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"bench failed: {label}: {unique} of {expected} messages arrived in "
                                 f"{self.args.drain_timeout:.0f} s; backlog {left}\n{self.stack.log_tail()}")
            time.sleep(0.1)
        seconds = time.monotonic() - t0
        drained = unique - got0
        out = {"label": label, "seconds": round(seconds, 2), "messages": drained,
               "msgs_per_s": round(drained / seconds, 1) if seconds > 0.2 else None,
               "worker_cpu_ms_per_msg": round((proc_cpu(self.stack.worker_pid) - w0) * 1000 / drained, 3)
               if drained else None}
        self.drains.append(out)
        return out


def latency_phase(bench: Bench, args: argparse.Namespace, nonce: str) -> dict:
    """--posts posts to hooked at --rate a second, one after the other, from this thread; the
    time each 201 came back; then each message's arrival minus that."""
    port = int(bench.base.rsplit(":", 1)[1])
    start = len(bench.receivers.got)
    sent: dict[int, tuple[float, float]] = {}  # comment id -> (request sent, 201 back)
    problems: list[str] = []
    t0, t0_wall = time.monotonic(), time.time()
    for n in range(args.posts):
        pause = t0 + n / args.rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        i = bench.next_i
        bench.next_i += 1
        doc = {"thread": f"latency-{i % POST_THREADS}", "thread_title": "Latency", "author_name": NAMES[i % 6],
               "author_email": f"latency-{i}@example.org", "body": f"{body_for(i % 6)} {nonce}-L{i}"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            before = time.time()
            conn.request("POST", f"/api/v1/sites/{HOOKED}/comments", json.dumps(doc).encode(),
                         {"Content-Type": "application/json", "Origin": ORIGIN, "Accept": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            after = time.time()
        finally:
            conn.close()
        if resp.status != 201:
            problems.append(f"latency post {n}: {resp.status} {body[:200]!r}")
            continue
        sent[json.loads(body)["comment"]["id"]] = (before, after)
    posting = time.monotonic() - t0
    want = PER_POST * len(sent)
    deadline = time.monotonic() + max(30.0, 10 * args.max_p99)
    while time.monotonic() < deadline:
        got = [a for a in bench.receivers.since(start) if _comment_id(a) in sent]
        if len({(a.hook, a.msg_id) for a in got}) >= want:
            break
        time.sleep(0.05)
    got = [a for a in bench.receivers.since(start) if _comment_id(a) in sent]
    first: dict[tuple[int, str], Arrival] = {}
    for a in got:
        first.setdefault((a.hook, a.msg_id), a)
    from_201 = sorted(a.at - sent[_comment_id(a)][1] for a in first.values())
    from_send = sorted(a.at - sent[_comment_id(a)][0] for a in first.values())
    if len(first) < want:
        problems.append(f"latency: {len(first)} of {want} messages arrived")
    worst: dict[int, float] = {}
    for a in first.values():
        cid = _comment_id(a)
        worst[cid] = max(worst.get(cid, -1e9), a.at - sent[cid][1])
    series = [[round(sent[cid][1] - t0_wall, 2), round(worst[cid] * 1000, 1)] for cid in sorted(worst)]
    return {"posts": len(sent), "posting_seconds": round(posting, 2), "messages": len(first), "expected": want,
            "from_201": percentiles(from_201), "from_send": percentiles(from_send), "problems": problems,
            "per_post": series}  # [seconds into the phase, its slowest message's arrival - 201 in ms]


def _comment_id(a: Arrival) -> int | None:
    with contextlib.suppress(Exception):
        return json.loads(a.body)["data"]["comment"]["id"]
    return None


def percentiles(xs: list[float]) -> dict[str, float | None]:
    if not xs:
        return {"p50": None, "p95": None, "p99": None, "max": None, "min": None}

    def q(p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 4)  # nearest rank, on the sorted list

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": round(xs[-1], 4), "min": round(xs[0], 4)}


def audit(bench: Bench, secrets_: list[str], comments: dict[int, str], slug_of: dict[int, str]) -> dict:
    """Every message received: signed, about a hooked comment, each expected one there, duplicates."""
    got = bench.receivers.since(0)
    per_key = Counter((a.hook, a.msg_id) for a in got)
    bad_sig = sum(1 for a in got if not signature_ok(secrets_[a.hook], a))
    seen: dict[int, set[tuple[int, str]]] = {h: set() for h in range(HOOKS)}
    foreign, unparsable = 0, 0
    for a in got:
        try:
            doc = json.loads(a.body)
            cid, type_ = doc["data"]["comment"]["id"], doc["type"]
        except Exception:
            unparsable += 1
            continue
        if slug_of.get(cid) != HOOKED or doc["data"].get("site") != HOOKED:
            foreign += 1
        seen[a.hook].add((cid, type_))
    expected = {(cid, t) for cid, status in comments.items() for t in ("comment.created", SECOND.get(status, "?"))}
    missing = sum(len(expected - seen[h]) for h in range(HOOKS))
    unexpected = sum(len(seen[h] - expected) for h in range(HOOKS))
    dup_keys = {k: c for k, c in per_key.items() if c > 1}
    return {"received": len(got), "distinct": len(per_key), "expected": len(expected) * HOOKS,
            "missing": missing, "unexpected": unexpected, "duplicate_messages": len(dup_keys),
            "duplicate_extra_copies": sum(c - 1 for c in dup_keys.values()), "bad_signatures": bad_sig,
            "not_hooked_site": foreign, "unparsable": unparsable}


# --- report ----------------------------------------------------------------------------------


def summarise(bench: Bench, lat: dict, checks: dict, meta: dict) -> dict:
    args = bench.args
    med = {slug: {f: statistics.median(r[f] for r in rs) for f in ("rps", "p50_ms", "p99_ms", "web_cpu_ms")}
           for slug, rs in bench.runs.items() if rs}
    ratio = of_medians = per_round = paused = None
    if args.rounds:
        # The target is the median of each round's ratio: a round's two runs are minutes apart at most,
        # so they share the machine's noise; one quiet run hit by someone else's burst moves the
        # ratio of the medians much more (both are reported).
        per_round = [round(h["rps"] / q["rps"], 3) for q, h in zip(bench.runs[QUIET], bench.runs[HOOKED], strict=True)]
        ratio = round(statistics.median(per_round), 3)
        of_medians = round(med[HOOKED]["rps"] / med[QUIET]["rps"], 3)
        if bench.runs[PAUSED]:
            paused = round(statistics.median(p["rps"] / q["rps"] for q, p in zip(bench.runs[QUIET],
                                                                                  bench.runs[PAUSED], strict=True)), 3)
    problems: list[str] = []
    for slug, rs in bench.runs.items():
        for r in rs:
            if r["non_2xx"]:
                problems.append(f"{slug}: {r['non_2xx']} non-2xx answers of {r['requests']}")
            if r["socket_errors"].get("connect") or r["socket_errors"].get("timeout"):
                problems.append(f"{slug}: socket errors {r['socket_errors']}")
            if not r["workers_same"]:
                problems.append(f"{slug}: a gunicorn worker was replaced during a run")
            if not r["requests"] - r["non_2xx"] <= r["stored"] <= r["requests"] + 4 * args.connections + 64:
                problems.append(f"{slug}: {r['stored']} comments stored for {r['requests'] - r['non_2xx']} 2xx answers")
    problems += lat["problems"]
    a = checks["audit"]
    for k in ("missing", "unexpected", "bad_signatures", "not_hooked_site", "unparsable"):
        if a[k]:
            problems.append(f"messages: {a[k]} {k.replace('_', ' ')}")
    for k, v in checks["left"].items():
        if v:
            problems.append(f"after the run: {v} {k} (deliveries API / outbox)")
    if checks["held"]:
        problems.append(f"{checks['held']} bench comments were not published (a rule held them)")
    targets = {"ratio": {"value": ratio, "min": args.min_ratio, "met": ratio is None or ratio >= args.min_ratio,
                         "measured": ratio is not None},
               "latency_p99": {"value": lat["from_201"]["p99"], "max": args.max_p99,
                               "met": lat["from_201"]["p99"] is not None and lat["from_201"]["p99"] < args.max_p99}}
    return {"meta": meta, "median": med, "ratio_hooked_quiet": ratio, "ratio_per_round": per_round,
            "ratio_of_medians": of_medians,
            "ratio_paused_quiet": paused,
            "worker_msgs_per_s": statistics.median(rates) if (rates := [d["msgs_per_s"] for d in bench.drains
                                                                         if d["msgs_per_s"]]) else None,
            "web_cpu_ratio": round(med[HOOKED]["web_cpu_ms"] / med[QUIET]["web_cpu_ms"], 3) if per_round else None,
            "drains": bench.drains, "latency": lat, "checks": checks, "targets": targets,
            "passed": not problems and all(t["met"] for t in targets.values()), "valid": not problems,
            "problems": problems, "runs": bench.runs}


def print_report(res: dict, args: argparse.Namespace) -> None:
    m = res["meta"]
    started = ("deploy/run.sh" if m["worker_session"] == "run.sh" else "started apart") + (
        ", one session" if m.get("worker_shares_gunicorn_session") else ", the worker in a session of its own")
    print(f"webhooks bench: database {m['database']}, jobs {m['jobs']}, gunicorn 2 sync workers + 1 flask worker "
          f"({m['worker_threads']} threads; {started}), 3 webhooks on 'hooked' (every event type), "
          "receivers on 127.0.0.1")
    print("only webhooks are measured: email notifications are not built yet")
    if args.rounds:
        print(f"rate: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} round(s) "
              "quiet/hooked in turns, the worker running; each hooked run's messages drained before the next run")
        print(f"{'site':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'web CPU ms/post':>17}   per round "
              "(req/s, worker CPU share, msgs arrived during the run)")
        labels = {QUIET: "quiet", HOOKED: "hooked", PAUSED: "hooked, worker stopped"}
        for slug, label in labels.items():
            if not res["runs"][slug]:
                continue
            md, rs = res["median"][slug], res["runs"][slug]
            rounds = "; ".join(f"{r['rps']:.0f} {r['worker_cpu_share']:.2f} {r['messages_during']}" for r in rs)
            print(f"{label:<22}{md['rps']:>9.1f}{md['p50_ms']:>9.2f}{md['p99_ms']:>9.2f}{md['web_cpu_ms']:>17.3f}"
                  f"   {rounds}")
        t = res["targets"]["ratio"]
        print(f"ratio hooked/quiet req/s, median of the rounds: {t['value']:.3f} (rounds "
              f"{', '.join(f'{x:.3f}' for x in res['ratio_per_round'])}; ratio of the medians "
              f"{res['ratio_of_medians']:.3f})  (min {t['min']:.2f})  {'PASS' if t['met'] else 'FAIL'}")
        print(f"web CPU per post, hooked/quiet: {res['web_cpu_ratio']:.3f}")
        if res["ratio_paused_quiet"] is not None:
            print(f"ratio hooked with the worker stopped/quiet req/s, median of the rounds: "
                  f"{res['ratio_paused_quiet']:.3f} (not a target)")
    else:
        print("rate: not measured (--rounds 0)")
    for d in res["drains"]:
        print(f"drain after {d['label']}: {d['messages']} messages in {d['seconds']:.1f} s "
              f"({d['msgs_per_s'] or '-'} msg/s, worker CPU {d['worker_cpu_ms_per_msg'] or '-'} ms/msg)")
    if res["worker_msgs_per_s"]:
        print(f"worker alone (median of the drains): {res['worker_msgs_per_s']:.0f} msg/s, that is "
              f"{res['worker_msgs_per_s'] / PER_POST:.0f} hooked posts/s at {PER_POST} messages each")
    a = res["checks"]["audit"]
    print(f"messages: {a['received']} received, {a['distinct']} distinct (endpoint, webhook-id), {a['expected']} "
          f"expected; missing {a['missing']}, duplicates {a['duplicate_messages']} (+{a['duplicate_extra_copies']} "
          f"copies), bad signatures {a['bad_signatures']}, about other sites {a['not_hooked_site']}")
    lat = res["latency"]
    f2, fs = lat["from_201"], lat["from_send"]
    print(f"latency: {lat['posts']} posts at {args.rate:g}/s ({lat['posting_seconds']:.1f} s), {lat['messages']} of "
          f"{lat['expected']} messages")
    if f2["p50"] is not None:
        print(f"  arrival - 201 back   p50 {f2['p50']*1000:7.1f} ms  p95 {f2['p95']*1000:7.1f} ms  "
              f"p99 {f2['p99']*1000:7.1f} ms  max {f2['max']*1000:7.1f} ms  (min {f2['min']*1000:.1f})")
        print(f"  arrival - post sent  p50 {fs['p50']*1000:7.1f} ms  p95 {fs['p95']*1000:7.1f} ms  "
              f"p99 {fs['p99']*1000:7.1f} ms  max {fs['max']*1000:7.1f} ms")
    t = res["targets"]["latency_p99"]
    print(f"latency p99 < {t['max']:g} s: {'PASS' if t['met'] else 'FAIL'}")
    for p in res["problems"]:
        print(f"problem: {p}")
    print("PASS" if res["passed"] else "FAIL")


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally block on kill too
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even when started in the background
    tmp = Path(tempfile.mkdtemp(prefix="majlis-webhooks-"))
    stack: Stack | None = None
    receivers = Receivers()
    drop_db: Callable[[], None] = lambda: None
    engine = None
    redis_client = None
    try:
        wrk = ensure_wrk()
        jobs_url = args.jobs_url or f"sqlite:///{tmp / 'jobs.db'}"
        if jobs_url.startswith(("redis://", "rediss://")):
            import redis

            redis_client = redis.Redis.from_url(jobs_url, socket_timeout=5)
            try:
                redis_client.flushdb()
            except redis.RedisError as exc:
                raise SystemExit(f"bench failed: the jobs store {jobs_url} does not answer: {exc}") from None
        elif not jobs_url.startswith("sqlite:///"):
            raise SystemExit("bench failed: --jobs-url must be sqlite:///<file> or redis://...")
        db_url, drop_db, engine = prepare_database(args.database_url, tmp, f"majlis-webhooks-{secrets.token_hex(4)}")
        database = "PostgreSQL" if args.database_url else "SQLite"
        port = free_port()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("MAJLIS_")}
        env = {**base_env, "FLASK_APP": "wsgi", "MAJLIS_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
               "DATABASE_URL": db_url, "MAJLIS_JOBS_URL": jobs_url, "MAJLIS_RATELIMIT_ENABLED": "false",
               "RATELIMIT_STORAGE_URI": "memory://", "MAJLIS_WEBHOOK_ALLOW_PRIVATE": "true",
               "MAJLIS_LOG_LEVEL": "WARNING", "MAJLIS_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2",
               "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"), "MAJLIS_DEMO_KEY_FILE": str(tmp / "demo-key"),
               "MAJLIS_DEMO_MODERATOR_FILE": str(tmp / "demo-mod")}
        if args.worker_threads:
            env["MAJLIS_WORKER_THREADS"] = str(args.worker_threads)
        (tmp / "metrics").mkdir()
        log(f"flask db upgrade ({database})")
        up = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=False)
        if up.returncode:
            raise SystemExit(f"bench failed: flask db upgrade:\n{up.stderr}")
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            key = seed()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        receivers.start()
        stack = start_stack(args.worker_session, env, tmp)
        base = f"http://127.0.0.1:{port}"
        wait_ready(stack, base)
        auth = {"Authorization": f"Bearer {key}"}
        hook_secrets, hook_ids = [], []
        for h in range(HOOKS):
            status, body = request(f"{base}/api/v1/sites/{HOOKED}/webhooks", "POST",
                                   {"url": receivers.url(h), "events": EVENT_TYPES}, auth)
            if status != 201:
                raise SystemExit(f"bench failed: creating webhook {h} answered {status}: {body[:300]!r}")
            doc = json.loads(body)
            hook_secrets.append(doc["secret"])
            hook_ids.append(doc["webhook"]["id"])
        import sqlalchemy as sa

        def rows(slug: str) -> dict[str, int]:
            with engine.connect() as conn:
                got = conn.execute(sa.text(
                    "SELECT c.status, count(*) FROM comment c JOIN site s ON s.id = c.site_id WHERE s.slug = :s "
                    "GROUP BY c.status"), {"s": slug}).all()
            out = {str(s): n for s, n in got}
            out["total"] = sum(n for _, n in got)
            return out

        def backlog() -> dict[str, int]:
            with engine.connect() as conn:
                return {"undispatched": conn.execute(sa.text(
                            "SELECT count(*) FROM outbox_event WHERE dispatched_at IS NULL")).scalar_one(),
                        "pending": conn.execute(sa.text(
                            "SELECT count(*) FROM webhook_delivery WHERE status = 'pending'")).scalar_one()}

        bench = Bench(args, wrk, base, stack, receivers, rows, backlog)
        nonce = secrets.token_hex(4)
        scripts = {slug: post_script(tmp, slug, nonce) for slug in (QUIET, HOOKED)}
        log("checks: one second of each script on one connection; the worker delivers them")
        for slug in (QUIET, HOOKED):
            bench.wrk_run(slug, scripts[slug], 1, conns=1, threads=1, check=True)
        bench.drain("the checks")
        if receivers.counts()[1] == 0:
            raise SystemExit("bench failed: no message arrived after the check posts")
        if args.warmup > 0:
            for slug in (QUIET, HOOKED):
                log(f"warm-up: {slug} {args.warmup} s")
                bench.wrk_run(slug, scripts[slug], args.warmup)
            bench.drain("the warm-up")
        bench.drains.clear()
        for r in range(args.rounds):
            for slug in (QUIET, HOOKED):
                log(f"round {r + 1}/{args.rounds}: {slug}")
                bench.runs[slug].append(bench.wrk_run(slug, scripts[slug], args.duration))
            d = bench.drain(f"hooked round {r + 1}")
            log(f"drained {d['messages']} messages in {d['seconds']:.1f} s")
            if args.paused:
                log(f"round {r + 1}/{args.rounds}: hooked, the worker stopped")
                bench.runs[PAUSED].append(bench.wrk_run(HOOKED, scripts[HOOKED], args.duration, pause=True))
                d = bench.drain(f"hooked round {r + 1}, worker stopped")
                log(f"drained {d['messages']} messages in {d['seconds']:.1f} s")
        log(f"latency: {args.posts} posts at {args.rate:g}/s")
        lat = latency_phase(bench, args, nonce)
        bench.drain("the latency posts")
        bench.drains.pop()
        with engine.connect() as conn:
            got = conn.execute(sa.text("SELECT c.id, c.status, s.slug FROM comment c JOIN site s ON s.id = c.site_id")
                               ).all()
        comments = {cid: str(status) for cid, status, slug in got if slug == HOOKED}
        slug_of = {cid: slug for cid, _, slug in got}
        held = sum(1 for _, status, _ in got if str(status) not in ("published", "approved"))
        left = {"pending": 0, "failed": 0}
        for hid in hook_ids:  # the deliveries API: nothing pending or failed on any endpoint
            for status in left:
                code, body = request(f"{base}/api/v1/sites/{HOOKED}/webhooks/{hid}/deliveries?status={status}&limit=5",
                                     headers=auth)
                if code != 200:
                    raise SystemExit(f"bench failed: the deliveries API answered {code}: {body[:300]!r}")
                left[status] += len(json.loads(body)["deliveries"])
        with engine.connect() as conn:
            attempts = dict(conn.execute(sa.text(
                "SELECT attempts, count(*) FROM webhook_delivery GROUP BY attempts")).all())
        left.update(backlog())
        checks = {"audit": audit(bench, hook_secrets, comments, slug_of), "left": left, "held": held,
                  "attempts": {str(k): v for k, v in sorted(attempts.items())}}
        meta = {"database": database, "jobs": jobs_url.split(":")[0] if args.jobs_url else "sqlite (temp file)",
                "jobs_url": jobs_url if args.jobs_url else "sqlite:///<tmp>/jobs.db",
                "worker_threads": args.worker_threads or 4, "worker_session": args.worker_session,
                "worker_shares_gunicorn_session": os.getsid(stack.worker_pid) == os.getsid(stack.gunicorn_pid),
                "command": " ".join(sys.argv),
                "load_avg": os.getloadavg(), "comments": {QUIET: rows(QUIET), HOOKED: rows(HOOKED)}}
        res = summarise(bench, lat, checks, meta)
        print(json.dumps(res, indent=2)) if args.json else print_report(res, args)
        return 0 if res["passed"] else 1
    except KeyboardInterrupt:
        log("interrupted: stopping the processes and removing the temp files")
        return 130
    finally:
        if stack is not None:
            stack.stop()
        receivers.stop()
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.dispose()
        with contextlib.suppress(Exception):
            drop_db()
        if redis_client is not None:
            with contextlib.suppress(Exception):
                redis_client.flushdb()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
