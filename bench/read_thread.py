"""Load test of the public thread read, measured against a Flask hello world in the same run.

Builds a throw-away database with the migrations, seeds one post-moderated site with a thread of
100 comments, starts two identical gunicorns (the service and bench/hello_app.py) on loopback ports
and runs wrk against both, interleaved. Passes when thread req/s >= --min-ratio x hello req/s.

    .venv/bin/python bench/read_thread.py --duration 10 --connections 32 --rounds 2 [--json]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
THREAD_PATH = "/api/v1/sites/bench/comments?thread=article-1&limit=100"
SENTENCES = [[  # Arabic, English
    "أتفق مع الكاتب في أن المجالس البلدية تحتاج إلى رقابة أوضح على الميزانية وعلى طريقة صرفها.",
    "لكن المقال لم يذكر رأي السكان في الأحياء القديمة الذين تأثروا بالمشروع مباشرة منذ بدايته.",
    "قرأت التقرير الرسمي ووجدت أرقاماً مختلفة عن التي نُشرت هنا، فأرجو من المحرر التوضيح.",
], [
    "I agree with the author that the council needs clearer oversight of its budget and spending.",
    "The article does not mention what residents of the old quarter think about the plan.",
    "I read the official report and the figures there differ from the ones quoted here.",
]]
NAMES = ["سارة", "Omar K.", "ليلى م.", "Daniel", "يوسف", "Hannah W."]
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30}


def parse_args() -> argparse.Namespace:
    """Read the command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=32, help="wrk connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--rounds", type=int, default=2, help="hello/thread pairs, interleaved")
    p.add_argument("--min-ratio", type=float, default=0.50, help="thread/hello req/s needed to pass")
    p.add_argument("--database-url", help="PostgreSQL URL (a fresh schema, dropped after); default: temp SQLite")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    return p.parse_args()


def log(msg: str) -> None:
    """Report progress on stderr, so stdout holds only the results."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def ensure_wrk() -> str:
    """Return the path of wrk, installing Debian's package if it is missing."""
    if not shutil.which("wrk"):
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise SystemExit("bench failed: wrk is missing and apt-get (as root) is not available to install it")
        log("wrk missing: apt-get install -y wrk")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, stdout=subprocess.DEVNULL, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, check=False)
            subprocess.run(install, stdout=subprocess.DEVNULL, check=False)
    if path := shutil.which("wrk"):
        return path
    raise SystemExit("bench failed: `apt-get install wrk` did not install wrk; install it by hand and re-run")


def prepare_database(url: str | None, tmp: Path) -> tuple[str, Callable[[], None]]:
    """Return the DATABASE_URL (temp SQLite, or a fresh PostgreSQL schema) and the function that drops it."""
    if url is None:
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    import sqlalchemy as sa

    from config.settings import normalise_database_url

    target = sa.make_url(normalise_database_url(url))
    if target.get_backend_name() != "postgresql" or target.host not in {None, "127.0.0.1", "localhost", "::1"}:
        raise SystemExit("bench failed: --database-url must be a local PostgreSQL (leave it out for temp SQLite)")
    engine, schema = sa.create_engine(target), f"bench_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    app_url = engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
    return app_url.render_as_string(hide_password=False), drop


def body_for(i: int) -> str:
    """Write a comment of 250-350 characters: three or four sentences, Arabic for even i, English for odd i."""
    return " ".join(SENTENCES[i % 2][(i + k) % 3] for k in range(3 + i // 2 % 2))


def seed() -> None:
    """Create the site and a thread of 100 visible comments, in-process (settings from os.environ)."""
    from comment_service import create_app, services
    from comment_service.extensions import db
    from comment_service.moderation.status import ModerationMode

    app = create_app(env="production")
    with app.app_context():
        site = services.create_site("bench", "Bench", [], ModerationMode.POST)
        ids: list[int] = []
        for i in range(100):
            data = {"thread": "article-1", "thread_title": "t", "thread_url": None, "author_url": None,
                    "parent_id": ids[i // 2] if i % 4 == 3 else None,  # every fourth comment is a reply
                    "author_name": NAMES[i % len(NAMES)], "author_email": f"reader{i}@example.org", "body": body_for(i)}
            comment = services.submit_comment(site, data, "127.0.0.1").comment  # one author each: no duplicate holds
            if comment["status"] not in ("published", "approved"):
                raise SystemExit(f"bench failed: seed comment {i} was held")
            ids.append(comment["id"])
        db.engine.dispose()


def start_server(target: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start gunicorn (2 sync workers, the same flags for every target) on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(BIN / "gunicorn"), "--workers", "2", "--worker-class", "sync", "--log-level", "warning",
           "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), target]
    return subprocess.Popen(cmd, cwd=ROOT, env=env), f"http://127.0.0.1:{port}"


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET url and return status, headers and body (error statuses and 304 included)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Poll url until it answers 200; fail if gunicorn exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if fetch(url)[0] == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"bench failed: {url} did not answer in {timeout:.0f} s (gunicorn status {proc.returncode})")


def parse_wrk(out: str) -> dict:
    """Parse req/s, p50/p99 latency (ms), requests, bytes per request and error counts from wrk."""
    def find(pattern: str) -> re.Match:
        if (m := re.search(pattern, out)) is None:
            raise SystemExit(f"bench failed: unexpected wrk output (no {pattern!r}):\n{out}")
        return m

    p50, p99 = (float(m[1]) * UNITS[m[2]] for m in (find(rf"\s{q}%\s+([\d.]+)(us|ms|s|m)\b") for q in (50, 99)))
    total = find(r"(\d+) requests in [\d.]+\w+, ([\d.]+)([KMG]?B) read")
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(find(r"Requests/sec:\s+([\d.]+)")[1]), "p50_ms": p50, "p99_ms": p99,
            "requests": int(total[1]), "bytes_per_request": float(total[2]) * UNITS[total[3]] / max(int(total[1]), 1),
            "non_2xx": int(bad[1]) if bad else 0,
            "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, sock.groups()), strict=True))
            if sock else {}}


def server_cpu_seconds(master: int) -> float:
    """User + system CPU time of a gunicorn master and its live workers, in seconds."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == master or int(fields[1]) == master:
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def run_wrk(wrk: str, url: str, args: argparse.Namespace, header: str | None = None, server: int | None = None) -> dict:
    """Run wrk once against url with the shared settings (and an optional request header); with the
    server's master pid, also the server's CPU time per request (µs), which wrk's own share of the
    two cores does not blur as it blurs req/s."""
    cmd = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    cpu = server_cpu_seconds(server) if server else 0.0
    done = subprocess.run([*cmd, *(["-H", header] if header else []), url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench failed: wrk exited with {done.returncode}: {done.stderr or done.stdout}")
    out = parse_wrk(done.stdout)
    if server:
        out["cpu_us"] = round((server_cpu_seconds(server) - cpu) * 1e6 / max(out["requests"], 1), 1)
    return out


def summarise(runs: dict[str, list[dict]], body_size: int, min_ratio: float) -> dict:
    """Compute medians per endpoint, the ratios, and every problem that makes the run fail."""
    med = {k: {f: statistics.median(r[f] for r in rs) for f in ("rps", "p50_ms", "p99_ms", "cpu_us")}
           for k, rs in runs.items()}
    problems = [f"{k}: {r['non_2xx']} non-2xx responses" for k, rs in runs.items() for r in rs if r["non_2xx"]]
    problems += [f"{k}: socket errors {r['socket_errors']}" for k, rs in runs.items() for r in rs
                 if r["socket_errors"].get("connect") or r["socket_errors"].get("timeout")]
    problems += [f"thread: {r['bytes_per_request']:.0f} B read per request, less than the {body_size} B body"
                 for r in runs["thread"] if r["bytes_per_request"] < 0.98 * body_size]
    ratio = round(med["thread"]["rps"] / med["hello"]["rps"], 3)
    if ratio < min_ratio:
        problems.append(f"thread/hello ratio {ratio:.3f} is below {min_ratio:.2f}")
    return {"median": med, "ratio_thread_hello": ratio, "min_ratio": min_ratio,
            "cpu_ratio_thread_hello": round(med["thread"]["cpu_us"] / max(med["hello"]["cpu_us"], 0.1), 3),
            "ratio_304_hello": round(med["thread_304"]["rps"] / med["hello"]["rps"], 3),
            "body_bytes": body_size, "passed": not problems, "problems": problems, "runs": runs}


def print_table(res: dict, args: argparse.Namespace) -> None:
    """Print the results as a table with the ratios and the verdict."""
    labels = {"hello": "hello world (GET /)", "thread": f"thread read (200, {res['body_bytes']:,} B)",
              "thread_304": "thread 304 (If-None-Match)"}
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, {args.rounds} round(s), medians")
    print(f"{'endpoint':<30}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'CPU µs':>9}   req/s per run")
    for key, label in labels.items():
        m, rs = res["median"][key], res["runs"][key]
        per_run = ", ".join(f"{r['rps']:.0f}" for r in rs)
        print(f"{label:<30}{m['rps']:>9.1f}{m['p50_ms']:>9.2f}{m['p99_ms']:>9.2f}"
              f"{sum(r['non_2xx'] for r in rs):>9}{m['cpu_us']:>9.0f}   {per_run}")
    verdict = "PASS" if res["passed"] else "FAIL"
    print(f"ratio thread/hello: {res['ratio_thread_hello']:.3f}  (min {res['min_ratio']:.2f})  {verdict}")
    print(f"ratio 304/hello:    {res['ratio_304_hello']:.3f}")
    print(f"server CPU per request, thread/hello: {res['cpu_ratio_thread_hello']:.3f}")
    for p in res["problems"]:
        print(f"problem: {p}")


def main() -> int:
    """Set up, check, measure, report and clean up; 0 only when the ratio holds and nothing failed."""
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the finally block runs on kill too
    sys.path.insert(0, str(ROOT))
    tmp, servers, drop_db = Path(tempfile.mkdtemp(prefix="majlis-bench-")), [], lambda: None
    try:
        wrk = ensure_wrk()
        db_url, drop_db = prepare_database(args.database_url, tmp)
        env = {**os.environ, "FLASK_APP": "wsgi", "MAJLIS_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
               "DATABASE_URL": db_url, "MAJLIS_RATELIMIT_ENABLED": "false",
               # No access lines on either side (gunicorn runs both with --log-level warning and no
               # access log): the app's own JSON access line would be measured against nothing.
               "MAJLIS_LOG_LEVEL": "WARNING"}
        log("flask db upgrade")
        upgrade = [str(BIN / "flask"), "db", "upgrade"]
        if (up := subprocess.run(upgrade, cwd=ROOT, env=env, capture_output=True, text=True, check=False)).returncode:
            raise SystemExit(f"bench failed: flask db upgrade:\n{up.stderr}")
        os.environ.update(env)
        log("seeding: 1 site, 1 thread, 100 comments")
        seed()
        servers = [start_server("wsgi:app", env), start_server("bench.hello_app:app", env)]
        (proc_a, base_a), (proc_b, base_b) = servers
        wait_ready(base_a + "/healthz", proc_a)
        wait_ready(base_b + "/", proc_b)
        status, headers, body = fetch(base_a + THREAD_PATH)
        count = len(json.loads(body).get("comments", [])) if status == 200 else None
        if status != 200 or count != 100:
            raise SystemExit(f"bench failed: the thread read answered {status} with {count} comments, not 100")
        etag = headers["ETag"]
        log(f"thread read OK: 200, 100 comments, {len(body):,} bytes, ETag {etag}")
        if (revalidated := fetch(base_a + THREAD_PATH, {"If-None-Match": etag})[0]) != 304:
            raise SystemExit(f"bench failed: revalidation with If-None-Match answered {revalidated}, not 304")
        runs: dict[str, list[dict]] = {"hello": [], "thread": [], "thread_304": []}
        for r in range(args.rounds):
            for key, url, pid in (("hello", base_b + "/", proc_b.pid), ("thread", base_a + THREAD_PATH, proc_a.pid)):
                log(f"round {r + 1}/{args.rounds}: {key}")
                runs[key].append(run_wrk(wrk, url, args, server=pid))
        log("thread 304 (If-None-Match)")
        runs["thread_304"].append(run_wrk(wrk, base_a + THREAD_PATH, args, f"If-None-Match: {etag}", proc_a.pid))
        res = summarise(runs, len(body), args.min_ratio)
        print(json.dumps(res, indent=2)) if args.json else print_table(res, args)
        return 0 if res["passed"] else 1
    except KeyboardInterrupt:
        log("interrupted: stopping the servers and removing the temp files")
        return 130
    finally:
        for proc, _ in servers:  # SIGTERM, and SIGKILL if a gunicorn is still there after 10 s
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            proc.kill()
        drop_db()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
