"""Reads for a site's moderators and admins: the decision log, item context, the API key list."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Comment, ModerationAction, Site, SiteApiKey, Thread


def recent_decisions(site: Site, before: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the site's human decisions (moderators, API keys), newest first; keyset on id."""
    stmt = (
        sa.select(ModerationAction, Comment.author_name, Comment.body_source, Thread.key, Thread.title)
        .join(Comment, Comment.id == ModerationAction.comment_id)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(ModerationAction.site_id == site.id, ModerationAction.actor_type == "moderator")
        .order_by(ModerationAction.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(ModerationAction.id < before)
    rows = db.session.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": a.id, "comment_id": a.comment_id, "revision": a.revision, "actor": a.actor_id,
            "from_status": a.from_status.value if a.from_status else None, "to_status": a.to_status.value,
            "reason": a.reason_code, "note": a.note, "created_at": a.created_at,
            "author_name": name, "excerpt": body[:140], "thread": {"key": key, "title": title},
        }
        for a, name, body, key, title in rows
    ]
    return items, (rows[-1][0].id if more else None)


def item_context(site: Site, ids: list[int]) -> dict[int, dict[str, Any]]:
    """What the queue page shows beside the moderation view: the article's link, the IP prefix digest."""
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Comment.id, Comment.ip_hmac, Thread.url)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(Comment.site_id == site.id, Comment.id.in_(ids))
    )
    return {cid: {"ip_hmac": ip, "thread_url": url} for cid, ip, url in rows}


def api_keys(site: Site) -> list[dict[str, Any]]:
    """The site's API keys by prefix (never the key), oldest first, revoked ones flagged."""
    rows = db.session.scalars(sa.select(SiteApiKey).where(SiteApiKey.site_id == site.id).order_by(SiteApiKey.id))
    return [{"prefix": k.prefix, "created_at": k.created_at, "revoked_at": k.revoked_at} for k in rows]
