"""Reader-facing use cases: submit a comment, read a thread, count comments."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only

from comment_service.errors import ApiError, FieldError
from comment_service.extensions import db
from comment_service.models import VISIBLE_VALUES, Comment, ModerationAction, Site, Thread
from comment_service.services.identity import avatar_for, email_hmac, ip_hmac
from comment_service.services.sites import site_policy
from comment_service.moderation import privacy
from comment_service.moderation.rules import Submission, evaluate
from comment_service.moderation.sanitize import sanitize_body
from comment_service.moderation.status import Status, is_visible
from comment_service.read_cache import read_cache
from comment_service.schemas import comment_page_schema


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


def submit_comment(site: Site, data: dict[str, Any], client_ip: str | None) -> tuple[Comment, str]:
    """Store a reader's comment after validation, sanitising and moderation; return it and its edit token."""
    thread = _get_or_create_thread(site, data["thread"], data["thread_title"], data["thread_url"])
    if thread.closed:
        raise ApiError(403, "thread_closed", "This thread is closed to new comments.")
    _check_parent(thread, data["parent_id"])

    decision = evaluate(site_policy(site), Submission(body=data["body"]))
    token = privacy.new_token()
    comment = Comment(
        site_id=site.id,
        thread_id=thread.id,
        parent_id=data["parent_id"],
        author_name=data["author_name"],
        author_email=data["author_email"],
        email_hmac=email_hmac(data["author_email"]),
        author_url=data["author_url"],
        avatar=avatar_for(site, data["author_email"]),
        body_source=data["body"],
        body_html=sanitize_body(data["body"]),
        status=decision.status,
        hold_reasons=[r.as_dict() for r in decision.reasons],
        ip_hmac=ip_hmac(client_ip),
        edit_token_hash=privacy.token_digest(token),
    )
    db.session.add(comment)
    db.session.flush()
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
        _bump_thread(thread.id, +1)
    db.session.commit()
    return comment, token


def _bump_thread(thread_id: int, delta: int) -> None:
    """Count a visible change: the version moves so every cached page of the thread goes stale."""
    db.session.execute(
        sa.update(Thread)
        .where(Thread.id == thread_id)
        .values(version=Thread.version + 1, comment_count=Thread.comment_count + delta)
    )


def public_comment(comment: Comment, thread_key: str) -> dict[str, Any]:
    """A comment as readers may see it (no email, no IP, no reasons), ready for CommentSchema."""
    return {
        "id": comment.id,
        "thread": thread_key,
        "parent_id": comment.parent_id,
        "author": {"name": comment.author_name, "url": comment.author_url, "avatar": comment.avatar},
        "body_html": comment.body_html,
        "status": comment.status.value,
        "created_at": comment.created_at,
    }


@dataclass(frozen=True)
class ThreadPage:
    """A serialised page of a thread and the validator that names it."""

    etag: str
    body: bytes | None  # None when only the ETag was needed (a 304)
    origins: list[str]


_PUBLIC_COLUMNS = load_only(
    Comment.id, Comment.parent_id, Comment.author_name, Comment.author_url, Comment.avatar,
    Comment.body_html, Comment.status, Comment.created_at,
)


def thread_page(slug: str, key: str, after: int | None, limit: int, if_none_match: str | None) -> ThreadPage:
    """A page of a thread's visible comments, oldest first, from the cache when the thread is unchanged."""
    row = db.session.execute(
        sa.select(
            Site.id, Site.allowed_origins, Thread.id, Thread.version, Thread.created_at,
            Thread.title, Thread.url, Thread.closed, Thread.comment_count,
        )
        .select_from(Site)
        .outerjoin(Thread, sa.and_(Thread.site_id == Site.id, Thread.key == key))
        .where(Site.slug == slug)
    ).first()
    if row is None:
        raise ApiError(404, "site_not_found", "No site with this id.")
    site_id, origins, thread_id, version, created, title, url, closed, count = row
    stamp = f"{site_id}/{key}/{thread_id}/{created.timestamp() if created else 0}/{version}/{after}/{limit}"
    etag = '"' + hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest() + '"'
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return ThreadPage(etag, None, origins)

    cache = read_cache()
    body = cache.get(etag)
    if body is None:
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
        page = {
            "thread": {"key": key, "title": title, "url": url, "closed": bool(closed), "comment_count": count or 0},
            "comments": [public_comment(c, key) for c in comments],
            "next_cursor": str(comments[-1].id) if more else None,
        }
        body = current_app.json.dumps(comment_page_schema.dump(page), separators=(",", ":")).encode()
        cache.put(etag, body)
    return ThreadPage(etag, body, origins)


def thread_counts(site: Site, keys: list[str]) -> dict[str, int]:
    """Visible comments per thread key; unknown keys count 0."""
    rows = db.session.execute(
        sa.select(Thread.key, Thread.comment_count).where(Thread.site_id == site.id, Thread.key.in_(keys))
    )
    found = {key: count for key, count in rows}
    return {k: found.get(k, 0) for k in keys}
