"""Moderation queue page and claim on 1,000,000 comments, against GET /healthz in the same run.

Creates a dedicated PostgreSQL schema with the real migrations, fills it with PostgreSQL-side SQL
(100 sites of very different sizes, threads, 1,000,000 comments with a realistic status mix,
their audit rows and reports), serves the real app with gunicorn on 127.0.0.1 and times, with one
sequential HTTP client (http.client), interleaved:

    GET  /healthz                                           (baseline: gunicorn + Flask, no SQL)
    GET  /readyz                                            (baseline: + one SELECT 1 through the pool)
    GET  /api/v1/sites/<site>/queues/pending?limit=50&cursor=<id>
    POST /api/v1/sites/<site>/queues/pending/claim          {"limit": 50, "lease_seconds": 120}

Fails (exit 1) when the p99 of the queue page or the claim is >= --max-p99-ms, or on any non-2xx.

    .venv/bin/python bench/queue_claim.py                       # load, measure, drop the schema
    .venv/bin/python bench/queue_claim.py --keep                # ... and keep the loaded schema
    .venv/bin/python bench/queue_claim.py --reuse bench_queue_1a2b3c4d   # skip the load
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA_RE = re.compile(r"bench_queue_[0-9a-f]{8}")

# Bodies are 2-5 of these sentences, 60 % Arabic; names are picked per author.
ARABIC = [
    "أتفق مع الكاتب في أن المجالس البلدية تحتاج إلى رقابة أوضح على الميزانية وعلى طريقة صرفها.",
    "لكن المقال لم يذكر رأي السكان في الأحياء القديمة الذين تأثروا بالمشروع مباشرة منذ بدايته.",
    "قرأت التقرير الرسمي ووجدت أرقاماً مختلفة عن التي نُشرت هنا، فأرجو من المحرر التوضيح.",
    "هذا الخبر مهم جداً لكل من يسكن في المدينة ويستخدم المواصلات العامة كل يوم.",
    "أتمنى أن تتابع الصحيفة القضية وأن تنشر رد الوزارة عندما يصدر.",
    "لا أفهم لماذا تأخر المشروع ثلاث سنوات بينما كانت الميزانية جاهزة منذ البداية.",
    "شكراً على المقال، لكن العنوان مبالغ فيه قليلاً مقارنة بالمحتوى.",
    "في قريتنا حدث الشيء نفسه العام الماضي ولم يهتم أحد بالموضوع.",
]
ENGLISH = [
    "I agree with the author that the council needs clearer oversight of its budget and spending.",
    "The article does not mention what residents of the old quarter think about the plan.",
    "I read the official report and the figures there differ from the ones quoted here.",
    "This matters to everyone in the city who takes the bus or the metro every day.",
    "I hope the paper follows up and publishes the ministry's answer when it comes.",
    "I do not understand why the project was three years late when the money was ready.",
    "Thanks for the piece, although the headline promises more than the text delivers.",
    "The same thing happened in our village last year and nobody paid any attention.",
]
NAMES = ["سارة", "Omar K.", "ليلى م.", "Daniel", "يوسف", "Hannah W.", "محمد ع.", "Rania", "خالد", "Ahmed S.",
         "نور", "Lina", "عبدالله", "Fatima Z.", "Samir", "مريم"]
# What the pipeline writes into hold_reasons (same codes and wording as moderation/rules.py).
REASONS = {
    "pre": [{"code": "pre_moderation", "detail": "This site reviews every comment before it is shown."}],
    "first": [{"code": "first_time_author", "detail": "The author has no approved comment on this site yet."}],
    "links": [{"code": "too_many_links", "detail": "3 links, the site allows 2."}],
    "dup": [{"code": "duplicate", "detail": "The same author posted the same text recently."}],
    "honeypot": [{"code": "honeypot", "detail": "A field hidden from people was filled in."}],
}


# --------------------------------------------------------------------------------------------- setup

def parse_args() -> argparse.Namespace:
    """Read the command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", default=DEFAULT_URL, help="local PostgreSQL (a new bench_queue_<hex> schema)")
    p.add_argument("--comments", type=int, default=1_000_000)
    p.add_argument("--sites", type=int, default=100)
    p.add_argument("--per-thread", type=int, default=50, help="average comments per thread (threads = comments / this)")
    p.add_argument("--moderators", type=int, default=3,
                   help="moderators per site (X-Majlis-Moderator on the site's key); claims rotate over them")
    p.add_argument("--pages", type=int, default=500, help="queue pages to time")
    p.add_argument("--claims", type=int, default=300, help="claims of --limit items to time")
    p.add_argument("--limit", type=int, default=50, help="items per page and per claim")
    p.add_argument("--lease-seconds", type=int, default=120)
    p.add_argument("--in-process", type=int, default=100,
                   help="also time queue_items/claim_batch this many times in-process, without HTTP (0: skip)")
    p.add_argument("--max-p99-ms", type=float, default=20.0, help="fail when the queue page or claim p99 reaches this")
    p.add_argument("--seed", type=int, default=42, help="seed of the data and of the request order")
    p.add_argument("--keep", action="store_true", help="keep the loaded schema (print its name for --reuse)")
    p.add_argument("--reuse", metavar="SCHEMA", help="measure an already loaded bench_queue_<hex> schema (no load)")
    p.add_argument("--drop", action="store_true", help="with --reuse: drop the schema at the end")
    p.add_argument("--profile", metavar="DIR", help="py-spy record both gunicorn workers during the HTTP run into DIR")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    args = p.parse_args()
    if args.reuse and not SCHEMA_RE.fullmatch(args.reuse):
        p.error("--reuse takes a schema this script created: bench_queue_ and 8 hex digits")
    if args.drop and not args.reuse:
        p.error("--drop only goes with --reuse (a fresh schema is dropped unless --keep)")
    return args


def log(msg: str) -> None:
    """Progress goes to stderr, results to stdout."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def local_urls(url: str, schema: str) -> tuple[str, str]:
    """The psycopg conninfo of the server and the app's SQLAlchemy URL pinned to the schema."""
    import sqlalchemy as sa

    from config.settings import normalise_database_url

    target = sa.make_url(normalise_database_url(url))
    if target.get_backend_name() != "postgresql" or target.host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit("bench failed: --database-url must be a PostgreSQL server on 127.0.0.1")
    app_url = target.update_query_dict({"options": f"-csearch_path={schema}"})
    conninfo = target.set(drivername="postgresql").render_as_string(hide_password=False)
    return conninfo, app_url.render_as_string(hide_password=False)


def connect(conninfo: str, schema: str | None = None, autocommit: bool = True):  # noqa: ANN201
    """A plain psycopg connection, optionally with the bench schema as search_path."""
    import psycopg

    kwargs = {"options": f"-csearch_path={schema}"} if schema else {}
    return psycopg.connect(conninfo, autocommit=autocommit, **kwargs)


def migrate(env: dict[str, str]) -> None:
    """Build the schema with the real migrations: `flask db upgrade`."""
    up = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True,
                        check=False)
    if up.returncode:
        raise SystemExit(f"bench failed: flask db upgrade:\n{up.stderr}")


# ---------------------------------------------------------------------------------------------- load

def site_plan(n_comments: int, n_sites: int, per_thread: int) -> list[tuple[int, str, int, int, int, int]]:
    """Per site: (id, mode, comments, threads, first thread id, author pool).

    Site sizes follow 1/rank^0.8, as news audiences do: with 100 sites the largest has ~12 % of all
    comments, the smallest ~0.3 %. Every third site (2, 5, 8, ...) is pre-moderated.
    """
    weights = [1 / (s ** 0.8) for s in range(1, n_sites + 1)]
    total = sum(weights)
    sizes = [int(n_comments * w / total) for w in weights]
    for i in range(n_comments - sum(sizes)):
        sizes[i % n_sites] += 1
    plan, first_thread = [], 1
    for s, n in enumerate(sizes, start=1):
        threads = max(5, round(n / per_thread))
        plan.append((s, "pre" if s % 3 == 2 else "post", n, threads, first_thread, max(20, n // 8)))
        first_thread += threads
    return plan


def sql_load(cur: Any, args: argparse.Namespace) -> dict[str, float]:
    """Fill the (migrated, empty) schema; return seconds per step. Runs on the PostgreSQL side."""
    timings: dict[str, float] = {}

    def step(name: str, sql: str, params: Any = None) -> None:
        t = time.perf_counter()
        cur.execute(sql, params)
        timings[name] = round(time.perf_counter() - t, 1)
        log(f"  {name}: {timings[name]} s")

    cur.execute("SET synchronous_commit = off")
    cur.execute("SET work_mem = '256MB'")
    cur.execute("SET maintenance_work_mem = '512MB'")
    cur.execute("SELECT setseed(%s)", (((args.seed % 1000) / 1000),))
    cur.execute("CREATE TEMP TABLE plan (site_id int, mode text, n int, threads int, first_thread int, pool int)")
    with cur.copy("COPY plan FROM STDIN") as copy:
        for row in site_plan(args.comments, args.sites, args.per_thread):
            copy.write_row(row)
    cur.execute("CREATE TEMP TABLE t0 AS SELECT date_trunc('second', now()) - interval '1 minute' AS t0")

    step("sites", """
        INSERT INTO site (id, slug, name, allowed_origins, moderation_mode, settings, created_at)
        SELECT site_id, format('site-%s', lpad(site_id::text, 3, '0')), format('Bench News %s', site_id),
               json_build_array(format('https://news%s.example', site_id)), mode, '{}'::json,
               (SELECT t0 FROM t0) - interval '400 days'
        FROM plan""")
    step("threads", """
        INSERT INTO thread (id, site_id, key, title, url, closed, comment_count, version, created_at)
        SELECT p.first_thread + i, p.site_id, format('article-%s', i + 1), format('Article %s', i + 1),
               format('https://news%s.example/articles/%s', p.site_id, i + 1), false, 0, 0,
               (SELECT t0 FROM t0) - (1 - i::float8 / p.threads) * interval '365 days'
        FROM plan p, generate_series(0, p.threads - 1) i""")
    # One row per comment with its random draws; ids in time order, as inserts would give them.
    step("stage (random draws, id by time)", """
        CREATE TEMP TABLE stage AS
        SELECT row_number() OVER (ORDER BY t)::int AS id, *
        FROM (
            SELECT p.site_id, p.mode, p.first_thread, p.threads, p.pool,
                   random() AS t, random() AS r_thread, random() AS r_author, random() AS r_status,
                   random() AS r_reply, random() AS r_misc, (random() * 2147483647)::bigint AS h
            FROM plan p, generate_series(1, p.n)
        ) x""")
    # Statuses: recent (newest 3 %, ~11 days) comments are far more often still pending.
    step("stage (derived columns)", """
        CREATE TEMP TABLE stage2 AS
        SELECT s.id, s.site_id, s.mode, s.t, s.r_reply, s.r_misc, s.h,
               s.first_thread + least(s.threads - 1,
                                      greatest(0, floor(s.t * s.threads)::int - floor(s.r_thread ^ 2 * 3)::int))
                   AS thread_id,
               floor(s.pool * s.r_author ^ 2)::int AS author,
               CASE
                 WHEN s.mode = 'post' AND s.t > 0.97 THEN
                   CASE WHEN s.r_status < 0.20 THEN 'pending' WHEN s.r_status < 0.26 THEN 'spam'
                        WHEN s.r_status < 0.30 THEN 'approved' ELSE 'published' END
                 WHEN s.mode = 'post' THEN
                   CASE WHEN s.r_status < 0.06 THEN 'pending' WHEN s.r_status < 0.13 THEN 'spam'
                        WHEN s.r_status < 0.17 THEN 'rejected' WHEN s.r_status < 0.20 THEN 'deleted'
                        WHEN s.r_status < 0.25 THEN 'approved' ELSE 'published' END
                 WHEN s.t > 0.97 THEN
                   CASE WHEN s.r_status < 0.90 THEN 'pending' WHEN s.r_status < 0.92 THEN 'spam'
                        WHEN s.r_status < 0.99 THEN 'approved' ELSE 'rejected' END
                 ELSE
                   CASE WHEN s.r_status < 0.10 THEN 'pending' WHEN s.r_status < 0.15 THEN 'spam'
                        WHEN s.r_status < 0.21 THEN 'rejected' WHEN s.r_status < 0.24 THEN 'deleted'
                        ELSE 'approved' END
               END AS status,
               (SELECT t0 FROM t0) - (1 - s.t) * interval '365 days' AS created_at
        FROM stage s""")
    cur.execute("DROP TABLE stage")
    # A held post-moderation comment was held by a rule (first comment mostly); spam came from the
    # honeypot a third of the time, from a moderator otherwise.
    step("comments (1 INSERT ... SELECT)", """
        WITH txt AS (SELECT %(ar)s::text[] AS ar, %(en)s::text[] AS en, %(names)s::text[] AS names,
                            %(pre)s::json AS pre, %(first)s::json AS first, %(links)s::json AS links,
                            %(dup)s::json AS dup, %(honeypot)s::json AS honeypot)
        INSERT INTO comment (id, site_id, thread_id, parent_id, author_name, author_email, email_hmac, author_url,
                             avatar, body_source, body_html, status, revision, hold_reasons, spam_score, ip_hmac,
                             edit_token_hash, open_reports, created_at, edited_at, decided_at)
        SELECT id, site_id, thread_id,
               CASE WHEN r_reply < 0.25 THEN lag(id) OVER (PARTITION BY thread_id ORDER BY id) END,
               names[1 + author %% 16], email,
               encode(sha256(convert_to('email:' || email, 'UTF8')), 'hex'),
               CASE WHEN author %% 10 = 0 THEN format('https://blog%%s.example', author) END,
               left(encode(sha256(convert_to(format('avatar:%%s:%%s', site_id, email), 'UTF8')), 'hex'), 16),
               body, body_html, status,
               CASE WHEN status IN ('pending', 'published') THEN 1 ELSE 2 END,
               CASE WHEN mode = 'pre' AND status <> 'spam' THEN pre
                    WHEN status = 'spam' AND h %% 3 = 0 THEN honeypot
                    WHEN status IN ('pending', 'approved', 'rejected') AND mode = 'post' THEN
                        CASE h %% 10 WHEN 0 THEN links WHEN 1 THEN dup ELSE first END
                    ELSE '[]'::json END,
               CASE WHEN status = 'spam' THEN round((0.75 + r_misc * 0.25)::numeric, 3)::float8
                    WHEN h %% 4 = 0 THEN NULL ELSE round((r_misc * 0.4)::numeric, 3)::float8 END,
               encode(sha256(convert_to(format('ip:%%s:%%s', site_id, author %% 997), 'UTF8')), 'hex'),
               encode(sha256(int4send(id)), 'hex'),
               CASE WHEN status IN ('pending', 'published', 'approved') AND r_misc < 0.015
                    THEN 1 + (h %% 3)::int ELSE 0 END,
               created_at,
               CASE WHEN r_misc > 0.97 THEN created_at + interval '4 minutes' END,
               CASE WHEN status IN ('approved', 'rejected', 'spam', 'deleted')
                    THEN least((SELECT t0 FROM t0), created_at + (5 + (h %% 600)) * interval '1 minute') END
        FROM (
            SELECT s.*, x.*, format('reader%%s.%%s@example.org', s.author, s.site_id) AS email,
                   '<p>' || x.body || '</p>' AS body_html
            FROM stage2 s CROSS JOIN txt
            CROSS JOIN LATERAL (
                SELECT CASE WHEN s.h %% 10 < 6 THEN txt.ar ELSE txt.en END AS arr, txt.names, txt.pre, txt.first,
                       txt.links, txt.dup, txt.honeypot
            ) a
            CROSS JOIN LATERAL (
                SELECT array_to_string((ARRAY[a.arr[1 + (s.h / 7) %% 8], a.arr[1 + (s.h / 56) %% 8],
                                              a.arr[1 + (s.h / 448) %% 8], a.arr[1 + (s.h / 3584) %% 8],
                                              a.arr[1 + (s.h / 28672) %% 8]])[1:2 + s.h %% 4], ' ') AS body,
                       a.names, a.pre, a.first, a.links, a.dup, a.honeypot
            ) x
        ) c
        ORDER BY id""", {"ar": ARABIC, "en": ENGLISH, "names": NAMES, **{k: json.dumps(v) for k, v in REASONS.items()}})
    # The audit log: the rule's verdict at submission, and the later decision when there was one.
    step("moderation actions (creation + decision)", """
        INSERT INTO moderation_action (site_id, comment_id, revision, actor_type, actor_id, from_status, to_status,
                                       reason_code, note, created_at)
        SELECT site_id, id, 1, 'rule', NULL, NULL, initial,
               CASE WHEN initial = 'pending' THEN hold_reasons -> 0 ->> 'code'
                    WHEN initial = 'spam' THEN 'honeypot' END,
               NULL, created_at
        FROM (SELECT c.*, CASE WHEN c.hold_reasons::text LIKE '%honeypot%' THEN 'spam'
                               WHEN s.moderation_mode = 'post'
                                    AND c.status IN ('published', 'rejected', 'spam', 'deleted')
                               THEN 'published' ELSE 'pending' END AS initial
              FROM comment c JOIN site s ON s.id = c.site_id) a
        UNION ALL
        SELECT site_id, id, 1, CASE WHEN status = 'deleted' AND id % 2 = 0 THEN 'author' ELSE 'moderator' END,
               CASE WHEN status = 'deleted' AND id % 2 = 0 THEN NULL ELSE 'key:mjl_bench00' END,
               initial, status, NULL, NULL, decided_at
        FROM (SELECT c.*, CASE WHEN s.moderation_mode = 'post'
                                    AND c.status IN ('published', 'rejected', 'spam', 'deleted')
                               THEN 'published' ELSE 'pending' END AS initial
              FROM comment c JOIN site s ON s.id = c.site_id
              WHERE c.status IN ('approved', 'rejected', 'spam', 'deleted')
                AND c.hold_reasons::text NOT LIKE '%honeypot%') d
        WHERE status <> initial""")
    step("reports", """
        INSERT INTO report (site_id, comment_id, reason, note, fingerprint, resolved, created_at)
        SELECT c.site_id, c.id, (ARRAY['spam', 'abuse', 'off_topic', 'other'])[1 + (c.id + g) % 4], NULL,
               encode(sha256(convert_to(format('report:%s:%s', c.id, g), 'UTF8')), 'hex'), false,
               least((SELECT t0 FROM t0), c.created_at + g * interval '1 hour')
        FROM comment c, generate_series(1, c.open_reports) g
        WHERE c.open_reports > 0""")
    step("thread counters", """
        UPDATE thread t SET comment_count = x.visible, version = x.changes
        FROM (SELECT thread_id, count(*) FILTER (WHERE status IN ('published', 'approved')) AS visible,
                     count(*) + count(*) FILTER (WHERE revision > 1) AS changes
              FROM comment GROUP BY thread_id) x
        WHERE t.id = x.thread_id""")
    for table in ("site", "thread", "comment", "moderation_action", "report"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))")
    cur.execute("DROP TABLE stage2")
    # An aged table has been vacuumed (visibility map set) and analysed by autovacuum.
    step("VACUUM ANALYZE", "VACUUM (ANALYZE) site, thread, comment, moderation_action, report")
    # The load wrote ~1.5 GB; without a checkpoint the first minutes of measuring would share the
    # disk with its write-back (claims commit, and wait for their WAL flush).
    try:
        step("CHECKPOINT", "CHECKPOINT")
    except Exception as err:  # noqa: BLE001 - not superuser (or pg_checkpoint): measure anyway
        log(f"  CHECKPOINT skipped: {err}")
    return timings


def create_schema(conninfo: str, schema: str, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """Create the schema, migrate it and load it; return the timings."""
    with connect(conninfo) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    t = time.perf_counter()
    log(f"schema {schema}: flask db upgrade")
    migrate(env)
    migrate_s = round(time.perf_counter() - t, 1)
    log(f"loading {args.comments:,} comments over {args.sites} sites (PostgreSQL-side INSERT ... SELECT)")
    t = time.perf_counter()
    with connect(conninfo, schema) as conn, conn.cursor() as cur:
        steps = sql_load(cur, args)
    load_s = round(time.perf_counter() - t, 1)
    log(f"loaded in {load_s} s")
    return {"migrate_s": migrate_s, "load_s": load_s, "steps_s": steps}


def describe_data(conninfo: str, schema: str) -> dict[str, Any]:
    """What is in the schema: row counts, status mix, per-site spread, author repetition, sizes."""
    with connect(conninfo, schema) as conn:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        counts = {t: q(f"SELECT count(*) FROM {t}")[0][0]
                  for t in ("site", "thread", "comment", "moderation_action", "report", "site_api_key")}
        mix = dict(q("SELECT status, count(*) FROM comment GROUP BY status ORDER BY 2 DESC"))
        per_site = q("""SELECT min(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n), max(n),
                               min(p), percentile_disc(0.5) WITHIN GROUP (ORDER BY p), max(p)
                        FROM (SELECT site_id, count(*) n, count(*) FILTER (WHERE status = 'pending') p
                              FROM comment GROUP BY site_id) x""")[0]
        authors = q("""SELECT count(*), max(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n)
                       FROM (SELECT site_id, email_hmac, count(*) n FROM comment GROUP BY 1, 2) x""")[0]
        span = q("SELECT min(created_at)::date::text, max(created_at)::date::text FROM comment")[0]
        size = q("SELECT pg_size_pretty(pg_total_relation_size('comment')), "
                 "pg_size_pretty(pg_relation_size('ix_comment_site_status_id'))")[0]
    total = counts["comment"] or 1
    return {
        "rows": counts, "status_mix_pct": {k: round(100 * v / total, 1) for k, v in mix.items()},
        "comments_per_site": {"min": per_site[0], "median": per_site[1], "max": per_site[2]},
        "pending_per_site": {"min": per_site[3], "median": per_site[4], "max": per_site[5]},
        "authors": {"distinct (site, email_hmac)": authors[0], "max comments": authors[1],
                    "median comments": authors[2]},
        "created_at": {"from": span[0], "to": span[1]},
        "size": {"comment table + indexes": size[0], "ix_comment_site_status_id": size[1]},
    }


def release_claims(conninfo: str, schema: str, vacuum: bool = False) -> int:
    """Free every lease (the bench's own; the loaded data has none) so the next run starts alike.

    With vacuum, also VACUUM the claim and comment tables: the released leases and the bench's
    decisions leave dead row versions (a few seconds, the visibility map skips the rest).
    """
    with connect(conninfo, schema) as conn:
        n = conn.execute("DELETE FROM claim").rowcount
        if vacuum:
            conn.execute("VACUUM (ANALYZE) claim")
            conn.execute("VACUUM (ANALYZE) comment")
        return n


# ------------------------------------------------------------------------------------------- targets

def issue_keys() -> dict[str, str]:
    """One API key per site, issued by the real service; returns slug -> key."""
    from comment_service import create_app
    from comment_service.extensions import db
    from comment_service.models import Site
    from comment_service.services.sites import issue_api_key

    app = create_app(env="production")
    with app.app_context():
        sites = db.session.scalars(db.select(Site).order_by(Site.id)).all()
        keys = {site.slug: issue_api_key(site) for site in sites}
        db.engine.dispose()
    return keys


def pending_ids(conninfo: str, schema: str) -> dict[str, list[int]]:
    """Every site's pending queue (ids, oldest first), to pick cursors from."""
    with connect(conninfo, schema) as conn:
        rows = conn.execute("SELECT s.slug, c.id FROM comment c JOIN site s ON s.id = c.site_id "
                            "WHERE c.status = 'pending' ORDER BY s.slug, c.id").fetchall()
    out: dict[str, list[int]] = collections.defaultdict(list)
    for slug, cid in rows:
        out[slug].append(cid)
    return dict(out)


def page_targets(queues: dict[str, list[int]], n: int, rng: random.Random) -> list[tuple[str, int | None]]:
    """n (site, cursor) pairs: sites round-robin in a shuffled order, cursors anywhere in the pending queue.

    One in ten is the first page (no cursor); the others start after a uniformly chosen pending item,
    so pages come from the head, the middle and the tail of every queue.
    """
    slugs = sorted(queues)
    rng.shuffle(slugs)
    out = []
    for i in range(n):
        slug = slugs[i % len(slugs)]
        ids = queues[slug]
        out.append((slug, None if i % 10 == 0 else ids[rng.randrange(len(ids))]))
    return out


def claim_targets(slugs: list[str], n: int, moderators: int, rng: random.Random) -> list[tuple[str, int]]:
    """n (site, moderator) pairs: every site in turn, moderators rotating, so leases build up as in real use.

    With 300 claims, 100 sites and 3 moderators each site's three moderators each take one batch of
    50: the first gets the 50 oldest pending items, the second skips those 50 live leases, the third
    skips 100. Leases (120 s) outlive the run, nobody releases: a moderator holding a batch while
    working on it is the normal state of a queue.
    """
    order = sorted(slugs)
    rng.shuffle(order)
    return [(order[i % len(order)], (i // len(order)) % moderators) for i in range(n)]


# ------------------------------------------------------------------------------------------- measure

class Client:
    """One sequential HTTP/1.1 client on 127.0.0.1.

    It keeps the connection open when the server allows; gunicorn's sync workers close it after
    every answer, so each request (baselines included) also pays one loopback TCP connect.
    """

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, bytes, float]:
        """Send one request; return status, body and the wall time in ms (request sent to body read)."""
        t = time.perf_counter_ns()
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        ms = (time.perf_counter_ns() - t) / 1e6
        if resp.will_close:
            self.conn.close()
        return resp.status, data, ms

    def close(self) -> None:
        self.conn.close()


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def stats(values: list[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max, in ms."""
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "max": max(values)}


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """gunicorn wsgi:app, 2 sync workers, on a free port of 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(BIN / "gunicorn"), "--workers", "2", "--worker-class", "sync", "--log-level", "warning",
           "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "wsgi:app"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True), port


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Poll /readyz until 200; fail if gunicorn exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            c = Client(port)
            if c.request("GET", "/readyz")[0] == 200:
                c.close()
                return
        time.sleep(0.2)
    raise SystemExit(f"bench failed: gunicorn did not answer /readyz in {timeout:.0f} s (exit {proc.returncode})")


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers (children of the master)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def queue_path(slug: str, cursor: int | None, limit: int) -> str:
    query = {"limit": limit, **({"cursor": cursor} if cursor is not None else {})}
    return f"/api/v1/sites/{slug}/queues/pending?{urllib.parse.urlencode(query)}"


def check_endpoints(client: Client, slug: str, key: str) -> None:
    """Stop early, with a clear message, when the moderation endpoints are not there (yet)."""
    status, body, _ = client.request("GET", queue_path(slug, None, 1), {"Authorization": f"Bearer {key}"})
    if status != 200:
        raise SystemExit(f"bench failed: GET {queue_path(slug, None, 1)} answered {status}: {body[:300]!r} "
                         "(are the moderation queue endpoints in comment_service/api/moderation.py yet?)")


def run_http(port: int, keys: dict[str, str], pages: list[tuple[str, int | None]],
             claims: list[tuple[str, int]], args: argparse.Namespace) -> dict[str, Any]:
    """Time everything, interleaved so the baselines share the noise: healthz, page, readyz, claim, ..."""
    client = Client(port)
    times: dict[str, list[float]] = {"healthz": [], "readyz": [], "queue_page": [], "claim": []}
    problems: list[str] = []
    items = {"queue_page": [], "claim": []}
    bodies = {"queue_page": [], "claim": []}
    claim_body = json.dumps({"limit": args.limit, "lease_seconds": args.lease_seconds}).encode()
    # Warm-up (not counted): both workers import lazily and open their pool on first use. One-item
    # pages, so the measured pages find no data cached by the warm-up.
    for slug, _ in pages[:20]:
        client.request("GET", "/healthz")
        client.request("GET", "/readyz")
        client.request("GET", queue_path(slug, None, 1), {"Authorization": f"Bearer {keys[slug]}"})

    def record(kind: str, status: int, body: bytes, ms: float, what: str) -> dict | None:
        times[kind].append(ms)
        if not 200 <= status < 300:
            problems.append(f"{kind} {what}: HTTP {status}: {body[:200]!r}")
            return None
        return json.loads(body) if kind in items else None

    for i in range(max(len(pages), len(claims))):
        status, body, ms = client.request("GET", "/healthz")
        record("healthz", status, body, ms, "/healthz")
        if i < len(pages):
            slug, cursor = pages[i]
            path = queue_path(slug, cursor, args.limit)
            status, body, ms = client.request("GET", path, {"Authorization": f"Bearer {keys[slug]}"})
            if (doc := record("queue_page", status, body, ms, path)) is not None:
                got = doc["items"]
                items["queue_page"].append(len(got))
                bodies["queue_page"].append(len(body))
                if any(it["status"] != "pending" or (cursor is not None and it["id"] <= cursor) for it in got):
                    problems.append(f"queue_page {path}: an item is not pending or not after the cursor")
        status, body, ms = client.request("GET", "/readyz")
        record("readyz", status, body, ms, "/readyz")
        if i < len(claims):
            slug, moderator = claims[i]
            path = f"/api/v1/sites/{slug}/queues/pending/claim"
            headers = {"Authorization": f"Bearer {keys[slug]}", "Content-Type": "application/json",
                       "X-Majlis-Moderator": f"moderator-{moderator}"}
            status, body, ms = client.request("POST", path, headers, claim_body)
            if (doc := record("claim", status, body, ms, path)) is not None:
                items["claim"].append(len(doc["items"]))
                bodies["claim"].append(len(body))
                if any(it["status"] != "pending" or not (it["claim"] or {}).get("by", "").endswith(
                        f"/moderator-{moderator}") for it in doc["items"]):
                    problems.append(f"claim {path}: an item is not pending or not leased to moderator-{moderator}")
    client.close()
    res = {k: stats(v) for k, v in times.items() if v}
    base = res["healthz"]["p50"]
    for k in res:
        res[k]["p50_x_healthz"] = round(res[k]["p50"] / base, 2)
        res[k]["p99_x_healthz"] = round(res[k]["p99"] / base, 2)
    for k in items:
        if items[k]:
            res[k]["items_mean"] = round(sum(items[k]) / len(items[k]), 1)
            res[k]["body_kb_mean"] = round(sum(bodies[k]) / len(bodies[k]) / 1024, 1)
    return {"latency_ms": res, "problems": problems}


# -------------------------------------------------------------------------------- in-process and SQL

def in_process(app_env: dict[str, str], pages: list[tuple[str, int | None]], claims: list[tuple[str, int]],
               n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Time queue_items and claim_batch without HTTP, and EXPLAIN ANALYZE the SQL they run.

    The statements are captured from the engine while the real service functions run, then
    EXPLAIN (ANALYZE, BUFFERS) runs each with the same parameters (the claim's UPDATE in a
    transaction that is rolled back).
    """
    import sqlalchemy as sa

    from comment_service import create_app
    from comment_service.extensions import db
    from comment_service.services.queues import Queue, claim_batch, queue_items
    from comment_service.services.sites import get_site

    os.environ.update(app_env)
    app = create_app(env="production")
    captured: list[tuple[str, Any]] = []
    out: dict[str, Any] = {}
    with app.app_context():
        sql_ns = [0, 0]  # start of the running statement, total of this call

        def before(conn: Any, cur: Any, stmt: str, params: Any, ctx: Any, many: bool) -> None:
            captured.append((stmt, params))
            sql_ns[0] = time.perf_counter_ns()

        def after(conn: Any, cur: Any, stmt: str, params: Any, ctx: Any, many: bool) -> None:
            sql_ns[1] += time.perf_counter_ns() - sql_ns[0]

        sa.event.listen(db.engine, "before_cursor_execute", before)
        sa.event.listen(db.engine, "after_cursor_execute", after)

        def timed(fn: Any, *a: Any) -> tuple[float, float, int]:
            captured.clear()
            sql_ns[1] = 0
            t = time.perf_counter_ns()
            fn(*a)
            ms = (time.perf_counter_ns() - t) / 1e6
            n_sql = len(captured)
            db.session.remove()  # as at the end of a request
            return ms, sql_ns[1] / 1e6, n_sql

        sites = {slug: get_site(slug) for slug in {s for s, _ in pages[:n]} | {s for s, _ in claims[:n]}}
        db.session.expunge_all()
        runs: dict[str, tuple[list[float], list[float]]] = {"queue_items()": ([], []), "claim_batch()": ([], [])}
        sql_counts = {}
        for slug, cursor in pages[:n]:
            site = db.session.merge(sites[slug], load=False)
            ms, sql_ms, sql_counts["queue_items()"] = timed(queue_items, site, Queue.PENDING, cursor, args.limit)
            runs["queue_items()"][0].append(ms)
            runs["queue_items()"][1].append(sql_ms)
        for slug, moderator in claims[:n]:
            site = db.session.merge(sites[slug], load=False)
            actor = f"bench-in-process/moderator-{moderator}"
            ms, sql_ms, sql_counts["claim_batch()"] = timed(claim_batch, site, Queue.PENDING, actor, args.limit,
                                                            args.lease_seconds)
            runs["claim_batch()"][0].append(ms)
            runs["claim_batch()"][1].append(sql_ms)
        out["latency_ms"] = {k: {**stats(total), "statements_p50": pct(sql, 50),
                                 "statements_share": round(sum(sql) / sum(total), 2)}
                             for k, (total, sql) in runs.items()}
        out["sql_statements_per_call"] = sql_counts

        # The plans, on the largest site, in the middle of its pending queue (and the claim at its head).
        big = db.session.scalar(sa.text("SELECT s.slug FROM site s JOIN comment c ON c.site_id = s.id "
                                        "GROUP BY s.slug ORDER BY count(*) DESC LIMIT 1"))
        ids = db.session.scalars(sa.text("SELECT c.id FROM comment c JOIN site s ON s.id = c.site_id "
                                         "WHERE s.slug = :s AND c.status = 'pending' ORDER BY c.id"), {"s": big}).all()
        db.session.remove()
        site = get_site(big)
        captured.clear()
        queue_items(site, Queue.PENDING, ids[len(ids) // 2], args.limit)
        page_sql = list(captured)
        db.session.remove()
        site = get_site(big)
        captured.clear()
        claim_batch(site, Queue.PENDING, "bench-explain", args.limit, args.lease_seconds)
        claim_sql = list(captured)
        db.session.remove()
        plans = []
        with db.engine.connect() as conn:
            for label, stmts in (("queue page", page_sql), ("claim", claim_sql)):
                for stmt, params in stmts:
                    statement = stmt.lstrip().upper()
                    if not statement.startswith(("SELECT", "UPDATE", "INSERT", "WITH")) or "FROM site_api_key" in stmt:
                        continue
                    if stmt.lstrip().upper().startswith("SELECT SITE."):
                        continue  # get_site(), not part of the service call
                    tx = conn.begin()
                    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmt, params).all()
                    tx.rollback()
                    plans.append({"for": label, "sql": stmt, "params": {k: v for k, v in (params or {}).items()},
                                  "plan": [r[0] for r in rows]})
            # Every queue's first page (the page SQL only) on the largest and the smallest site: one
            # line each, to show which queue needs care beyond the pending one measured above.
            small = db.session.scalar(sa.text("SELECT s.slug FROM site s JOIN comment c ON c.site_id = s.id "
                                              "GROUP BY s.slug ORDER BY count(*) LIMIT 1"))
            db.session.remove()
            other = []
            for q in Queue:
                line: dict[str, Any] = {"queue": q.value}
                for which, slug in (("largest", big), ("smallest", small)):
                    site = get_site(slug)
                    captured.clear()
                    queue_items(site, q, None, args.limit)
                    stmt, params = next(c for c in captured if c[0].startswith("SELECT comment.id") and "LIMIT" in c[0])
                    db.session.remove()
                    text = [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmt,
                                                                params).all()]
                    line[which] = {
                        "exec_ms": next(float(m[1]) for r in text if (m := re.search(r"Execution Time: ([\d.]+)", r))),
                        "scan": next((" ".join(r.split()).lstrip("-> ") for r in text if " on comment" in r), "?"),
                        "rows_removed": sum(int(m[1]) for r in text
                                            for m in re.finditer(r"Rows Removed by Filter: (\d+)", r)),
                    }
                other.append(line)
        out["plans"] = plans
        out["first_page_by_queue"] = {"largest": big, "smallest": small, "queues": other}
        db.engine.dispose()
    return out


def shorten(text: str) -> str:
    """Make SQL and plans readable: one line, long column lists, IN lists and array literals elided."""
    lead = text[:len(text) - len(text.lstrip())]
    text = re.sub(r"SELECT (comment\.\w+, ){6,}", "SELECT comment.<all columns>, ", " ".join(text.split()))
    text = re.sub(r"(%\((\w+?)_1_1\)s::\w+)(, %\(\2_\d+_\d+\)s::\w+)+", r"\1, ...", text)
    return lead + re.sub(r"'\{([^,}]{1,64}),([^,}]{1,64}),[^}]{100,}\}'",
                         lambda m: f"'{{{m[1]},{m[2]},...({m[0].count(',') + 1} values)}}'", text)


# --------------------------------------------------------------------------------------------- profile

def start_profiles(master: int, directory: Path) -> list[subprocess.Popen]:
    """py-spy record (raw collapsed stacks, 200 Hz, idle excluded) on each gunicorn worker."""
    directory.mkdir(parents=True, exist_ok=True)
    procs = []
    for pid in worker_pids(master):
        cmd = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--rate", str(PROFILE_RATE), "--format", "raw",
               "--output", str(directory / f"worker-{pid}.txt")]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.0)
    return procs


def stop_profiles(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(20)
        if p.poll() is None:
            p.kill()


PROFILE_RATE = 200  # py-spy samples per second and worker
# Where a sample inside a view goes: the first rule whose frame is on the stack wins. Frames are
# matched as "function (package/", without the class: py-spy 0.3 writes "Connection.wait (psycopg/...",
# 0.4 writes "wait (psycopg/..." (see _unqualified).
PROFILE_BUCKETS = [
    ("waiting for PostgreSQL (psycopg Connection.wait)", ";wait (psycopg/connection.py"),
    ("marshmallow Schema.dump", ";dump (marshmallow/schema.py"),
    ("SQLAlchemy: reload of expired objects after commit", ";_load_expired (sqlalchemy/"),
    ("SQLAlchemy: ORM row loading", "(sqlalchemy/orm/loading.py"),
    ("SQLAlchemy: statement compile/cache, session, other", "(sqlalchemy/"),
    ("psycopg: adapt, prepare, send, fetch (client side)", "(psycopg/"),
    ("marshmallow load (request validation)", "(marshmallow/"),
    ("comment_service Python (moderator_view, dump_moderator_comment, ...)", "(comment_service/"),
]
# Inclusive shares of these frames (label, frame).
PROFILE_FUNCTIONS = [(name, f";{name} (comment_service/") for name in (
    "site_for_key", "queue_items", "claim_batch", "moderator_items", "moderator_view", "dump_moderator_comment")] + [
    ("Session.commit", ";commit (sqlalchemy/orm/session.py"), ("Schema.dump", ";dump (marshmallow/schema.py"),
    ("Connection.wait", ";wait (psycopg/connection.py"), ("JSON response", ";response (flask/json/provider.py"),
]
_QUALIFIER = re.compile(r"(?<=;)(?:\w+\.)+(?=\w+ \()")


def _unqualified(stack: str) -> str:
    """';Flask.wsgi_app (flask/app.py:1511);...' -> ';wsgi_app (flask/app.py:1511);...'"""
    return _QUALIFIER.sub("", ";" + stack)


def summarise_profile(directory: Path, rate: int, requests: dict[str, int]) -> dict[str, Any]:
    """Split py-spy's samples by request part and, per view, into exclusive buckets; ms per request too.

    Parts: auth is `site_for_key` (the API key lookup every moderation request makes before its
    view), the views, Flask's JSON encoding of the answer, the teardown (the session gives its
    connection back: ROLLBACK), and the rest of Flask/Werkzeug. Samples outside requests (the
    worker waiting for the next connection) are left out.
    """
    parts: collections.Counter[str] = collections.Counter()
    buckets: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    functions: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for f in directory.glob("worker-*.txt"):
        for line in f.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            stack = _unqualified(stack)
            if not count.isdigit() or ";wsgi_app (flask/app.py" not in stack:
                continue
            n = int(count)
            view = re.search(r";(queue_page|claim|healthz|readyz) \(comment_service/", stack)
            part = ("auth (site_for_key)" if ";site_for_key (" in stack else view[1] if view
                    else "JSON encoding of the answer" if ";response (flask/json/provider.py" in stack
                    else "teardown (session ROLLBACK, pool)" if ";_teardown_session (" in stack
                    else "flask/werkzeug other")
            parts[part] += n
            buckets[part][next((b for b, frame in PROFILE_BUCKETS if frame in stack), "other")] += n
            for fn, frame in PROFILE_FUNCTIONS:
                if frame in stack:
                    functions[part][fn] += n
    total = sum(parts.values()) or 1
    share = lambda by: {p: {k: round(100 * v / parts[p], 1) for k, v in c.most_common()} for p, c in by.items()}  # noqa: E731
    per_request = {"auth (site_for_key)": requests.get("queue_page", 0) + requests.get("claim", 0), **requests}
    ms = {p: round(1000 * parts[p] / rate / per_request[p], 2) for p in parts if per_request.get(p)}
    return {"samples_in_requests": total, "rate_hz": rate,
            "parts_pct": {k: round(100 * v / total, 1) for k, v in parts.most_common()},
            "ms_per_request": ms, "buckets_pct": share(buckets), "functions_pct": share(functions)}


# ---------------------------------------------------------------------------------------------- report

def print_report(res: dict[str, Any], args: argparse.Namespace) -> None:
    """Tables for people; --json prints everything instead."""
    if "data" in res:
        d = res["data"]
        print(f"data: {d['rows']}")
        print(f"      status mix %: {d['status_mix_pct']}")
        print(f"      comments per site {d['comments_per_site']}, pending per site {d['pending_per_site']}")
        print(f"      authors {d['authors']}, created_at {d['created_at']}, {d['size']}")
    if res.get("load"):
        ld = res["load"]
        print(f"load: migrate {ld['migrate_s']} s, load {ld['load_s']} s  {ld['steps_s']}")
    if "in_process" in res:
        ip = res["in_process"]
        print(f"\nin-process (no HTTP), {args.in_process} calls each; SQL statements per call: "
              f"{ip['sql_statements_per_call']}")
        print(f"{'call':<18}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}   statements: p50 ms, share of time")
        for k, s in ip["latency_ms"].items():
            print(f"{k:<18}{s['n']:>6}{s['p50']:>9.2f}{s['p95']:>9.2f}{s['p99']:>9.2f}{s['max']:>9.2f}"
                  f"   {s['statements_p50']:.2f}, {100 * s['statements_share']:.0f} %")
        print("(statements: from sending each SQL statement to having its rows, i.e. PostgreSQL + round trip;"
              " the rest is Python: SQLAlchemy, psycopg, moderator_view; the claim's COMMIT is not a statement)")
        for p in ip["plans"]:
            print(f"\n-- plan ({p['for']}): {shorten(p['sql'])}")
            print("\n".join("   " + shorten(line) for line in p["plan"]))
        fq = ip["first_page_by_queue"]
        print(f"\nfirst page of every queue, SQL execution only (EXPLAIN ANALYZE), largest site {fq['largest']}"
              f" and smallest {fq['smallest']}:")
        for q in fq["queues"]:
            for which in ("largest", "smallest"):
                x = q[which]
                print(f"  {q['queue']:<12}{which:<9}{x['exec_ms']:>9.2f} ms  filtered out {x['rows_removed']:>7}"
                      f"  {x['scan'][:90]}")
    if "http" in res:
        h = res["http"]["latency_ms"]
        labels = {"healthz": "GET /healthz (baseline)", "readyz": "GET /readyz (SELECT 1)",
                  "queue_page": f"queue page ({args.limit})", "claim": f"claim ({args.limit})"}
        print("\nHTTP, one sequential client, interleaved; gunicorn 2 sync workers; ms")
        print(f"{'request':<26}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'p50/hz':>8}{'p99/hz':>8}  items  KB")
        for k, label in labels.items():
            s = h[k]
            extra = f"  {s['items_mean']:>5} {s['body_kb_mean']:>4}" if "items_mean" in s else ""
            print(f"{label:<26}{s['n']:>5}{s['p50']:>8.2f}{s['p95']:>8.2f}{s['p99']:>8.2f}{s['max']:>8.2f}"
                  f"{s['p50_x_healthz']:>8.2f}{s['p99_x_healthz']:>8.2f}{extra}")
        print("(p50/hz and p99/hz: the percentile divided by the p50 of GET /healthz in this run)")
    if res.get("profile"):
        prof = res["profile"]
        print(f"\npy-spy (200 Hz, both workers, HTTP run): {prof['samples_in_requests']} samples inside requests")
        print("  by part: " + ", ".join(f"{k} {v}%" for k, v in prof["parts_pct"].items()))
        print("  sampled ms per request: " + ", ".join(f"{k} {v}" for k, v in prof["ms_per_request"].items()))
        for part in ("queue_page", "claim", "auth (site_for_key)"):
            if part in prof["buckets_pct"]:
                print(f"  {part}, exclusive buckets:")
                print("\n".join(f"    {v:5.1f}%  {k}" for k, v in prof["buckets_pct"][part].items()))
                print("    inclusive: " + ", ".join(f"{k} {v}%" for k, v in prof["functions_pct"][part].items()))
    print(f"\nschema: {res['schema']} ({'kept' if res['kept'] else 'dropped'})")
    verdict = "PASS" if res["passed"] else "FAIL"
    print(f"queue page p99 and claim p99 < {args.max_p99_ms:g} ms: {verdict}")
    for p in res["problems"]:
        print(f"problem: {p}")


# ------------------------------------------------------------------------------------------------ main

def main() -> int:
    """Set up, load, measure, report, clean up; 0 only when both p99s are under the limit and all was 2xx."""
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally block on kill too
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even when started in the background
    sys.path.insert(0, str(ROOT))
    schema = args.reuse or f"bench_queue_{secrets.token_hex(4)}"
    conninfo, app_url = local_urls(args.database_url, schema)
    env = {**os.environ, "FLASK_APP": "wsgi", "MAJLIS_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
           "DATABASE_URL": app_url, "MAJLIS_RATELIMIT_ENABLED": "false"}
    keep = args.keep or (bool(args.reuse) and not args.drop)
    created = loaded = False
    server: subprocess.Popen | None = None
    profilers: list[subprocess.Popen] = []
    res: dict[str, Any] = {"schema": schema, "kept": keep, "problems": []}
    rng = random.Random(args.seed)
    try:
        if args.reuse:
            with connect(conninfo) as conn:
                if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
                    raise SystemExit(f"bench failed: schema {schema} does not exist")
            log(f"reusing {schema}: migrate (no-op if current), free leftover leases, VACUUM")
            migrate(env)
            release_claims(conninfo, schema, vacuum=True)
        else:
            created = True
            res["load"] = create_schema(conninfo, schema, env, args)
            loaded = True
        res["data"] = describe_data(conninfo, schema)
        os.environ.update(env)
        log("issuing one API key per site")
        keys = issue_keys()
        queues = pending_ids(conninfo, schema)
        pages = page_targets(queues, args.pages, rng)
        claims = claim_targets(list(queues), args.claims, args.moderators, rng)
        if args.in_process:
            log(f"in-process: {args.in_process} queue_items and claim_batch calls, then EXPLAIN ANALYZE")
            res["in_process"] = in_process(env, pages, claims, args.in_process, args)
            release_claims(conninfo, schema, vacuum=True)
        server, port = start_server(env)
        wait_ready(port, server)
        check_endpoints(Client(port), pages[0][0], keys[pages[0][0]])
        if args.profile:
            profilers = start_profiles(server.pid, Path(args.profile))
        log(f"HTTP: {args.pages} queue pages, {args.claims} claims, interleaved with /healthz and /readyz")
        res["http"] = run_http(port, keys, pages, claims, args)
        if profilers:
            stop_profiles(profilers)
            profilers = []
            res["profile"] = summarise_profile(Path(args.profile), PROFILE_RATE,
                                               {k: v["n"] for k, v in res["http"]["latency_ms"].items()})
        res["problems"] += res["http"]["problems"]
        for k in ("queue_page", "claim"):
            if (p99 := res["http"]["latency_ms"][k]["p99"]) >= args.max_p99_ms:
                res["problems"].append(f"{k} p99 {p99:.2f} ms >= {args.max_p99_ms:g} ms")
        res["passed"] = not res["problems"]
        print(json.dumps(res, indent=2, default=str)) if args.json else print_report(res, args)
        return 0 if res["passed"] else 1
    except KeyboardInterrupt:
        log("interrupted: stopping gunicorn and cleaning up")
        return 130
    finally:
        stop_profiles(profilers)
        if server is not None:  # gunicorn runs in its own session: its group is the master and workers
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)  # stragglers (a worker that outlived its master)
        drop = (created and (not keep or not loaded)) or (bool(args.reuse) and args.drop)
        with contextlib.suppress(Exception):
            if not drop and (loaded or args.reuse):
                n = release_claims(conninfo, schema)
                log(f"kept schema {schema} ({n} leases freed); rerun with --reuse {schema}")
        if drop:
            with connect(conninfo) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            log(f"dropped schema {schema}")


if __name__ == "__main__":
    sys.exit(main())
