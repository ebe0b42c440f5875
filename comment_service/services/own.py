"""An author's own comments, found by the edit tokens their browser kept: pending ones included."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Comment, Site, Thread
from comment_service.moderation import privacy
from comment_service.moderation.status import Status
from comment_service.services.comments import editable_until
from comment_service.services.reading import public_comment
from comment_service.services.sites import site_settings


@dataclass(frozen=True)
class OwnComment:
    """One of an author's comments as OwnCommentSchema shows it: the reader's view and the end of its
    edit window."""

    comment: dict[str, object]
    editable_until: datetime


def own_comments(site: Site, claims: list[tuple[int, str]]) -> list[OwnComment]:
    """The comments whose id and edit token match, not deleted, each with its edit deadline.

    A wrong token answers exactly like an unknown id: the caller learns nothing about comments that
    are not theirs.
    """
    tokens = dict(claims)
    rows = db.session.execute(
        sa.select(Comment, Thread.key)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(Comment.site_id == site.id, Comment.id.in_(tokens), Comment.status != Status.DELETED)
        .order_by(Comment.id)
    ).all()
    settings = site_settings(site)
    return [
        OwnComment(public_comment(c, key), editable_until(settings, c.created_at))
        for c, key in rows
        if privacy.tokens_match(tokens[c.id], c.edit_token_hash)
    ]
