"""In-process CPU per request of the write path (a comment post) and of the counts read.

The Flask test client on the real stack: production settings, a migrated database (a temp SQLite
file, or a schema of its own in PostgreSQL), a post-moderated site with every moderation rule on
(banned and suspect words, link limit, first-time hold, auto-close, bans on file) and the post
rate limit on (memory:// or Redis). Each post is a new comment from a new email and a new client
address, with an Origin header, on one of 20 existing threads; each counts request asks for those
20 threads. CPU is this process's (time.process_time), so the database server's own CPU is not in
it; the figure per request is the median over --rounds rounds. It also counts the SQL statements
one post and one counts request send.

    .venv/bin/python bench/write_path.py                                  # SQLite, memory:// limits
    .venv/bin/python bench/write_path.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_perfw
    .venv/bin/python bench/write_path.py --root /tmp/other-checkout       # measure another checkout's code
    .venv/bin/python bench/write_path.py --profile post                   # cProfile of the posts, top 40

Stderr gets the app's JSON log lines (one access line per request): send it to /dev/null.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BANNED = ["spam", "casino", "viagra", "scam", "كلب*", "حمار", "لعنة", "free money", "crypto*", "porn"]
SUSPECT = ["subscribe", "check out my", "channel", "سياسة*", "خائن", "idiot", "stupid", "كذاب", "click here",
           "bitcoin"]
SENTENCES = [
    "أتفق مع الكاتب في أن المجالس البلدية تحتاج إلى رقابة أوضح على الميزانية وعلى طريقة صرفها.",
    "لكن المقال لم يذكر رأي السكان في الأحياء القديمة الذين تأثروا بالمشروع مباشرة منذ بدايته.",
    "I agree with the author that the council needs clearer oversight of its budget and spending.",
    "The article does not mention what residents of the old quarter think about the plan.",
    "I read the official report and the figures there differ from the ones quoted here.",
]
THREADS = [f"article-{i}" for i in range(20)]
ORIGIN = "https://news.example"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="checkout whose code runs")
    p.add_argument("--database-url", help="PostgreSQL URL (a schema of its own, dropped after); default: SQLite")
    p.add_argument("--ratelimit-uri", default="memory://", help="e.g. redis://127.0.0.1:6379/8")
    p.add_argument("--posts", type=int, default=400, help="posts per round")
    p.add_argument("--counts", type=int, default=1000, help="counts requests per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--profile", choices=["post", "counts"], help="print a cProfile of one kind of request")
    p.add_argument("--json", action="store_true")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    sys.path.insert(0, args.root)
    os.chdir(args.root)
    tmp = Path(tempfile.mkdtemp(prefix="majlis-write-"))
    schema = None
    if args.database_url:
        schema = f"bench_write_{os.getpid()}"
        url = args.database_url + ("&" if "?" in args.database_url else "?") + f"options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp / 'majlis.db'}"
    os.environ.update({
        "MAJLIS_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": url,
        "RATELIMIT_STORAGE_URI": args.ratelimit_uri, "MAJLIS_RATELIMIT_ENABLED": "true",
        "MAJLIS_LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    })
    (tmp / "metrics").mkdir()
    import sqlalchemy as sa

    if schema:
        admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        results = run(args, url)
    finally:
        if schema:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
        if args.ratelimit_uri.startswith("redis"):
            import redis

            redis.Redis.from_url(args.ratelimit_uri).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
    else:
        db = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{db} ({args.root}): post {results['post_ms']:.2f} ms CPU ({results['post_statements']} statements), "
              f"counts x20 {results['counts_ms']:.2f} ms CPU ({results['counts_statements']} statements); "
              f"min {results['post_min_ms']:.2f} / {results['counts_min_ms']:.2f} ms; "
              f"rounds post {results['post_rounds']} counts {results['counts_rounds']}")


def run(args: argparse.Namespace, url: str) -> dict:
    import flask_migrate
    import sqlalchemy as sa

    from comment_service import create_app, services
    from comment_service.extensions import db, limiter
    from comment_service.models import Ban
    from comment_service.moderation.status import ModerationMode
    from comment_service.services.identity import domain_hmac, email_hmac, ip_hmac
    from comment_service.services.sites import update_settings

    app = create_app()
    with app.app_context():
        flask_migrate.upgrade(directory=str(Path(args.root) / "migrations"))
        site = services.create_site("bench", "Bench News", [ORIGIN], ModerationMode.POST)
        update_settings(site, {
            "banned_words": BANNED, "suspect_words": SUSPECT, "hold_first_time": True, "link_limit": 2,
            "auto_close_days": 30,
        })
        for i in range(30):
            db.session.add(Ban(site_id=site.id, kind="email", value_hmac=email_hmac(f"banned{i}@example.net"),
                                  label="b***@example.net"))
            db.session.add(Ban(site_id=site.id, kind="ip", value_hmac=ip_hmac(f"198.51.{i}.7"),
                                  label=f"198.51.{i}.0/24"))
        db.session.add(Ban(site_id=site.id, kind="domain", value_hmac=domain_hmac("spam.example"),
                              label="spam.example"))
        db.session.commit()
        limiter.reset()
    client = app.test_client()
    seq = itertools.count(1)

    def post() -> int:
        n = next(seq)
        body = f"{SENTENCES[n % 5]} {SENTENCES[(n * 7) % 5]} ({n}) https://news.example/a/{n}"
        r = client.post("/api/v1/sites/bench/comments", json={
            "thread": THREADS[n % 20], "thread_title": "مقال تجريبي", "author_name": f"قارئ {n}",
            "author_email": f"reader{n}@example.org", "body": body,
        }, headers={"Origin": ORIGIN}, environ_base={"REMOTE_ADDR": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"})
        assert r.status_code == 201, r.get_data(as_text=True)
        return r.status_code

    counts_url = "/api/v1/sites/bench/counts?" + "&".join(f"thread={t}" for t in THREADS)

    def counts() -> int:
        r = client.get(counts_url, headers={"Origin": ORIGIN}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
        assert r.status_code == 200 and len(r.get_json()["counts"]) == 20
        return r.status_code

    for _ in range(40):  # every thread exists, caches and pools are warm
        post()
    for _ in range(50):
        counts()

    def statements(call) -> int:
        with app.app_context():
            engine = db.engine
        sent: list[str] = []
        listener = lambda *a: sent.append(a[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            call()
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        if os.environ.get("SHOW_SQL"):
            print("\n---\n".join(sent))
        return len(sent)

    post_statements, counts_statements = statements(post), statements(counts)

    if args.profile:
        call, n = (post, args.posts) if args.profile == "post" else (counts, args.counts)
        prof = cProfile.Profile(time.process_time)  # CPU, not waits on fsync or the network
        prof.enable()
        for _ in range(n):
            call()
        prof.disable()
        if os.environ.get("PROFILE_OUT"):
            prof.dump_stats(os.environ["PROFILE_OUT"])
        pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(60)
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(40)

    def cpu_ms(call, n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            call()
        return (time.process_time() - start) * 1000 / n

    post_rounds, counts_rounds = [], []
    for _ in range(args.rounds):
        post_rounds.append(round(cpu_ms(post, args.posts), 3))
        counts_rounds.append(round(cpu_ms(counts, args.counts), 3))
    with app.app_context():
        db.engine.dispose()
    return {
        "post_ms": statistics.median(post_rounds), "counts_ms": statistics.median(counts_rounds),
        "post_min_ms": min(post_rounds), "counts_min_ms": min(counts_rounds),
        "post_rounds": post_rounds, "counts_rounds": counts_rounds,
        "post_statements": post_statements, "counts_statements": counts_statements,
    }


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
