"""An author's own changes, with the edit token from creation, inside the site's edit window:
edit (a new revision, moderated again) and delete (withdraw). Both go through services.changes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from comment_service.database import commit_keeping_state
from comment_service.extensions import db
from comment_service.models import Comment, Site, Thread, utcnow
from comment_service.moderation import privacy
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.errors import Conflict, Forbidden, NotFound
from comment_service.moderation.sanitize import sanitize_body
from comment_service.moderation.status import EDITABLE, Action, Status, reviewed
from comment_service.schemas.fields import ID_MAX
from comment_service.services import changes
from comment_service.services.bans import ban_pairs
from comment_service.services.comments import (
    audit_reason,
    author_facts,
    banned,
    closed,
    editable_until,
    moderate,
    thread_is_closed,
)
from comment_service.services.identity import ip_hmac
from comment_service.services.reading import public_comment
from comment_service.services.sites import site_settings


def _own_comment(site: Site, comment_id: int, token: str | None, settings: dict[str, Any], now: datetime) -> Comment:
    """The comment this token was issued for, while its edit window is open; 404 or 403 otherwise."""
    c = None
    if comment_id <= ID_MAX:  # a larger id cannot exist, and PostgreSQL would refuse to compare it
        c = db.session.scalar(sa.select(Comment).where(Comment.id == comment_id, Comment.site_id == site.id))
    if c is None:
        raise NotFound("comment_not_found", "No comment with this id on this site.")
    if not token or not privacy.tokens_match(token, c.edit_token_hash):
        raise Forbidden("invalid_edit_token", "This edit token does not belong to this comment.")
    if now >= editable_until(settings, c.created_at):
        raise Forbidden("edit_window_closed", "This comment can no longer be changed: the edit window is over.")
    return c


def edit_comment(site: Site, comment_id: int, token: str | None, body: str, client_ip: str | None) -> dict[str, Any]:
    """Replace a comment's text: a new revision, sanitised and moderated again; returns the comment as
    readers see it (services.public_comment).

    The new status is the pipeline's decision on the new text (an approved comment whose text
    changed is published again, not approved: no human has seen this text). Sending the same text
    changes nothing.
    """
    now = utcnow()
    settings = site_settings(site)
    c = _own_comment(site, comment_id, token, settings, now)
    if c.status not in EDITABLE:
        raise Conflict("not_editable", "This comment can no longer be edited.")
    thread = db.session.get(Thread, c.thread_id)
    if body == c.body_source:
        return public_comment(c, thread.key)
    if thread_is_closed(settings, thread, now):
        raise closed()
    facts = author_facts(site, c.email_hmac, body, now, exclude_id=c.id,
                         bans=ban_pairs(c.author_email, c.email_hmac, ip_hmac(client_ip)))
    if facts.banned:
        raise banned()
    body_html = sanitize_body(body)
    decision = moderate(settings, site, body, body_html, facts)
    # Guarded like a moderator's decision: a change made meanwhile (a decision, another edit) wins.
    try:
        changes.apply(site.id, c, changes.Change(
            Actor.AUTHOR, transition=reviewed(c.status, decision.status),
            reason=audit_reason(decision, AuditReason.EDITED), text=(body, body_html),
            hold_reasons=[r.as_dict() for r in decision.reasons],
        ), now)
    except changes.ChangedMeanwhile:
        raise Conflict("edit_conflict", "The comment changed while you edited it; reload it.") from None
    commit_keeping_state()
    return public_comment(c, thread.key)


def delete_comment(site: Site, comment_id: int, token: str | None) -> None:
    """Withdraw one's comment, whatever its status: it becomes `deleted` (a tombstone if it has replies).

    Deleting a deleted comment changes nothing (a retried request succeeds again).
    """
    now = utcnow()
    c = _own_comment(site, comment_id, token, site_settings(site), now)
    if c.status is Status.DELETED:
        return
    changes.apply(site.id, c, changes.Change(Actor.AUTHOR, action=Action.DELETE, reason=AuditReason.AUTHOR_DELETED),
                  now)
    db.session.commit()
