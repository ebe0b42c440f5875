"""An author's privacy requests on one site, found by the keyed digest of their email: export
everything stored about their comments, or erase their personal data."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from comment_service.extensions import db
from comment_service.models import Comment, ModerationAction, Site, utcnow
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.errors import DomainError
from comment_service.moderation.status import Action, Status, erased
from comment_service.services import changes
from comment_service.services.identity import email_hmac

log = logging.getLogger(__name__)
# What an erased comment keeps of its author: nothing. The name is empty, not a word in some
# language: the widget never shows an erased comment's author (a tombstone has none) and a
# dashboard says "erased" in its own language.
ERASED_NAME = ""


def export_author(site: Site, email: str) -> list[Comment]:
    """Every comment of this author on this site (any status), oldest first, as stored, each with its
    thread loaded (ExportedCommentSchema dumps them)."""
    comments = db.session.scalars(
        sa.select(Comment)
        .join(Comment.thread)
        .options(contains_eager(Comment.thread))
        .where(Comment.site_id == site.id, Comment.email_hmac == email_hmac(email))
        .order_by(Comment.id)
    ).all()
    log.info("privacy export on site %s: %d comments", site.slug, len(comments))
    return list(comments)


def _scrub(c: Comment) -> None:
    """Remove everything in a comment that came from or points to its author."""
    c.author_name = ERASED_NAME
    c.author_email = None
    c.email_hmac = None
    c.author_url = None
    c.avatar = ""  # derived from the email: it would still link the author's comments together
    c.ip_hmac = None
    c.body_source = ""
    c.body_html = ""
    c.hold_reasons = []  # reasons quote the matched words of the body
    c.edit_token_hash = None


def erase_author(site: Site, email: str, actor: str | None) -> int:
    """Remove an author's personal data from all their comments on this site; returns how many.

    Each comment not yet deleted is deleted through services.changes (an audit row with actor
    "system" and reason privacy_erase; the thread's count and version follow); one already deleted
    gets an audit row and a new revision too, so the log says why its text is gone. Moderators' notes on these comments
    go as well: they are free text about the author. The rows stay, so replies keep a tombstone
    parent. One transaction; the log line names the site and the count, never the email.
    """
    now = utcnow()
    comments = db.session.scalars(
        sa.select(Comment)
        .where(Comment.site_id == site.id, Comment.email_hmac == email_hmac(email))
        .order_by(Comment.id)
        .with_for_update()
    ).all()
    try:
        for c in comments:
            change = changes.Change(Actor.SYSTEM, actor_id=actor, reason=AuditReason.PRIVACY_ERASE,
                                    **({"transition": erased(c.status)} if c.status is Status.DELETED
                                       else {"action": Action.DELETE}))
            changes.apply(site.id, c, change, now)
            _scrub(c)
    except DomainError:  # a comment changed meanwhile: erase nothing, the site asks again
        db.session.rollback()
        raise
    if comments:
        db.session.execute(
            sa.update(ModerationAction)
            .where(ModerationAction.comment_id.in_([c.id for c in comments]))
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    log.info("privacy erase on site %s: %d comments erased", site.slug, len(comments))
    return len(comments)
