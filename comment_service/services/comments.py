"""Reader-facing use cases: submit a comment, read a thread, count comments."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, load_only

from comment_service.errors import ApiError, FieldError
from comment_service.extensions import db
from comment_service.models import VISIBLE_VALUES, Comment, ModerationAction, Site, Thread, utcnow
from comment_service.moderation import privacy
from comment_service.moderation.rules import Submission, evaluate
from comment_service.moderation.sanitize import count_links, sanitize_body
from comment_service.moderation.status import Status, is_visible
from comment_service.read_cache import read_cache
from comment_service.schemas import comment_page_schema
from comment_service.services import idempotency
from comment_service.services.bans import active_ban
from comment_service.services.idempotency import KeyedRequest
from comment_service.services.identity import avatar_for, email_hmac, ip_hmac
from comment_service.services.sites import site_policy, site_settings


def _get_or_create_thread(site: Site, key: str, title: str | None, url: str | None) -> Thread:
    """The thread for key, created on its first comment (safe against two first comments at once)."""
    stmt = sa.select(Thread).where(Thread.site_id == site.id, Thread.key == key)
    thread = db.session.scalar(stmt)
    if thread is None:
        try:
            with db.session.begin_nested():
                thread = Thread(site_id=site.id, key=key, title=title, url=url)
                db.session.add(thread)
        except IntegrityError:
            thread = db.session.scalar(stmt)
            if thread is None:  # pragma: no cover - the other writer rolled back
                raise
    if thread.title is None and title:
        thread.title = title
    if thread.url is None and url:
        thread.url = url
    return thread


def _check_parent(thread: Thread, parent_id: int | None) -> None:
    if parent_id is None:
        return
    parent = db.session.get(Comment, parent_id)
    if parent is None or parent.thread_id != thread.id or not is_visible(parent.status):
        raise ApiError(
            422,
            "validation_failed",
            "Some fields need attention.",
            {"parent_id": [FieldError("invalid_parent", "The comment you reply to is not in this thread.")]},
        )


DUPLICATE_WINDOW = timedelta(days=1)


def author_facts(site: Site, digest: str, body: str, now: datetime, exclude_id: int | None = None) -> dict[str, bool]:
    """What the rules need to know about an author's history on this site."""
    has_approved = db.session.scalar(
        sa.select(Comment.id).where(
            Comment.site_id == site.id, Comment.email_hmac == digest, Comment.status == Status.APPROVED
        ).limit(1)
    )
    duplicate_stmt = sa.select(Comment.id).where(
        Comment.site_id == site.id,
        Comment.email_hmac == digest,
        Comment.created_at > now - DUPLICATE_WINDOW,
        Comment.body_source == body,
        Comment.status != Status.DELETED,
    )
    if exclude_id is not None:
        duplicate_stmt = duplicate_stmt.where(Comment.id != exclude_id)
    duplicate = db.session.scalar(duplicate_stmt.limit(1))
    return {"author_has_approved_comment": has_approved is not None, "duplicate_of_recent": duplicate is not None}


def thread_is_closed(site: Site, thread: Thread, now: datetime) -> bool:
    """Closed by hand, or older than the site's auto-close age."""
    days = site_settings(site)["auto_close_days"]
    return thread.closed or (days is not None and thread.created_at < now - timedelta(days=days))


def commit_keeping_state() -> None:
    """Commit without expiring what the session holds: the answer is built from objects already
    loaded, so nothing after the commit goes back to the database (a failure there would turn a
    stored change into an error, and a retry would store it twice)."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def submit_comment(
    site: Site, data: dict[str, Any], client_ip: str | None, keyed: KeyedRequest | None = None
) -> tuple[Comment, str]:
    """Store a reader's comment after validation, sanitising and moderation; return it and its edit token.

    With an Idempotency-Key (`keyed`), the key is recorded in the same transaction and the edit
    token is the one derived for it; idempotency.AlreadyRecorded when another request with the
    key stored its comment first (this one then stores nothing).
    """
    now = utcnow()
    if active_ban(site, data["author_email"], client_ip, now) is not None:
        # Nothing is stored, and the thread is not even created.
        raise ApiError(403, "author_banned", "You cannot comment on this site.")
    thread = _get_or_create_thread(site, data["thread"], data["thread_title"], data["thread_url"])
    if thread_is_closed(site, thread, now):
        raise ApiError(403, "thread_closed", "This thread is closed to new comments.")
    _check_parent(thread, data["parent_id"])

    digest = email_hmac(data["author_email"])
    body_html = sanitize_body(data["body"])
    submission = Submission(
        body=data["body"],
        link_count=count_links(body_html),
        honeypot_filled=bool(data.get("company")),
        **author_facts(site, digest, data["body"], now),
    )
    decision = evaluate(site_policy(site), submission)
    token = keyed.token if keyed is not None else privacy.new_token()
    comment = Comment(
        site_id=site.id,
        thread_id=thread.id,
        parent_id=data["parent_id"],
        author_name=data["author_name"],
        author_email=data["author_email"],
        email_hmac=digest,
        author_url=data["author_url"],
        avatar=avatar_for(site, data["author_email"]),
        body_source=data["body"],
        body_html=body_html,
        status=decision.status,
        hold_reasons=[r.as_dict() for r in decision.reasons],
        ip_hmac=ip_hmac(client_ip),
        edit_token_hash=privacy.token_digest(token),
        created_at=now,
    )
    db.session.add(comment)
    db.session.flush()
    if keyed is not None:
        idempotency.record(site, keyed, comment.id, now)
    db.session.add(
        ModerationAction(
            site_id=site.id,
            comment_id=comment.id,
            revision=comment.revision,
            actor_type="rule",
            from_status=None,
            to_status=comment.status,
            reason_code=decision.reason_code,
        )
    )
    if is_visible(comment.status):
        bump_thread(thread.id, +1)
    commit_keeping_state()
    return comment, token


def bump_thread(thread_id: int, delta: int) -> None:
    """Count a visible change: the version moves so every cached page of the thread goes stale."""
    read_cache().forget_recent()  # this process sees its own writes at once; others within the memo TTL
    db.session.execute(
        sa.update(Thread)
        .where(Thread.id == thread_id)
        .values(version=Thread.version + 1, comment_count=Thread.comment_count + delta)
    )


def thread_key(comment: Comment) -> str:
    """The key of a comment's thread."""
    return db.session.scalar(sa.select(Thread.key).where(Thread.id == comment.thread_id)) or ""


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
        """True when the client already holds this page (If-None-Match)."""
        return bool(if_none_match) and self.etag in {t.strip() for t in if_none_match.split(",")}


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
        raise ApiError(404, "site_not_found", "No site with this id.")
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


def thread_counts(site: Site, keys: list[str]) -> dict[str, int]:
    """Visible comments per thread key; unknown keys count 0."""
    rows = db.session.execute(
        sa.select(Thread.key, Thread.comment_count).where(Thread.site_id == site.id, Thread.key.in_(keys))
    )
    found = {key: count for key, count in rows}
    return {k: found.get(k, 0) for k in keys}
