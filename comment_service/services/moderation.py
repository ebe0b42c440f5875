"""Moderator decisions (single and bulk) and a comment's history.

Every status change is one conditional UPDATE (`WHERE revision = :seen AND status = :was`) and
one ModerationAction row, committed together: a stale or concurrent decision changes nothing and
gets 409, on SQLite and PostgreSQL alike. It also ends the comment's claim (services.queues).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from comment_service.errors import ApiError
from comment_service.extensions import db
from comment_service.models import Claim, Comment, ModerationAction, Report, Site, utcnow
from comment_service.moderation.status import Action, Status, TransitionError, is_visible, next_status
from comment_service.services.comments import bump_thread
from comment_service.services.queues import held_by_another


def get_comment(site: Site, comment_id: int) -> Comment:
    """A comment of this site, or 404 (another site's comment is indistinguishable from none)."""
    c = db.session.scalar(sa.select(Comment).where(Comment.id == comment_id, Comment.site_id == site.id))
    if c is None:
        raise ApiError(404, "comment_not_found", "No comment with this id on this site.")
    return c


def _status_before_delete(c: Comment) -> Status | None:
    return db.session.scalar(
        sa.select(ModerationAction.from_status)
        .where(ModerationAction.comment_id == c.id, ModerationAction.to_status == Status.DELETED)
        .order_by(ModerationAction.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Change:
    """A status change to write: who, why, and the revision they saw."""

    action: Action
    revision: int
    actor_type: str
    actor: str | None
    reason: str | None = None
    note: str | None = None


def stale_revision(c: Comment) -> ApiError:
    """The 409 for a decision made on a revision the comment has moved past."""
    return ApiError(409, "stale_revision",
                    f"The comment changed since you loaded it (now revision {c.revision}, status {c.status.value}).")


def apply_change(site: Site, c: Comment, change: Change, now: datetime) -> Comment:
    """Change a comment's status if the caller saw its current revision; no commit.

    Raises 409 for a stale revision, a transition that does not apply, or an item someone else has
    claimed. The UPDATE re-checks revision and status, so two concurrent deciders cannot both win.
    """
    if c.revision != change.revision:
        raise stale_revision(c)
    # Someone else's live claim: asked first for the error's sake, and checked again by the UPDATE.
    held = sa.exists().where(Claim.comment_id == Comment.id, held_by_another(change.actor, now))
    if change.actor_type == "moderator" and db.session.scalar(sa.select(held).where(Comment.id == c.id)):
        raise ApiError(409, "claimed_by_other",
                       "Another moderator holds this comment; it is released when their lease ends.")
    previous = _status_before_delete(c) if change.action is Action.RESTORE else None
    try:
        new = next_status(c.status, change.action, previous)
    except TransitionError as err:
        raise ApiError(409, "invalid_transition", str(err).capitalize() + ".") from None
    was = c.status
    values: dict[str, Any] = {"status": new, "revision": Comment.revision + 1, "decided_at": now}
    if change.action in (Action.APPROVE, Action.REJECT, Action.SPAM, Action.DELETE):
        values["open_reports"] = 0  # a decision answers the reports
    guard = [Comment.id == c.id, Comment.revision == change.revision, Comment.status == was]
    if change.actor_type == "moderator":
        guard.append(~held)
    result = db.session.execute(
        sa.update(Comment)
        .where(*guard)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise ApiError(409, "stale_revision", "The comment changed while you decided; reload it.")
    db.session.execute(sa.delete(Claim).where(Claim.comment_id == c.id))  # decided: nobody holds it now
    if "open_reports" in values:
        db.session.execute(
            sa.update(Report).where(Report.comment_id == c.id, Report.resolved.is_(False)).values(resolved=True)
        )
    db.session.add(ModerationAction(
        site_id=site.id, comment_id=c.id, revision=change.revision, actor_type=change.actor_type,
        actor_id=change.actor, from_status=was, to_status=new, reason_code=change.reason, note=change.note,
    ))
    if is_visible(was) != is_visible(new):
        bump_thread(c.thread_id, +1 if is_visible(new) else -1)
    db.session.refresh(c)
    return c


def decide(site: Site, comment_id: int, change: Change) -> Comment:
    """One moderation decision, committed with its audit row."""
    c = get_comment(site, comment_id)
    apply_change(site, c, change, utcnow())
    db.session.commit()
    return c


def decide_many(site: Site, decisions: list[tuple[int, Change]]) -> list[dict[str, Any]]:
    """Bulk decisions: each item commits or fails alone; one bad item does not fail the others."""
    results = []
    for comment_id, change in decisions:
        try:
            c = decide(site, comment_id, change)
        except ApiError as err:
            db.session.rollback()
            results.append({"id": comment_id, "ok": False, "status_code": err.status,
                            "error": {"code": err.code, "message": err.message}})
        else:
            results.append({"id": comment_id, "ok": True, "status_code": 200,
                            "status": c.status.value, "revision": c.revision})
    return results


def history(site: Site, comment_id: int) -> list[dict[str, Any]]:
    """Every recorded change of a comment, oldest first."""
    get_comment(site, comment_id)
    actions = db.session.scalars(
        sa.select(ModerationAction).where(ModerationAction.comment_id == comment_id).order_by(ModerationAction.id)
    )
    return [
        {
            "id": a.id, "revision": a.revision, "actor_type": a.actor_type, "actor": a.actor_id,
            "from_status": a.from_status.value if a.from_status else None, "to_status": a.to_status.value,
            "reason": a.reason_code, "note": a.note, "created_at": a.created_at,
        }
        for a in actions
    ]
