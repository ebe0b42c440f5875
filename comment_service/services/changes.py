"""The one way a comment changes: its status or revision, and everything that follows from it.

A submission's first status (`create`), an author's edit and delete, a moderator's decision (single
or bulk) and dismissal of reports, reports hiding a comment, a ban rejecting an author's comments and
a privacy erase all go through `apply`; no other code writes a comment's status or revision. The
state machine (moderation/status.py) decides which transition applies; here, in the caller's
transaction, a change:

1. is refused (Conflict, nothing written) for a revision the caller did not see, an item someone
   else holds (a moderator's decision), or a transition that does not apply;
2. runs one guarded UPDATE: WHERE id, the revision seen and the status the transition starts from
   [and no one else's live claim] RETURNING the new state. Two concurrent changes cannot both win,
   on SQLite and PostgreSQL alike, without row locks; the loser is a Conflict;
3. deletes the comment's claim (a decision) and resolves its reader reports (where the transition
   says so);
4. writes the one audit row (ModerationAction);
5. moves the thread's version when readers see a difference, and its count by the visibility delta;
6. clears this process's read memo (read_cache);
7. hands the `CommentChanged` event to every subscriber, still inside the transaction.

The audit row is the event's durable record: its id is the event's id and every field of the event is
a column of it, so the history of a comment is its events read back (`history`). Subscribers (an
outbox writer for webhooks, notifications, a learned filter) register once with `subscribe`; they run
inside the transaction, so what they write commits or rolls back with the change, and anything
outside the database (an HTTP call) is done from what they wrote, after the commit. Nothing here
commits: the use case does, once (database.commit_keeping_state).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from comment_service.database import dialect
from comment_service.extensions import db
from comment_service.models import Claim, Comment, ModerationAction, Report, Thread, utcnow
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.errors import Conflict
from comment_service.moderation.status import Action, Status, Transition, TransitionError, decide, is_visible
from comment_service.read_cache import read_cache

_C = Comment.__table__.c
_ACTION = ModerationAction.__table__
_CLAIM = Claim.__table__


@dataclass(frozen=True)
class CommentChanged:
    """The domain event of one change to a comment, and the audit row that records it.

    `id` is the audit row's id. `revision` is the revision of the text the change was about: the
    one decided on, reported or dismissed, or for a new comment and an author's edit the one just
    written (the rules judged it). The comment's revision after the change is one more, except after
    a submission or an edit, where it is `revision` itself.
    """

    id: int
    site_id: int
    comment_id: int
    revision: int
    actor: Actor
    actor_id: str | None
    from_status: Status | None
    to_status: Status
    reason: AuditReason | None
    note: str | None
    at: datetime

    @property
    def visibility_delta(self) -> int:
        """+1 when readers started seeing the comment, -1 when they stopped, else 0."""
        was = self.from_status is not None and is_visible(self.from_status)
        return int(is_visible(self.to_status)) - int(was)


Subscriber = Callable[[CommentChanged], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Hand every CommentChanged from now on to `subscriber`, inside the change's transaction (it may
    write rows there; raising refuses the change). Usable as a decorator."""
    _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    """Stop handing events to `subscriber`."""
    _subscribers.remove(subscriber)


@contextmanager
def subscribed(subscriber: Subscriber) -> Iterator[Subscriber]:
    """`subscriber` receives the events of the changes made inside the block (tests, one-off tools)."""
    subscribe(subscriber)
    try:
        yield subscriber
    finally:
        unsubscribe(subscriber)


class Changeable(Protocol):
    """What a change needs of the comment as its caller read it: a Comment, or a moderator's item
    (which also says who holds it: `claimed_by`, `claim_expires_at`)."""

    @property
    def id(self) -> int: ...
    @property
    def thread_id(self) -> int: ...
    @property
    def status(self) -> Status: ...
    @property
    def revision(self) -> int: ...


@dataclass(frozen=True)
class Change:
    """One change to a comment, as a use case asks for it.

    Give either `action` (a decision of the state machine: a moderator's, an author's delete, the
    system's reject or delete) or `transition` (built by status.py: a submission, an edit, a hide, a
    dismissal, an erase). `revision` is the revision the caller saw (None: the one it read).
    `guard_claim`: refused while someone other than `actor_id` holds a live claim (a moderator's
    decision). `text` is an edit's new (source, html); `hold_reasons` what it is held for now.
    """

    actor: Actor
    action: Action | None = None
    transition: Transition | None = None
    actor_id: str | None = None
    reason: AuditReason | None = None
    note: str | None = None
    revision: int | None = None
    guard_claim: bool = False
    text: tuple[str, str] | None = None
    hold_reasons: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if (self.action is None) == (self.transition is None):
            raise TypeError("a Change names an action or a transition, not both")


class ChangedMeanwhile(Conflict):
    """The guarded UPDATE found the comment no longer as the caller read it: another change won."""

    def __init__(self, code: str = "stale_revision",
                 message: str = "The comment changed while you decided; reload it.") -> None:
        super().__init__(code, message)


def check_seen(comment: Changeable, revision: int | None) -> None:
    """Conflict `stale_revision` when the caller decided on a revision the comment has moved past."""
    if revision is not None and revision != comment.revision:
        raise Conflict("stale_revision", f"The comment changed since you loaded it "
                                         f"(now revision {comment.revision}, status {comment.status.value}).")


def _held_by_another(comment: Changeable, actor_id: str | None, now: datetime) -> bool:
    holder = getattr(comment, "claimed_by", None)
    until = getattr(comment, "claim_expires_at", None)
    return holder is not None and holder != actor_id and until is not None and until > now


def status_before_delete(comment_id: int) -> Status | None:
    """The status a deleted comment had before its (latest) delete, from the audit log."""
    return db.session.scalar(
        sa.select(_ACTION.c.from_status)
        .where(_ACTION.c.comment_id == comment_id, _ACTION.c.to_status == Status.DELETED)
        .order_by(_ACTION.c.id.desc())
        .limit(1)
    )


def _transition(comment: Changeable, change: Change) -> Transition:
    if change.transition is not None:
        return change.transition
    assert change.action is not None
    previous = status_before_delete(comment.id) if change.action is Action.RESTORE else None
    try:
        return decide(comment.status, change.action, previous)
    except TransitionError as err:
        raise Conflict("invalid_transition", str(err).capitalize() + ".") from None


def apply(site_id: int, comment: Changeable, change: Change, now: datetime | None = None) -> CommentChanged:
    """Make one change to an existing comment (see the module's docstring); no commit.

    A Comment object passed in is brought up to date with what was written (no read back).
    """
    now = now or utcnow()
    check_seen(comment, change.revision)
    if change.guard_claim and _held_by_another(comment, change.actor_id, now):
        raise Conflict("claimed_by_other",
                       "Another moderator holds this comment; it is released when their lease ends.")
    transition = _transition(comment, change)
    if transition.source is not comment.status:
        raise ValueError(f"a transition from {transition.source} applied to a {comment.status} comment")
    seen = comment.revision
    values: dict[str, Any] = {"status": transition.target, "revision": seen + 1}
    if transition.decided:
        values["decided_at"] = now
    if transition.resolves_reports:
        values["open_reports"] = 0
    if change.text is not None:
        values["body_source"], values["body_html"] = change.text
        values["edited_at"] = now
    if change.hold_reasons is not None:
        values["hold_reasons"] = change.hold_reasons
    guard = [_C.id == comment.id, _C.revision == seen, _C.status == transition.source]
    if change.guard_claim:
        guard.append(~sa.exists().where(_CLAIM.c.comment_id == _C.id, _CLAIM.c.expires_at > now,
                                        _CLAIM.c.claimed_by != change.actor_id))
    won = db.session.execute(
        sa.update(Comment.__table__).where(*guard).values(**values).returning(_C.revision)
    ).first()
    if won is None:
        raise ChangedMeanwhile()
    if transition.decided:  # decided: nobody holds it now
        db.session.execute(sa.delete(_CLAIM).where(_CLAIM.c.comment_id == comment.id))
    if transition.resolves_reports:
        db.session.execute(
            sa.update(Report.__table__)
            .where(Report.__table__.c.comment_id == comment.id, Report.__table__.c.resolved.is_(False))
            .values(resolved=True)
        )
    if isinstance(comment, Comment):
        for name, value in values.items():
            set_committed_value(comment, name, value)
    # An edit's audit row names the revision it wrote (the text the rules judged); any other, the
    # revision it was made on.
    audited = seen + 1 if change.text is not None else seen
    shown = is_visible(transition.target) or (transition.source is not None and is_visible(transition.source))
    # Readers see a difference when the comment appears or goes, and when a visible one's text changes.
    moved = transition.visibility_delta != 0 or (change.text is not None and shown)
    return _record(site_id, comment.id, comment.thread_id, transition, change, audited, now, moved)


def create(comment: Comment, change: Change, *, then: Callable[[int], None] | None = None) -> CommentChanged:
    """Store a new comment in the status `change.transition` (status.submitted) gives it; no commit.

    `comment` is a new Comment, not added to the session: it is written with one Core INSERT (the
    ORM's unit of work costs more than the statement), and its `id` is set from what was written.
    `then(comment_id)` runs once the comment is written and before the event is handed to the
    subscribers (an idempotency key's record, which may roll everything back).
    """
    transition = change.transition
    if transition is None or transition.source is not None:
        raise ValueError("a new comment's change is status.submitted(...)")
    comment.status, comment.revision = transition.target, 1
    if change.hold_reasons is not None:
        comment.hold_reasons = change.hold_reasons
    now = comment.created_at = comment.created_at or utcnow()
    row = {param: _value_of(comment, name, default) for name, param, default in _WRITTEN}
    moved = transition.visibility_delta != 0
    fused = _create_statement(dialect(), moved)
    event_id = None
    if fused is not None:  # PostgreSQL: the comment, its audit row and (moved) the thread's bump at once
        params = row | _audit_values(comment.site_id, None, transition, change, 1, now)
        if moved:
            params |= _bump_values(comment.thread_id, transition)
        event_id, comment.id = db.session.execute(fused, params).one()
    else:
        comment.id = db.session.execute(_INSERT_COMMENT, row).scalar_one()
    if then is not None:
        then(comment.id)
    return _record(comment.site_id, comment.id, comment.thread_id, transition, change, 1, now, moved,
                   written=event_id)


# A new comment's columns (all but its id): each one's name, its named bound parameter c_<column>
# and its default (what an unset one takes, as the ORM would apply it), looked up once.
_COMMENT = Comment.__table__
_WRITTEN = tuple((c.key, f"c_{c.key}", c.default) for c in _COMMENT.columns if c.key != "id")
_INSERT_COMMENT = (
    sa.insert(_COMMENT)
    .values({name: sa.bindparam(param, type_=_COMMENT.c[name].type) for name, param, _ in _WRITTEN})
    .returning(_COMMENT.c.id)
)


def _value_of(comment: Comment, name: str, default: Any) -> Any:
    value = getattr(comment, name)
    if value is None and default is not None:
        return default.arg(None) if default.is_callable else default.arg
    return value


# The two statements every change sends, built once (SQLAlchemy then neither builds nor keys them
# again): its audit row, and the bump of its thread's version and visible count. Their values are
# named bound parameters (a_<column>): given as the parameters' keys instead, they would also become
# SET clauses of an UPDATE inside the same WITH (below).
_AUDITED = ("site_id", "comment_id", "revision", "actor_type", "actor_id", "from_status", "to_status",
            "reason_code", "note", "created_at")
_AUDIT_PARAMS = {name: sa.bindparam(f"a_{name}", type_=_ACTION.c[name].type) for name in _AUDITED}
_INSERT_ACTION = sa.insert(_ACTION).values(_AUDIT_PARAMS).returning(_ACTION.c.id)
_THREAD = Thread.__table__
_BUMP_THREAD = (
    sa.update(_THREAD)
    .where(_THREAD.c.id == sa.bindparam("p_thread", type_=sa.Integer))
    .values(version=_THREAD.c.version + 1,
            comment_count=_THREAD.c.comment_count + sa.bindparam("p_delta", type_=sa.Integer))
)


def _audit_values(site_id: int, comment_id: int | None, transition: Transition, change: Change, revision: int,
                  now: datetime) -> dict[str, Any]:
    return {
        "a_site_id": site_id, "a_comment_id": comment_id, "a_revision": revision, "a_actor_type": change.actor,
        "a_actor_id": change.actor_id, "a_from_status": transition.source, "a_to_status": transition.target,
        "a_reason_code": change.reason, "a_note": change.note, "a_created_at": now,
    }


def _bump_values(thread_id: int, transition: Transition) -> dict[str, Any]:
    return {"p_thread": thread_id, "p_delta": transition.visibility_delta}


# Where the database can (PostgreSQL: INSERT and UPDATE inside a WITH), a change's statements go as
# one, a round trip or two less per change; None: one after the other (SQLite has no data-modifying
# WITH). Built once per dialect, as queues._claim_statement is.

@cache
def _audit_and_bump(dialect: str) -> sa.Executable | None:
    """The audit row and the thread's bump of a change to an existing comment."""
    if dialect != "postgresql":
        return None
    return _INSERT_ACTION.add_cte(_BUMP_THREAD.cte("bump"))


@cache
def _create_statement(dialect: str, moved: bool) -> sa.Executable | None:
    """A new comment, its first audit row and (`moved`: it is visible) its thread's bump, answering
    the audit row's id and the comment's."""
    if dialect != "postgresql":
        return None
    new = _INSERT_COMMENT.cte("new_comment")
    params = dict(_AUDIT_PARAMS, comment_id=new.c.id)
    insert = sa.insert(_ACTION).from_select(list(_AUDITED), sa.select(*(params[n] for n in _AUDITED)))
    insert = insert.returning(_ACTION.c.id, _ACTION.c.comment_id)
    return insert.add_cte(_BUMP_THREAD.cte("bump")) if moved else insert


def _record(site_id: int, comment_id: int, thread_id: int, transition: Transition, change: Change,
            revision: int, now: datetime, moved: bool, written: int | None = None) -> CommentChanged:
    """The audit row, the thread, the read memo and the subscribers of a change just written
    (`written`: the audit row's id, when it and the thread's bump went with the comment's INSERT)."""
    if moved:
        read_cache().forget_recent()  # this process sees its own writes at once; others within the memo TTL
    event_id = written
    if event_id is None:
        values = _audit_values(site_id, comment_id, transition, change, revision, now)
        together = _audit_and_bump(dialect()) if moved else None
        if together is not None:
            event_id = db.session.execute(together, values | _bump_values(thread_id, transition)).scalar_one()
        else:
            event_id = db.session.execute(_INSERT_ACTION, values).scalar_one()
            if moved:
                db.session.execute(_BUMP_THREAD, _bump_values(thread_id, transition))
    event = CommentChanged(
        id=event_id, site_id=site_id, comment_id=comment_id, revision=revision, actor=change.actor,
        actor_id=change.actor_id, from_status=transition.source, to_status=transition.target,
        reason=change.reason, note=change.note, at=now,
    )
    for subscriber in tuple(_subscribers):
        subscriber(event)
    return event


def history(comment_id: int) -> list[CommentChanged]:
    """Every change of a comment, oldest first: its events, read back from the audit log."""
    rows = db.session.execute(
        sa.select(_ACTION).where(_ACTION.c.comment_id == comment_id).order_by(_ACTION.c.id)
    ).all()
    return [
        CommentChanged(
            id=r.id, site_id=r.site_id, comment_id=r.comment_id, revision=r.revision, actor=r.actor_type,
            actor_id=r.actor_id, from_status=r.from_status, to_status=r.to_status, reason=r.reason_code,
            note=r.note, at=r.created_at,
        )
        for r in rows
    ]
