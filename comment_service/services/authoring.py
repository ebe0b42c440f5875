"""An author's own changes, with the edit token from creation, inside the site's edit window:
edit (a new revision, moderated again) and delete (withdraw)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from comment_service.errors import ApiError
from comment_service.extensions import db
from comment_service.models import Comment, ModerationAction, Site, Thread, utcnow
from comment_service.moderation import privacy
from comment_service.moderation.rules import Submission, evaluate
from comment_service.moderation.sanitize import count_links, sanitize_body
from comment_service.moderation.status import Action, Status, is_visible
from comment_service.schemas.fields import ID_MAX
from comment_service.services.bans import active_ban
from comment_service.services.comments import author_facts, bump_thread, commit_keeping_state, thread_is_closed
from comment_service.services.moderation import Change, apply_change
from comment_service.services.own import editable_until
from comment_service.services.sites import site_policy

# What an author may edit. Rejected and spam comments look "awaiting moderation" to their author;
# they get the same refusal as a deleted one, which does not say which of the three it is.
EDITABLE = frozenset({Status.PENDING, Status.PUBLISHED, Status.APPROVED})
EDITED = "edited"
AUTHOR_DELETED = "author_deleted"


def _own_comment(site: Site, comment_id: int, token: str | None, now: datetime) -> Comment:
    """The comment this token was issued for, while its edit window is open; 404 or 403 otherwise."""
    c = None
    if comment_id <= ID_MAX:  # a larger id cannot exist, and PostgreSQL would refuse to compare it
        c = db.session.scalar(sa.select(Comment).where(Comment.id == comment_id, Comment.site_id == site.id))
    if c is None:
        raise ApiError(404, "comment_not_found", "No comment with this id on this site.")
    if not token or not privacy.tokens_match(token, c.edit_token_hash):
        raise ApiError(403, "invalid_edit_token", "This edit token does not belong to this comment.")
    if now >= editable_until(site, c.created_at):
        raise ApiError(403, "edit_window_closed", "This comment can no longer be changed: the edit window is over.")
    return c


def edit_comment(
    site: Site, comment_id: int, token: str | None, body: str, client_ip: str | None
) -> tuple[Comment, str]:
    """Replace a comment's text: a new revision, sanitised and moderated again; returns it and its thread key.

    The new status is the pipeline's decision on the new text (an approved comment whose text
    changed is published again, not approved: no human has seen this text). Sending the same text
    changes nothing.
    """
    now = utcnow()
    c = _own_comment(site, comment_id, token, now)
    was, seen = c.status, c.revision  # what the checks below were made on
    if was not in EDITABLE:
        raise ApiError(409, "not_editable", "This comment can no longer be edited.")
    thread = db.session.get(Thread, c.thread_id)
    if body == c.body_source:
        return c, thread.key
    if thread_is_closed(site, thread, now):
        raise ApiError(403, "thread_closed", "This thread is closed to new comments.")
    if active_ban(site, c.author_email, client_ip, now) is not None:
        raise ApiError(403, "author_banned", "You cannot comment on this site.")
    body_html = sanitize_body(body)
    decision = evaluate(site_policy(site), Submission(
        body=body,
        link_count=count_links(body_html),
        **author_facts(site, c.email_hmac or "", body, now, exclude_id=c.id),
    ))
    # Guarded like a moderator's decision: a change made meanwhile (a decision, another edit) wins.
    result = db.session.execute(
        sa.update(Comment)
        .where(Comment.id == c.id, Comment.revision == seen, Comment.status == was)
        .values(
            body_source=body, body_html=body_html, status=decision.status,
            hold_reasons=[r.as_dict() for r in decision.reasons], revision=seen + 1, edited_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise ApiError(409, "edit_conflict", "The comment changed while you edited it; reload it.")
    db.session.add(ModerationAction(
        site_id=site.id, comment_id=c.id, revision=seen + 1, actor_type="author", from_status=was,
        to_status=decision.status, reason_code=decision.reason_code or EDITED,
    ))
    if is_visible(was) or is_visible(decision.status):
        # Shown before or after: cached pages hold the old text, so the version moves even when
        # the count does not.
        bump_thread(c.thread_id, int(is_visible(decision.status)) - int(is_visible(was)))
    db.session.refresh(c)  # read back inside the transaction: nothing after the commit touches the database
    commit_keeping_state()
    return c, thread.key


def delete_comment(site: Site, comment_id: int, token: str | None) -> None:
    """Withdraw one's comment, whatever its status: it becomes `deleted` (a tombstone if it has replies).

    Deleting a deleted comment changes nothing (a retried request succeeds again).
    """
    now = utcnow()
    c = _own_comment(site, comment_id, token, now)
    if c.status is Status.DELETED:
        return
    apply_change(site, c, Change(Action.DELETE, c.revision, "author", None, reason=AUTHOR_DELETED), now)
    db.session.commit()
