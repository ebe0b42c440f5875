"""Where a comment post and a counts request spend their time, in-process (cProfile, Flask test client).

Builds the same site as bench/vs_isso.py (every moderation rule configured, a few bans, 20 count
threads) in a throw-away SQLite database or a fresh PostgreSQL schema, with rate limits on in
Redis, then sends N posts (the widget's request: JSON body, Origin, Idempotency-Key, a client
address of its own in X-Forwarded-For) and N counts requests for 20 threads through the test
client. For each kind it prints:

- the time per request without the profiler (wall and process CPU),
- the SQL statements per request (counted at the engine, as tests/test_sql_budget.py does) and
  the time from sending each to having its rows,
- the top functions by cumulative and by own time (cProfile),
- the share of own time per area (sanitising, email validation, HMACs, marshmallow, SQL, rate
  limiter, Flask, ...): standard-library and built-in functions (regex, str, socket calls) are
  charged to the area of whoever called them.

    .venv/bin/python bench/profile_requests.py --requests 300 [--database-url URL] [--save DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.read_thread import log  # noqa: E402
from bench.vs_isso import (  # noqa: E402
    BIN,
    COUNT_KEYS,
    SLUG,
    client_ip,
    post_bodies,
    prepare_database,
    seed_majlis,
)

ORIGIN = "https://news.example"
STDLIB = sysconfig.get_paths()["stdlib"]
# Own time is charged by where a function lives; the first fragment that matches wins.
AREAS = [
    ("sanitising/linkifying", ("comment_service/moderation/sanitize.py", "/bleach/", "/html5lib/", "/webencodings/")),
    ("email validation", ("/email_validator/", "/idna/", "/dns/")),
    ("HMAC/key derivations", ("/hmac.py", "/hashlib.py", "/secrets.py", "/base64.py", "_hashlib", "openssl_",
                              "comment_service/moderation/privacy.py", "comment_service/services/identity.py")),
    ("marshmallow loads/dumps", ("/marshmallow/", "comment_service/schemas/")),
    ("SQL (SQLAlchemy and driver)", ("/sqlalchemy/", "/psycopg/", "/psycopg_binary/", "/sqlite3/", "sqlite3.",
                                     "psycopg", "comment_service/database.py")),
    ("rate limiter (Flask-Limiter, limits, redis)", ("/flask_limiter/", "/limits/", "/redis/", "/limits_sqlite.py",
                                                     "comment_service/ratelimit.py")),
    ("Flask/Werkzeug (and the test client)", ("/flask/", "/werkzeug/", "/blinker/", "/flask_sqlalchemy/",
                                              "/flask_wtf/", "/itsdangerous/", "/jinja2/", "/markupsafe/")),
    ("JSON", ("/json/", "_json")),
    ("metrics, logs, request hooks", ("/prometheus_client/", "comment_service/metrics.py", "comment_service/observe.py",
                                      "comment_service/logs.py", "comment_service/security_headers.py",
                                      "comment_service/errors.py", "/logging/")),
    ("text rules, words (moderation)", ("comment_service/moderation/",)),
    ("Majlis services and views", ("comment_service/",)),
    ("harness", ("bench/profile_requests.py",)),
]


def parse_args() -> argparse.Namespace:
    """Read the command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300, help="posts and counts requests to profile (each)")
    p.add_argument("--top", type=int, default=25, help="functions to list")
    p.add_argument("--database-url", help="PostgreSQL URL (a fresh schema, dropped after); default: temp SQLite")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="the rate-limit store (memory:// works)")
    p.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                   help="what the profile measures: this process's CPU (waits on SQLite's fsync, PostgreSQL or "
                        "Redis left out) or wall-clock time")
    p.add_argument("--save", type=Path, help="also write post.prof and counts.prof (pstats) to this directory")
    return p.parse_args()


def direct_area(func: tuple[str, int, str]) -> str | None:
    """The area of a function by its file (built-ins by their name); None: charge its callers."""
    file, _, name = func
    where = file if file != "~" else name
    for area, fragments in AREAS:
        if any(f in where for f in fragments):
            return area
    if file == "~" or file.startswith(STDLIB) and "site-packages" not in file or "/regex/" in file \
            or file.startswith("<"):
        return None
    return "other libraries"


def area_shares(stats: pstats.Stats) -> dict[str, float]:
    """Own time per area, in seconds; built-ins and the standard library go to their callers' areas."""
    raw = stats.stats  # type: ignore[attr-defined]
    memo: dict[tuple, dict[str, float]] = {}

    def mix(func: tuple, seen: frozenset) -> dict[str, float]:
        if func in memo:
            return memo[func]
        if (area := direct_area(func)) is not None:
            return {area: 1.0}
        callers = raw.get(func, (0, 0, 0, 0, {}))[4]
        total = sum(c[2] for c in callers.values())
        if not callers or func in seen:
            return {"unattributed (stdlib at the top)": 1.0}
        out: dict[str, float] = defaultdict(float)
        for caller, c in callers.items():
            weight = c[2] / total if total else 1 / len(callers)
            for area, w in mix(caller, seen | {func}).items():
                out[area] += weight * w
        memo[func] = dict(out)
        return memo[func]

    shares: dict[str, float] = defaultdict(float)
    for func, (_, _, tt, _, _) in raw.items():
        for area, w in mix(func, frozenset()).items():
            shares[area] += tt * w
    return dict(shares)


def top(stats: pstats.Stats, key: str, n: int) -> str:
    """pstats' listing of the top n functions by key, paths shortened."""
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats(key).print_stats(n)
    text = out.getvalue()
    for prefix in sorted({str(ROOT) + "/", sysconfig.get_paths()["purelib"] + "/", STDLIB + "/"}, key=len,
                         reverse=True):
        text = text.replace(prefix, "")
    return text[text.find("   ncalls"):].rstrip()


def components(app, document: str, n: int) -> list[tuple[str, float]]:
    """The CPU-heavy parts of a post, each run alone n times in a request context (no SQL, no Redis)."""
    from datetime import UTC, datetime

    from comment_service import services
    from comment_service.moderation import privacy
    from comment_service.moderation.rules import Submission, evaluate
    from comment_service.moderation.sanitize import count_links, sanitize_body
    from comment_service.schemas import comment_create_schema, comment_created_schema
    from comment_service.schemas.fields import validated_email
    from comment_service.services import idempotency
    from comment_service.services.identity import avatar_for, email_hmac, ip_hmac
    from comment_service.services.sites import site_policy

    doc = json.loads(document)
    out: list[tuple[str, float]] = []

    def timed(label: str, call) -> None:
        """Mean CPU of call(i) over n distinct inputs (sanitize_body and others remember recent texts)."""
        call(-1)
        t0 = time.process_time()
        for i in range(n):
            call(i)
        out.append((label, (time.process_time() - t0) * 1000 / n))

    with app.test_request_context("/", headers={"X-Forwarded-For": "10.0.0.1"}):
        site = services.get_site(SLUG)
        policy = site_policy(site)
        bodies = [f"{doc['body']} {i}" for i in range(-1, n)]
        docs = [{**doc, "body": b, "author_email": f"r{i}@example.org"} for i, b in enumerate(bodies, -1)]
        texts = [json.dumps(d, ensure_ascii=False) for d in docs]
        htmls = [sanitize_body(b) for b in bodies]
        data = comment_create_schema.load(doc)
        submitted = services.Submitted(
            {"id": 1, "thread": data["thread"], "parent_id": None, "author": {"name": data["author_name"],
             "url": None, "avatar": "0123456789abcdef"}, "body_html": htmls[0], "status": "published",
             "created_at": datetime.now(UTC)}, privacy.new_token(), datetime.now(UTC))
        htmls = []  # sanitize_body is timed on texts it has not seen
        bodies = [b + " x" for b in bodies]
        timed("json.loads of the request body", lambda i: json.loads(texts[i + 1]))
        timed("comment_create_schema.load (every field's rules, the email's too)",
              lambda i: comment_create_schema.load(docs[i + 1]))
        timed("  of which validated_email (email-validator)", lambda i: validated_email(docs[i + 1]["author_email"]))
        timed("sanitize_body (bleach clean and linkify)", lambda i: htmls.append(sanitize_body(bodies[i + 1])))
        timed("count_links", lambda i: count_links(htmls[i + 1]))
        timed("rules: evaluate(policy, Submission), word lists on the folded text",
              lambda i: evaluate(policy, Submission(body=bodies[i + 1], link_count=0)))
        timed("HMACs: email, IP, avatar, edit token, idempotency key and request",
              lambda i: (email_hmac(docs[i + 1]["author_email"]), ip_hmac(f"10.0.{i & 255}.1"),
                         avatar_for(site, docs[i + 1]["author_email"]), privacy.token_digest(privacy.new_token()),
                         idempotency.keyed_request(site, f"k-{i}", docs[i + 1])))
        timed("comment_created_schema.dump (the 201's body)", lambda i: comment_created_schema.dump(submitted))
        timed("the 201 as JSON (flask.json.dumps)", lambda i: app.json.dumps(comment_created_schema.dump(submitted)))
    return out


def variants(post, n: int) -> list[tuple[str, float]]:
    """CPU per post as the widget sends it, without its Idempotency-Key, without the rate limiter, without both."""
    from comment_service.extensions import limiter

    cases = [("as the widget sends it", True, True), ("without the Idempotency-Key", False, True),
             ("rate limiter off (limiter.enabled = False)", True, False), ("neither", False, False)]
    best: dict[str, float] = {}
    for _ in range(2):
        for label, keyed, limited in cases:
            limiter.enabled = limited
            try:
                t0 = time.process_time()
                for _ in range(n):
                    post(keyed)
                ms = (time.process_time() - t0) * 1000 / n
            finally:
                limiter.enabled = True
            best[label] = min(best.get(label, ms), ms)
    return list(best.items())


def main() -> int:
    """Seed, warm up, time, count SQL, profile, report, clean up."""
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="majlis-profile-"))
    drop_db = lambda: None  # noqa: E731
    redis_client, redis_before = None, set()
    try:
        if args.redis_url.startswith("redis"):
            import redis

            redis_client = redis.Redis.from_url(args.redis_url, socket_timeout=5)
            redis_client.ping()
            redis_before = set(redis_client.scan_iter(match="LIMITS*", count=1000))
        db_url, drop_db, engine = prepare_database(args.database_url, tmp, "majlis-profile")
        env = {"FLASK_APP": "wsgi", "MAJLIS_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
               "DATABASE_URL": db_url, "MAJLIS_RATELIMIT_ENABLED": "true", "RATELIMIT_STORAGE_URI": args.redis_url,
               "MAJLIS_TRUSTED_PROXIES": "1", "MAJLIS_LOG_LEVEL": "WARNING"}
        up = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, check=False)
        if up.returncode:
            raise SystemExit(f"profile failed: flask db upgrade:\n{up.stderr}")
        os.environ.update(env)
        log("seeding: the bench site, 20 count threads")
        seed_majlis(ORIGIN, [(k, i % 5 + 1) for i, k in enumerate(COUNT_KEYS)], hold_first_time=False)

        import sqlalchemy as sa

        from comment_service import create_app
        from comment_service.extensions import db

        app = create_app(env="production")
        client = app.test_client()
        bodies = post_bodies("majlis", ORIGIN)
        nonce, seq = secrets.token_hex(4), iter(range(10**9))
        counts_url = f"/api/v1/sites/{SLUG}/counts?" + "&".join(f"thread={k}" for k in COUNT_KEYS)

        def post(keyed: bool = True) -> None:
            i = next(seq)
            body = bodies[i % len(bodies)].replace("@I@", str(i)).replace("@K@", str(i % 50))
            headers = {"Content-Type": "application/json", "Accept": "application/json", "Origin": ORIGIN,
                       "X-Forwarded-For": client_ip(i), **({"Idempotency-Key": f"{nonce}-{i}"} if keyed else {})}
            r = client.post(f"/api/v1/sites/{SLUG}/comments", data=body.encode(), headers=headers)
            if r.status_code != 201 or r.get_json()["comment"]["status"] != "published":
                raise SystemExit(f"profile failed: a post answered {r.status_code}: {r.get_data()[:300]!r}")

        def counts() -> None:
            r = client.get(counts_url, headers={"Origin": ORIGIN, "Accept": "application/json"})
            if r.status_code != 200 or len(r.get_json()["counts"]) != 20:
                raise SystemExit(f"profile failed: counts answered {r.status_code}: {r.get_data()[:300]!r}")

        with app.app_context():
            bound = db.engine
        report: dict[str, dict] = {}
        for name, call in (("post", post), ("counts", counts)):
            for _ in range(30):  # warm-up: compiled statements, caches, first thread of each of 50
                call()
            sent: list[str] = []
            sql_time = [0.0]

            def before(conn, cursor, statement, *a, _sent=sent) -> None:
                _sent.append(statement)
                conn.info["t0"] = time.perf_counter()

            def after(conn, cursor, statement, *a, _t=sql_time) -> None:
                _t[0] += time.perf_counter() - conn.info.pop("t0", time.perf_counter())

            sa.event.listen(bound, "before_cursor_execute", before)
            sa.event.listen(bound, "after_cursor_execute", after)
            w0, t0 = time.perf_counter(), os.times()
            for _ in range(args.requests):
                call()
            wall, t1 = time.perf_counter() - w0, os.times()
            cpu, system = (t1.user + t1.system) - (t0.user + t0.system), t1.system - t0.system
            sa.event.remove(bound, "before_cursor_execute", before)
            sa.event.remove(bound, "after_cursor_execute", after)
            profiler = cProfile.Profile(time.process_time) if args.timer == "cpu" else cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                call()
            profiler.disable()
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                profiler.dump_stats(str(args.save / f"{name}.prof"))
            stats = pstats.Stats(profiler)
            shares = area_shares(stats)
            report[name] = {"wall": wall, "cpu": cpu, "system": system, "sent": sent, "sql_time": sql_time[0],
                            "stats": stats,
                            "shares": shares, "total": sum(shares.values())}
        database = "PostgreSQL" if args.database_url else "SQLite"
        n = args.requests
        print(f"Majlis in-process ({database}, rate limits in {args.redis_url.split('://')[0]}), "
              f"{n} requests of each kind after 30 of warm-up; ms per request; profile timer: {args.timer}")
        for name, r in report.items():
            per = Counter(" ".join(s.split())[:110] for s in r["sent"])
            print(f"\n=== {name}: {r['wall'] * 1000 / n:.3f} ms wall, {r['cpu'] * 1000 / n:.3f} ms CPU (of which "
                  f"{r['system'] * 1000 / n:.3f} in the kernel) without the profiler; "
                  f"{len(r['sent']) / n:.2f} SQL statements per request, "
                  f"{r['sql_time'] * 1000 / n:.3f} ms in them ({r['sql_time'] / r['wall']:.0%} of wall)")
            for stmt, k in per.most_common():
                print(f"  {k / n:5.2f} x  {stmt}")
            print(f"\nshare of own {args.timer} time by area (profiled: {r['total'] * 1000 / n:.3f} ms per request):")
            for area, t in sorted(r["shares"].items(), key=lambda kv: -kv[1]):
                print(f"  {t / r['total']:6.1%}  {t * 1000 / n:7.3f} ms  {area}")
            print(f"\ntop {args.top} by own {args.timer} time (tottime; seconds over {n} requests):")
            print(top(r["stats"], "tottime", args.top))
            print(f"\ntop {args.top} by cumulative time:")
            print(top(r["stats"], "cumulative", args.top))
        print(f"\n=== a post with parts left out, CPU per post without the profiler ({n} posts each, two "
              "interleaved passes, the lower kept), ms")
        for label, ms in variants(post, n):
            print(f"  {ms:7.3f}  {label}")
        print(f"\n=== parts of a post, each timed alone without the profiler (mean of {n} calls), ms")
        for label, ms in components(app, bodies[0].replace("@I@", "7").replace("@K@", "7"), n):
            print(f"  {ms:7.3f}  {label}")
        print("\n" + json.dumps({k: {"ms_wall": round(v["wall"] * 1000 / n, 3), "ms_cpu": round(v["cpu"] * 1000 / n, 3),
                                     "ms_system": round(v["system"] * 1000 / n, 3),
                                     "statements": round(len(v["sent"]) / n, 2),
                                     "shares": {a: round(t / v["total"], 4) for a, t in v["shares"].items()}}
                                 for k, v in report.items()}, ensure_ascii=False))
        with app.app_context():
            db.engine.dispose()
        with contextlib.suppress(Exception):
            engine.dispose()
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        with contextlib.suppress(Exception):
            drop_db()
        if redis_client is not None:
            with contextlib.suppress(Exception):
                new = [k for k in redis_client.scan_iter(match="LIMITS*", count=1000) if k not in redis_before]
                for i in range(0, len(new), 500):
                    redis_client.delete(*new[i:i + 500])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
