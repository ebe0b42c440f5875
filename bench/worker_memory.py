"""Memory of a gunicorn worker after reading a 1,000-comment thread, against a Flask hello world in the same run.

Builds a throw-away database with the migrations (temp SQLite, or a fresh PostgreSQL schema),
seeds one post-moderated site with a thread of --comments comments through the real pipeline,
then, for each tree (this checkout, and any `--tree DIR` given, e.g. a `git archive` of an older
commit), starts gunicorn with deploy/gunicorn.conf.py as production runs it (2 sync workers,
MAJLIS_ENV=production, a random SECRET_KEY), reads every page of the thread (limit=100)
--reads times and reports each worker's VmRSS and, from /proc/<pid>/smaps_rollup, its PSS and USS
(Private_Clean + Private_Dirty). A Flask hello world under the same gunicorn, read as often, is
the floor.

    .venv/bin/python bench/worker_memory.py [--database-url postgresql+psycopg://...] [--tree /tmp/old] [--json]

Exit status 1 when a worker of this checkout is over --max-rss-mb (a generous ceiling: a
regression check, not the target).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.read_thread import NAMES, body_for, fetch, log, prepare_database, wait_ready  # noqa: E402

THREAD = "/api/v1/sites/bench/comments?thread=article-1&limit=100"


def parse_args() -> argparse.Namespace:
    """Read the command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--comments", type=int, default=1000, help="comments in the thread")
    p.add_argument("--reads", type=int, default=5, help="times every page of the thread is read")
    p.add_argument("--tree", action="append", default=[], help="another checkout to measure (uses this venv)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the servers of this checkout (repeatable), e.g. MAJLIS_PRELOAD=0")
    p.add_argument("--no-preload-too", action="store_true",
                   help="also measure this checkout with MAJLIS_PRELOAD=0 (the app loaded in each worker)")
    p.add_argument("--max-rss-mb", type=float, default=100.0, help="fail when a worker of this checkout is over it")
    p.add_argument("--database-url", help="PostgreSQL URL (a fresh schema, dropped after); default: temp SQLite")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    return p.parse_args()


def seed(count: int) -> None:
    """The site and a thread of `count` visible comments, in-process (settings from os.environ)."""
    from comment_service import create_app, services
    from comment_service.extensions import db
    from comment_service.moderation.status import ModerationMode

    app = create_app(env="production")
    with app.app_context():
        site = services.create_site("bench", "Bench", [], ModerationMode.POST)
        ids: list[int] = []
        for i in range(count):
            data = {"thread": "article-1", "thread_title": "t", "thread_url": None, "author_url": None,
                    "parent_id": ids[i // 2] if i % 4 == 3 else None,
                    "author_name": NAMES[i % len(NAMES)], "author_email": f"reader{i}@example.org", "body": body_for(i)}
            ids.append(services.submit_comment(site, data, "127.0.0.1").comment["id"])
        db.engine.dispose()


def children(pid: int) -> list[int]:
    """The processes whose parent is pid (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return sorted(found)


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of a process in MB, from /proc."""
    kb: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        kb[name] = int(value.split()[0])
    return {"rss": round(kb["Rss"] / 1024, 1), "pss": round(kb["Pss"] / 1024, 1),
            "uss": round((kb["Private_Clean"] + kb["Private_Dirty"]) / 1024, 1)}


def start(root: Path, target: str | None, env: dict[str, str], tmp: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn on a free loopback port: the tree's deploy/gunicorn.conf.py (target None), or the hello app."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**env, "MAJLIS_BIND": f"127.0.0.1:{port}", "MAJLIS_STACK_DIR": str(tmp / f"stack-{port}")}
    if target is None:
        cmd = [str(BIN / "gunicorn"), "--config", str(root / "deploy" / "gunicorn.conf.py"), "--chdir", str(root)]
    else:
        cmd = [str(BIN / "gunicorn"), "--workers", "2", "--worker-class", "sync", "--log-level", "warning",
               "--bind", f"127.0.0.1:{port}", "--chdir", str(root), target]
    log_file = (tmp / f"gunicorn-{port}.log").open("w")
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file, stderr=log_file), f"http://127.0.0.1:{port}"


def measure(name: str, proc: subprocess.Popen, base: str, paths: list[str], reads: int) -> dict:
    """Read the paths `reads` times (each worker gets its share), settle, then take each worker's memory."""
    for _ in range(reads):
        for path in paths:
            for _worker in range(2):  # sync workers take turns on the socket: both see every page
                status, _, _ = fetch(base + path)
                if status != 200:
                    raise SystemExit(f"bench failed: {name}: {path} answered {status}")
    time.sleep(0.5)
    workers = children(proc.pid)
    per = [memory(pid) for pid in workers]
    master = memory(proc.pid)
    return {"name": name, "workers": per, "master": master,
            "total_pss": round(master["pss"] + sum(w["pss"] for w in per), 1),
            **{f"{k}_mean": round(statistics.mean(w[k] for w in per), 1) for k in ("rss", "pss", "uss")}}


def pages(base: str, count: int) -> list[str]:
    """Every page's URL, following next_cursor."""
    out, path = [], THREAD
    while True:
        status, _, body = fetch(base + path)
        if status != 200:
            raise SystemExit(f"bench failed: {path} answered {status}")
        out.append(path)
        cursor = json.loads(body).get("next_cursor")
        if not cursor:
            break
        path = f"{THREAD}&cursor={cursor}"
    if len(out) != (count + 99) // 100:
        raise SystemExit(f"bench failed: {len(out)} pages for {count} comments")
    return out


def main() -> int:
    """Set up, measure each tree and the hello world, report, clean up."""
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp, procs, drop_db = Path(tempfile.mkdtemp(prefix="majlis-mem-")), [], lambda: None
    try:
        db_url, drop_db = prepare_database(args.database_url, tmp)
        env = {**os.environ, "FLASK_APP": "wsgi", "MAJLIS_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
               "DATABASE_URL": db_url, "RATELIMIT_STORAGE_URI": f"sqlite:///{tmp / 'ratelimits.db'}"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        up = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=False)
        if up.returncode:
            raise SystemExit(f"bench failed: flask db upgrade:\n{up.stderr}")
        os.environ.update(env)
        log(f"seeding: 1 site, 1 thread, {args.comments} comments")
        seed(args.comments)
        extra = dict(e.split("=", 1) for e in args.env)
        results = []
        targets = [("this checkout", ROOT, None, {**env, **extra})]
        if args.no_preload_too:
            targets.append(("this checkout, MAJLIS_PRELOAD=0", ROOT, None, {**env, **extra, "MAJLIS_PRELOAD": "0"}))
        targets += [(f"tree {t}", Path(t).resolve(), None, env) for t in args.tree]
        targets.append(("hello world", ROOT, "bench.hello_app:app", env))
        for name, root, target, tenv in targets:
            proc, base = start(root, target, tenv, tmp)
            procs.append(proc)
            wait_ready(base + ("/healthz" if target is None else "/"), proc)
            paths = pages(base, args.comments) if target is None else ["/"]
            log(f"{name}: reading {len(paths)} page(s) x {args.reads} on each worker")
            results.append(measure(name, proc, base, paths, args.reads))
            proc.terminate()
            proc.wait(15)
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            print("MB: per worker (mean of two); each worker's RSS/PSS/USS; the master's; PSS of all three")
            print(f"{'server':<34}{'RSS':>7}{'PSS':>7}{'USS':>7}   {'workers':<32}{'master':<18}{'total PSS':>9}")
            for r in results:
                per = "; ".join(f"{w['rss']}/{w['pss']}/{w['uss']}" for w in r["workers"])
                m = r["master"]
                print(f"{r['name'][:33]:<34}{r['rss_mean']:>7}{r['pss_mean']:>7}{r['uss_mean']:>7}   {per:<32}"
                      f"{m['rss']}/{m['pss']}/{m['uss']:<6}{r['total_pss']:>9}")
        worst = max(w["rss"] for w in results[0]["workers"])
        if worst > args.max_rss_mb:
            print(f"problem: a worker of this checkout has {worst} MB RSS, over {args.max_rss_mb}")
            return 1
        return 0
    finally:
        for proc in procs:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            proc.kill()
        drop_db()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
