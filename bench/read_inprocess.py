"""The thread read's own CPU time, in-process (no gunicorn, no network), against a Flask hello world.

Seeds a temp SQLite database as bench/read_thread.py does (100 comments), then calls both WSGI apps
directly with the same environ, interleaved, `--rounds` times `--calls` requests each, and keeps
the fastest round of each (CPU time of this process, so other processes' load counts little).
This is the app's share of a request; under gunicorn both sides also pay gunicorn's parsing and
the socket (~200 µs here), which read_thread.py's CPU column includes.

The thread is timed twice: at MAJLIS_LOG_LEVEL=WARNING, as the load benchmarks run it, and with
its JSON access line (production's default INFO level; the lines go to /dev/null), so the line's
cost is measured beside the read in the same run.

    .venv/bin/python bench/read_inprocess.py [--rounds 7] [--calls 1500] [--profile]
"""
from __future__ import annotations

import argparse
import io
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def call(app, path: str, n: int) -> None:
    """Run n GET requests of path through the WSGI app, reading each body."""
    p, _, q = path.partition("?")
    base = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000", "PATH_INFO": p, "QUERY_STRING": q, "wsgi.errors": sys.stderr}
    for _ in range(n):
        body = app(dict(base, **{"wsgi.input": io.BytesIO(b"")}), lambda status, headers, exc_info=None: None)
        for _chunk in body:
            pass
        if hasattr(body, "close"):
            body.close()


def main() -> int:
    """Seed, warm up, time both apps interleaved, print the fastest rounds and their ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=1500, help="requests per round and app")
    p.add_argument("--profile", action="store_true", help="then cProfile the thread read (top 30 by own time)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="majlis-inproc-"))
    try:
        os.environ.update({"MAJLIS_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "FLASK_APP": "wsgi",
                           "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "MAJLIS_RATELIMIT_ENABLED": "false",
                           "MAJLIS_LOG_LEVEL": "WARNING", "RATELIMIT_STORAGE_URI": f"sqlite:///{tmp / 'rl.db'}"})
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, capture_output=True, check=True)
        sys.path.insert(0, str(ROOT))
        from bench.hello_app import app as hello
        from bench.read_thread import THREAD_PATH, seed

        seed()
        import logging

        from comment_service.logs import ACCESS_LOGGER
        from wsgi import app

        for handler in logging.getLogger().handlers:  # the app's own handler: lines to /dev/null
            if getattr(handler, "_majlis", False):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (open for the whole run)
        access = logging.getLogger(ACCESS_LOGGER)

        def thread_logged(n: int) -> None:
            access.setLevel(logging.INFO)
            try:
                call(app, THREAD_PATH, n)
            finally:
                access.setLevel(logging.NOTSET)

        call(app, THREAD_PATH, 300)
        thread_logged(300)
        call(hello, "/", 300)
        best: dict[str, float] = {}
        runs = (("hello", lambda n: call(hello, "/", n)), ("thread", lambda n: call(app, THREAD_PATH, n)),
                ("logged", thread_logged))
        for _ in range(args.rounds):
            for name, run in runs:
                started = time.process_time()
                run(args.calls)
                best[name] = min(best.get(name, float("inf")), (time.process_time() - started) / args.calls)
        print(f"in-process CPU per request: hello {best['hello'] * 1e6:.1f} µs, thread {best['thread'] * 1e6:.1f} µs, "
              f"ratio {best['thread'] / best['hello']:.2f}; with its JSON access line "
              f"{best['logged'] * 1e6:.1f} µs (the line: {(best['logged'] - best['thread']) * 1e6:.1f} µs)")
        if args.profile:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.runcall(call, app, THREAD_PATH, args.calls)
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
