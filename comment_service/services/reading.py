"""What readers read: a comment as they may see it, a thread's pages (memoised, cached by version),
and the counts of a page's threads."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased, load_only

from comment_service.extensions import db
from comment_service.models import VISIBLE_VALUES, Comment, Site, Thread
from comment_service.moderation.errors import NotFound
from comment_service.moderation.status import Status
from comment_service.read_cache import read_cache
from comment_service.schemas import comment_page_schema


def public_comment(comment: Comment, thread_key: str) -> dict[str, Any]:
    """A comment as readers may see it (no email, no IP, no reasons), ready for CommentSchema."""
    return {
        "id": comment.id,
        "thread": thread_key,
        "parent_id": comment.parent_id,
        "author": {"name": comment.author_name, "url": comment.author_url, "avatar": comment.avatar},
        "body_html": comment.body_html,
        # Rejected and spam comments look "awaiting moderation" to their author: a spammer learns
        # nothing about the word lists or the honeypot.
        "status": comment.status.value if comment.status in PUBLIC_STATUSES else Status.PENDING.value,
        "created_at": comment.created_at,
    }


@dataclass(frozen=True)
class ThreadPage:
    """A serialised page of a thread and the validator that names it."""

    etag: str
    body: bytes | None  # None when the client's ETag matched and nothing was cached to send
    origins: list[str]

    def matches(self, if_none_match: str | None) -> bool:
        """True when the client already holds this page (If-None-Match). The comparison is weak, as
        RFC 9110 says for If-None-Match: W/"x" matches "x" (a compressing proxy, nginx's gzip among
        them, weakens the ETag it passes on, and the browser sends that one back)."""
        if not if_none_match:
            return False
        return self.etag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}


PUBLIC_STATUSES = frozenset({Status.PENDING, Status.PUBLISHED, Status.APPROVED})

_PUBLIC_COLUMNS = load_only(
    Comment.id, Comment.parent_id, Comment.author_name, Comment.author_url, Comment.avatar,
    Comment.body_html, Comment.status, Comment.created_at,
)

# The version probe, built once: the site (404 if absent) and, if it exists, the thread.
_PROBE = (
    sa.select(
        Site.id, Site.allowed_origins, Thread.id, Thread.version, Thread.created_at,
        Thread.title, Thread.url, Thread.closed, Thread.comment_count,
    )
    .select_from(Site)
    .outerjoin(Thread, sa.and_(Thread.site_id == Site.id, Thread.key == sa.bindparam("key")))
    .where(Site.slug == sa.bindparam("slug"))
)


def thread_page(slug: str, key: str, after: int | None, limit: int, if_none_match: str | None) -> ThreadPage:
    """A page of a thread's visible comments, oldest first.

    Three layers keep the hot path cheap: a per-process memo of the page for
    MAJLIS_READ_MEMO_SECONDS (cleared by every write this process makes), then one indexed probe
    of the thread's version, then the serialised page cached under the version's ETag.
    """
    cache = read_cache()
    memo_key = (slug, key, after, limit)
    page = cache.recent(memo_key)
    if page is not None:
        return page
    # A plain Core execution: the ORM adds nothing to a column probe but cost on every read.
    row = db.session.connection().execute(_PROBE, {"slug": slug, "key": key}).first()
    if row is None:
        raise NotFound("site_not_found", "No site with this id.")
    site_id, origins, thread_id, version, created, title, url, closed, count = row
    stamp = f"{site_id}/{key}/{thread_id}/{created.timestamp() if created else 0}/{version}/{after}/{limit}"
    etag = '"' + hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest() + '"'
    body = cache.get(etag)
    if body is None:
        if ThreadPage(etag, None, origins).matches(if_none_match):
            return ThreadPage(etag, None, origins)
        comments: list[Comment] = []
        if thread_id is not None:
            stmt = (
                sa.select(Comment)
                .options(_PUBLIC_COLUMNS)
                .where(Comment.thread_id == thread_id, Comment.status.in_([Status(v) for v in VISIBLE_VALUES]))
                .order_by(Comment.id)
                .limit(limit + 1)
            )
            if after is not None:
                stmt = stmt.where(Comment.id > after)
            comments = list(db.session.scalars(stmt))
        more = len(comments) > limit
        comments = comments[:limit]
        entries = [public_comment(c, key) for c in comments]
        # Replies whose parent is not on this page: the parent may be hidden (a tombstone keeps the
        # thread's shape) or on an earlier page. Only then is there a second query.
        missing = {c.parent_id for c in comments if c.parent_id is not None} - {c.id for c in comments}
        if missing:
            entries = sorted(entries + _tombstones(thread_id, missing, key), key=lambda e: e["id"])
        data = {
            "thread": {"key": key, "title": title, "url": url, "closed": bool(closed), "comment_count": count or 0},
            "comments": entries,
            "next_cursor": str(comments[-1].id) if more else None,
        }
        body = current_app.json.dumps(comment_page_schema.dump(data), separators=(",", ":")).encode()
        cache.put(etag, body)
    page = ThreadPage(etag, body, origins)
    cache.remember(memo_key, page)
    return page


def _tombstones(thread_id: int, parent_ids: set[int], thread_key: str) -> list[dict[str, Any]]:
    """Placeholders for the hidden parents of listed replies, and for their hidden ancestors (one query).

    A tombstone says only that a comment was there: its id, place in the thread and time.
    """
    hidden = [s for s in Status if s.value not in VISIBLE_VALUES]
    found = (
        sa.select(Comment.id, Comment.parent_id, Comment.created_at)
        .where(Comment.thread_id == thread_id, Comment.id.in_(parent_ids), Comment.status.in_(hidden))
        .cte("tombstone", recursive=True)
    )
    ancestor = aliased(Comment)
    found = found.union(
        sa.select(ancestor.id, ancestor.parent_id, ancestor.created_at)
        .join(found, ancestor.id == found.c.parent_id)
        .where(ancestor.thread_id == thread_id, ancestor.status.in_(hidden))
    )
    return [
        {"id": cid, "thread": thread_key, "parent_id": parent_id, "author": None, "body_html": "",
         "status": Status.DELETED.value, "created_at": created_at}
        for cid, parent_id, created_at in db.session.execute(sa.select(found))
    ]


# The counts of a page's threads and the site's origins, in one statement built once (a site
# with none of the threads gives one row of NULLs; no site, no row). The origins come as their
# JSON text, parsed once here: as a JSON column the driver would parse them again on every row.
_COUNTS = (
    sa.select(Site.id, sa.cast(Site.allowed_origins, sa.Text), Thread.key, Thread.comment_count)
    .select_from(Site)
    .outerjoin(Thread, sa.and_(Thread.site_id == Site.id, Thread.key.in_(sa.bindparam("p_keys", expanding=True))))
    .where(Site.slug == sa.bindparam("p_slug", type_=sa.String))
)


def site_counts(slug: str, keys: list[str]) -> tuple[list[str], dict[str, int]]:
    """The site's allowed origins and its visible comments per thread key (unknown keys count 0);
    NotFound when there is no such site."""
    rows = db.session.connection().execute(_COUNTS, {"p_slug": slug, "p_keys": keys}).all()
    if not rows:
        raise NotFound("site_not_found", "No site with this id.")
    found = {key: count for _, _, key, count in rows if key is not None}
    origins = rows[0][1]
    return (json.loads(origins) if origins else []), {k: found.get(k, 0) for k in keys}

