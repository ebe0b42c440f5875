"""Reads for a site's moderators and admins: the decision log, item context, the API key list."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Comment, ModerationAction, Report, Site, SiteApiKey, Thread
from comment_service.moderation.audit import Actor
from comment_service.services.reports import REPORT_COLUMNS, ReportView


def recent_decisions(site: Site, before: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the site's human decisions (moderators, API keys), newest first; keyset on id."""
    stmt = (
        sa.select(ModerationAction, Comment.author_name, Comment.body_source, Thread.key, Thread.title)
        .join(Comment, Comment.id == ModerationAction.comment_id)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(ModerationAction.site_id == site.id, ModerationAction.actor_type == Actor.MODERATOR)
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


@dataclass(frozen=True)
class ItemContext:
    """What a dashboard page shows beside a moderator's item: the article's link, the IP prefix
    digest, and the reader reports (all of them, while some are open)."""

    ip_hmac: str | None
    thread_url: str | None
    reports: list[ReportView] = field(default_factory=list)


def item_context(site: Site, ids: list[int]) -> dict[int, ItemContext]:
    """The context of these items, by id, in one statement whatever the number of reports."""
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Comment.id, Comment.ip_hmac, Thread.url, *REPORT_COLUMNS)
        .join(Thread, Thread.id == Comment.thread_id)
        .outerjoin(Report, sa.and_(Report.comment_id == Comment.id, Comment.open_reports > 0))
        .where(Comment.site_id == site.id, Comment.id.in_(ids))
        .order_by(Comment.id, Report.id)
    )
    out: dict[int, ItemContext] = {}
    for cid, ip, url, *report in rows:
        context = out.setdefault(cid, ItemContext(ip, url))
        if report[0] is not None:
            context.reports.append(ReportView(*report))
    return out


def api_keys(site: Site) -> list[SiteApiKey]:
    """The site's API keys (prefix, created, revoked; never the key), oldest first."""
    return list(db.session.scalars(sa.select(SiteApiKey).where(SiteApiKey.site_id == site.id).order_by(SiteApiKey.id)))
