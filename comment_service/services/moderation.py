"""Moderator decisions (single and bulk) and a comment's history; the API and the dashboard call
these the same way: `decide(site, comment_id, Decision.of(loaded), moderator)`.

A decision reads the comment as the moderator sees it (one statement: services.queues), makes the
change through services.changes (the guarded UPDATE, the claim, the reports, the audit row, the
thread) and commits; the answer is that item as changed, read from nothing after the commit.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from comment_service.database import commit_keeping_state
from comment_service.extensions import db
from comment_service.models import Comment, Site, utcnow
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.errors import DomainError, NotFound
from comment_service.moderation.status import RESOLVING, Action, Status
from comment_service.services import changes, queues
from comment_service.services.changes import CommentChanged
from comment_service.services.queues import ModeratorItem


def get_comment(site: Site, comment_id: int) -> Comment:
    """A comment of this site, or NotFound (another site's comment is indistinguishable from none)."""
    c = db.session.scalar(sa.select(Comment).where(Comment.id == comment_id, Comment.site_id == site.id))
    if c is None:
        raise NotFound("comment_not_found", "No comment with this id on this site.")
    return c


@dataclass(frozen=True)
class Decision:
    """A moderator's decision as a request states it (the API's body, the dashboard's form)."""

    action: Action
    revision: int
    reason: AuditReason | None = None
    note: str | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Decision:
        """From what DecisionSchema, BulkItemSchema or the dashboard's forms loaded."""
        reason = data.get("reason")
        return cls(Action(data["action"]), data["revision"], AuditReason(reason) if reason else None, data.get("note"))


def decide(site: Site, comment_id: int, decision: Decision, moderator: str) -> ModeratorItem:
    """One moderation decision by `moderator` (their actor id), committed; the comment as they now see it.

    Conflict for a stale revision, an item someone else holds, or an action that does not apply;
    NotFound for another site's comment or none.
    """
    item = queues.moderator_item(site, comment_id)
    event = changes.apply(site.id, item, changes.Change(
        Actor.MODERATOR, action=decision.action, actor_id=moderator, reason=decision.reason, note=decision.note,
        revision=decision.revision, guard_claim=True,
    ), utcnow())
    commit_keeping_state()
    return item.changed(event.to_status, item.revision + 1, released=True, resolved=decision.action in RESOLVING)


@dataclass(frozen=True)
class BulkOutcome:
    """What became of one item of a bulk decision: its new status and revision, or why it failed."""

    id: int
    status: Status | None = None
    revision: int | None = None
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def decide_many(site: Site, decisions: list[tuple[int, Decision]], moderator: str) -> list[BulkOutcome]:
    """Bulk decisions: each item commits or fails alone; one bad item does not fail the others."""
    outcomes = []
    for comment_id, decision in decisions:
        try:
            item = decide(site, comment_id, decision, moderator)
        except DomainError as err:
            db.session.rollback()
            outcomes.append(BulkOutcome(comment_id, error=err))
        else:
            outcomes.append(BulkOutcome(comment_id, item.status, item.revision))
    return outcomes


def history(site: Site, comment_id: int) -> list[CommentChanged]:
    """Every recorded change of a comment, oldest first (its events: services.changes.history)."""
    get_comment(site, comment_id)
    return changes.history(comment_id)
