"""Moderator use cases: queues, claims, decisions (single and bulk), a comment's history.

Every status change is one conditional UPDATE (`WHERE revision = :seen AND status = :was`) and
one ModerationAction row, committed together: a stale or concurrent decision changes nothing and
gets 409, on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from comment_service.errors import ApiError
from comment_service.extensions import db
from comment_service.models import Comment, ModerationAction, Report, Site, Thread, utcnow
from comment_service.moderation.status import Action, Status, TransitionError, is_visible, next_status
from comment_service.services.comments import bump_thread


class Queue(StrEnum):
    """Views over comments that moderators work through (DESIGN.md section 3)."""

    PENDING = "pending"
    REPORTED = "reported"
    UNMODERATED = "unmoderated"
    SPAM = "spam"
    APPROVED = "approved"
    REJECTED = "rejected"


def queue_filter(queue: Queue) -> sa.ColumnElement[bool]:
    """The WHERE clause of a queue (always combined with the site)."""
    if queue is Queue.REPORTED:
        return sa.and_(
            Comment.open_reports > 0,
            Comment.status.in_([Status.PENDING, Status.PUBLISHED, Status.APPROVED]),
        )
    if queue is Queue.UNMODERATED:
        return Comment.status.in_([Status.PENDING, Status.PUBLISHED])
    return Comment.status == Status(queue.value)


def queue_counts(site: Site, now: datetime) -> dict[str, Any]:
    """How many comments wait in each queue, and how long the oldest pending one has waited."""
    by_status = dict(
        db.session.execute(
            sa.select(Comment.status, sa.func.count()).where(Comment.site_id == site.id).group_by(Comment.status)
        ).all()
    )
    reported = db.session.scalar(
        sa.select(sa.func.count()).where(Comment.site_id == site.id, queue_filter(Queue.REPORTED))
    )
    oldest = db.session.scalar(
        sa.select(Comment.created_at)
        .where(Comment.site_id == site.id, Comment.status == Status.PENDING)
        .order_by(Comment.id)
        .limit(1)
    )
    counts = {
        Queue.PENDING: by_status.get(Status.PENDING, 0),
        Queue.REPORTED: reported or 0,
        Queue.UNMODERATED: by_status.get(Status.PENDING, 0) + by_status.get(Status.PUBLISHED, 0),
        Queue.SPAM: by_status.get(Status.SPAM, 0),
        Queue.APPROVED: by_status.get(Status.APPROVED, 0),
        Queue.REJECTED: by_status.get(Status.REJECTED, 0),
    }
    return {
        "counts": {q.value: n for q, n in counts.items()},
        "oldest_pending_age_seconds": int((now - oldest).total_seconds()) if oldest else None,
    }


def _author_history(site: Site, digests: set[str]) -> dict[str, dict[str, int]]:
    """Per author (email HMAC): how many comments they have in each status on this site."""
    history: dict[str, dict[str, int]] = {d: {} for d in digests}
    if not digests:
        return history
    rows = db.session.execute(
        sa.select(Comment.email_hmac, Comment.status, sa.func.count())
        .where(Comment.site_id == site.id, Comment.email_hmac.in_(digests))
        .group_by(Comment.email_hmac, Comment.status)
    )
    for digest, status, n in rows:
        history[digest][status.value] = n
    return history


def narrowing(site: Site, thread: str | None = None, text: str | None = None) -> list[sa.ColumnElement[bool]]:
    """Extra WHERE clauses of a filtered queue: one thread (by key), text in the body or author name."""
    clauses: list[sa.ColumnElement[bool]] = []
    if thread:
        clauses.append(Comment.thread_id == (
            sa.select(Thread.id).where(Thread.site_id == site.id, Thread.key == thread).scalar_subquery()
        ))
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(sa.or_(Comment.body_source.ilike(pattern, escape="\\"),
                              Comment.author_name.ilike(pattern, escape="\\")))
    return clauses


def queue_items(site: Site, queue: Queue, after: int | None, limit: int, *, thread: str | None = None,
                text: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a queue, oldest first (keyset on id), with what a moderator needs to decide.

    `thread` (a thread key) and `text` (in the body or the author's name) narrow the queue.
    """
    stmt = (
        sa.select(Comment, Thread.key, Thread.title)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(Comment.site_id == site.id, queue_filter(queue), *narrowing(site, thread, text))
        .order_by(Comment.id)
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(Comment.id > after)
    rows = db.session.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    history = _author_history(site, {c.email_hmac for c, _, _ in rows if c.email_hmac})
    items = [moderator_view(c, key, title, history.get(c.email_hmac or "", {})) for c, key, title in rows]
    return items, (rows[-1][0].id if more else None)


def moderator_view(c: Comment, thread_key: str, thread_title: str | None, history: dict[str, int]) -> dict[str, Any]:
    """A comment as moderators see it: email, reasons, revision, claim and the author's record."""
    return {
        "id": c.id,
        "thread": {"key": thread_key, "title": thread_title},
        "parent_id": c.parent_id,
        "author": {"name": c.author_name, "email": c.author_email, "url": c.author_url, "avatar": c.avatar},
        "body_html": c.body_html,
        "body_source": c.body_source,
        "status": c.status.value,
        "revision": c.revision,
        "reasons": c.hold_reasons or [],
        "spam_score": c.spam_score,
        "open_reports": c.open_reports,
        "claim": {"by": c.claimed_by, "expires_at": c.claim_expires_at} if c.claimed_by else None,
        "author_history": {s.value: history.get(s.value, 0) for s in Status},
        "created_at": c.created_at,
        "edited_at": c.edited_at,
    }


def _claim_is_live(c: Comment, now: datetime) -> bool:
    return c.claimed_by is not None and c.claim_expires_at is not None and c.claim_expires_at > now


def _lease_write() -> None:
    """Leases are soft state: a crash that loses the last instant's leases only frees items early.
    So on PostgreSQL their transactions do not wait for the WAL flush (the p99 of a claim followed
    the disk, bench/README.md); decisions and audit rows keep full durability."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))


def claim_batch(site: Site, queue: Queue, actor: str, limit: int, lease_seconds: int, *, thread: str | None = None,
                text: str | None = None) -> list[dict[str, Any]]:
    """Lease up to `limit` items of a queue that nobody else holds to `actor`, oldest first.

    One UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) ... RETURNING: on PostgreSQL
    concurrent claimers skip each other's rows instead of waiting; SQLite has one writer anyway.
    Items the actor already holds are handed out again, with the lease renewed. `thread` and
    `text` narrow the queue as in queue_items.
    """
    now = utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    _lease_write()
    free = sa.or_(Comment.claimed_by.is_(None), Comment.claim_expires_at <= now, Comment.claimed_by == actor)
    candidates = (
        sa.select(Comment.id)
        .where(Comment.site_id == site.id, queue_filter(queue), free, *narrowing(site, thread, text))
        .order_by(Comment.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = db.session.scalars(
        sa.update(Comment)
        .where(Comment.id.in_(candidates.scalar_subquery()), free)
        .values(claimed_by=actor, claim_expires_at=expires)
        .returning(Comment.id)
        .execution_options(synchronize_session=False)
    ).all()
    # Read the items inside the claiming transaction: it sees its own update, and the site row
    # is not reloaded as it would be after a commit.
    items = moderator_items(site, sorted(claimed)) if claimed else []
    db.session.commit()
    return items


def moderator_items(site: Site, ids: list[int]) -> list[dict[str, Any]]:
    """These comments of the site as moderators see them (with the authors' history), by id."""
    rows = db.session.execute(
        sa.select(Comment, Thread.key, Thread.title)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(Comment.site_id == site.id, Comment.id.in_(ids))
        .order_by(Comment.id)
    ).all()
    history = _author_history(site, {c.email_hmac for c, _, _ in rows if c.email_hmac})
    return [moderator_view(c, k, t, history.get(c.email_hmac or "", {})) for c, k, t in rows]


def release_claims(site: Site, actor: str, ids: list[int], *, leased_until: datetime | None = None) -> int:
    """Give back items the actor holds (e.g. the moderator leaves the queue).

    With `leased_until`, only leases that end by then are given back: a page that is being left
    must not release what the page loading after it (a reload) has just claimed again.
    """
    renewed = [Comment.claim_expires_at <= leased_until] if leased_until is not None else []
    _lease_write()
    result = db.session.execute(
        sa.update(Comment)
        .where(Comment.site_id == site.id, Comment.id.in_(ids), Comment.claimed_by == actor, *renewed)
        .values(claimed_by=None, claim_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


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
    if change.actor_type == "moderator" and _claim_is_live(c, now) and c.claimed_by != change.actor:
        raise ApiError(409, "claimed_by_other",
                       "Another moderator holds this comment; it is released when their lease ends.")
    previous = _status_before_delete(c) if change.action is Action.RESTORE else None
    try:
        new = next_status(c.status, change.action, previous)
    except TransitionError as err:
        raise ApiError(409, "invalid_transition", str(err).capitalize() + ".") from None
    was = c.status
    values: dict[str, Any] = {
        "status": new, "revision": Comment.revision + 1, "decided_at": now,
        "claimed_by": None, "claim_expires_at": None,
    }
    if change.action in (Action.APPROVE, Action.REJECT, Action.SPAM, Action.DELETE):
        values["open_reports"] = 0  # a decision answers the reports
    guard = [Comment.id == c.id, Comment.revision == change.revision, Comment.status == was]
    if change.actor_type == "moderator":
        guard.append(sa.or_(
            Comment.claimed_by.is_(None), Comment.claimed_by == change.actor, Comment.claim_expires_at <= now
        ))
    result = db.session.execute(
        sa.update(Comment)
        .where(*guard)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise ApiError(409, "stale_revision", "The comment changed while you decided; reload it.")
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
