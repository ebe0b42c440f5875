"""Moderator queues: what waits in each, pages of it, and the claims moderators hold on items.

The reads and claims are Core statements on the tables, built once per shape: no ORM objects to
build, track or expire for rows that are only shown. Each row becomes a `ModeratorItem`, the one
definition of what a moderator sees of a comment (the API dumps it with ModeratorCommentSchema, the
dashboard presents it). Changes to a comment go through services.changes.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from comment_service.database import commit_keeping_state, conflict_insert, dialect
from comment_service.extensions import db
from comment_service.models import Claim, Comment, Site, Thread, utcnow
from comment_service.moderation.alerts import breach_started
from comment_service.moderation.errors import NotFound
from comment_service.moderation.status import QUEUE_STATUSES, Queue, Status
from comment_service.services.sites import site_settings

__all__ = ["ModeratorItem", "Queue"]  # Queue lives in moderation/status.py; importable from here too

_COMMENT = Comment.__table__
_C = _COMMENT.c
_THREAD = Thread.__table__
_CLAIM = Claim.__table__


def queue_filter(queue: Queue) -> sa.ColumnElement[bool]:
    """The WHERE clause of a queue (always combined with the site): its statuses (status.QUEUE_STATUSES),
    and open reports for the reported queue."""
    statuses = [s for s in Status if s in QUEUE_STATUSES[queue]]  # in Status order, as the partial indexes say
    where = _C.status == statuses[0] if len(statuses) == 1 else _C.status.in_(statuses)
    return sa.and_(_C.open_reports > 0, where) if queue is Queue.REPORTED else where


@dataclass(frozen=True)
class QueueCounts:
    """How many comments wait in each queue (by queue name), and how long the oldest pending one has
    waited, in seconds (None: none waits). QueueCountsSchema is its JSON."""

    counts: dict[str, int]
    oldest_pending_age_seconds: int | None
    sla: dict[str, Any]  # the site's time limit for the queue: {minutes, breached, since}


def queue_counts(site: Site, now: datetime) -> QueueCounts:
    """How many comments wait in each queue, and how long the oldest pending one has waited."""
    by_status = dict(
        db.session.execute(
            sa.select(Comment.status, sa.func.count()).where(Comment.site_id == site.id).group_by(Comment.status)
        ).all()
    )
    reported = db.session.scalar(
        sa.select(sa.func.count()).where(Comment.site_id == site.id, queue_filter(Queue.REPORTED))
    )
    oldest = db.session.scalar(_oldest_pending(sa.literal(site.id)))
    counts = {
        Queue.PENDING: by_status.get(Status.PENDING, 0),
        Queue.REPORTED: reported or 0,
        Queue.UNMODERATED: by_status.get(Status.PENDING, 0) + by_status.get(Status.PUBLISHED, 0),
        Queue.SPAM: by_status.get(Status.SPAM, 0),
        Queue.APPROVED: by_status.get(Status.APPROVED, 0),
        Queue.REJECTED: by_status.get(Status.REJECTED, 0),
    }
    minutes = site_settings(site)["sla_minutes"]
    crossed = breach_started(oldest, minutes, now)
    return QueueCounts({q.value: n for q, n in counts.items()}, _age_seconds(now, oldest),
                       {"minutes": minutes, "breached": crossed is not None, "since": crossed})


def oldest_pending(site_id: int) -> datetime | None:
    """When the oldest pending comment of a site was written (None: none is pending)."""
    return db.session.scalar(_oldest_pending(sa.literal(site_id)))


def _oldest_pending(site_id: sa.ColumnElement[int]) -> sa.Select[Any]:
    """When the oldest pending comment of a site was written (the first in id order: one index probe)."""
    return (
        sa.select(_C.created_at)
        .where(_C.site_id == site_id, _C.status == Status.PENDING)
        .order_by(_C.id)
        .limit(1)
    )


def _age_seconds(now: datetime, then: datetime | None) -> int | None:
    return int((now - then).total_seconds()) if then else None


_SITE = Site.__table__
# Every site with its pending count and oldest pending comment: per site, one range of the index
# ix_comment_site_status_id counted (index-only) and its first entry probed, so a scrape costs the
# number of sites plus the number of pending comments, never the size of the table.
_PENDING_BY_SITE = sa.select(
    _SITE.c.slug,
    sa.select(sa.func.count()).where(_C.site_id == _SITE.c.id, _C.status == Status.PENDING)
    .correlate(_SITE).scalar_subquery().label("pending"),
    _oldest_pending(_SITE.c.id).correlate(_SITE).scalar_subquery().label("oldest"),
).order_by(_SITE.c.slug)


def pending_by_site(now: datetime) -> list[tuple[str, int, int]]:
    """(slug, pending comments, age in seconds of the oldest or 0) for every site: the metrics' queue numbers,
    by the same definition as queue_counts' `pending` and `oldest_pending_age_seconds`."""
    return [
        (slug, pending, _age_seconds(now, oldest) or 0)
        for slug, pending, oldest in db.session.execute(_PENDING_BY_SITE).all()
    ]


_HISTORY_OF = _COMMENT.alias("history_of")


def _author_record() -> sa.Label[str]:
    """How many comments the row's author (email HMAC) has on the row's site, per status, as
    "n,n,..." in Status order: one correlated pass over the author's range of the covering index
    ix_comment_site_email_status (an index-only count), so the record rides in the same statement
    as the items. (Six correlated counts, one per status, took 2.4 times as long; bench/README.md.)
    """
    h = _HISTORY_OF.c
    packed: sa.ColumnElement[str] | None = None
    for status in Status:
        count = sa.cast(sa.func.count().filter(h.status == status), sa.String)
        packed = count if packed is None else packed + sa.literal_column("','", sa.String) + count
    return (
        sa.select(packed)
        .where(h.site_id == _C.site_id, h.email_hmac == _C.email_hmac)
        .correlate(_COMMENT)
        .scalar_subquery()
        .label("author_record")
    )


_STATUS_VALUES = tuple(s.value for s in Status)


def _of_item(column: sa.Column[Any], match: sa.ColumnElement[bool], label: str) -> sa.Label[Any]:
    """`column` of the row `match` finds for each item: a correlated primary-key probe."""
    return sa.select(column).where(match).correlate(_COMMENT).scalar_subquery().label(label)


# Everything a moderator view shows but the claim, as plain columns; the statements below add the
# claim from the claim table (a page, one comment) or from the claim just made. An item costs no ORM
# object and no second statement.
_ITEM_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    *(_COMMENT.c[name] for name in (
        "id", "thread_id", "parent_id", "author_name", "author_email", "author_url", "avatar", "body_html",
        "body_source", "status", "revision", "hold_reasons", "spam_score", "open_reports", "created_at", "edited_at",
    )),
    _of_item(_THREAD.c.key, _THREAD.c.id == _C.thread_id, "thread_key"),
    _of_item(_THREAD.c.title, _THREAD.c.id == _C.thread_id, "thread_title"),
    _author_record(),
)


def _select_items(leased: sa.FromClause | None = None) -> sa.Select[Any]:
    """SELECT the item columns with their claim: the stored one, or from `leased` (a claim just made:
    only the comments in it)."""
    if leased is None:
        # Probes, not a join: joined, the planner walked the whole claim index in id order when its
        # statistics said the table was small.
        return sa.select(*_ITEM_COLUMNS, _of_item(_CLAIM.c.claimed_by, _CLAIM.c.comment_id == _C.id, "claimed_by"),
                         _of_item(_CLAIM.c.expires_at, _CLAIM.c.comment_id == _C.id, "claim_expires_at"))
    return (
        sa.select(*_ITEM_COLUMNS, leased.c.claimed_by, leased.c.expires_at.label("claim_expires_at"))
        .select_from(_COMMENT.join(leased, leased.c.comment_id == _C.id))
    )


# The moderator's item and its parts are built for every row of a page or a claim: plain slotted
# dataclasses (a frozen one costs twice as much to build; bench/queue_claim.py). Treat them as values:
# a change makes a new one (ModeratorItem.changed).
@dataclass(slots=True)
class ThreadRef:
    """The thread a comment belongs to."""

    key: str
    title: str | None


@dataclass(slots=True)
class ModeratorAuthor:
    """The author as moderators see them: with the email."""

    name: str
    email: str | None
    url: str | None
    avatar: str


@dataclass(slots=True)
class ClaimInfo:
    """Who holds an item and until when."""

    by: str
    expires_at: datetime


@dataclass(slots=True)
class ModeratorItem:
    """A comment as moderators see it: email, reasons, revision, claim and the author's record on the
    site (comments per status). ModeratorCommentSchema is its JSON; services.changes can change it."""

    id: int
    thread_id: int
    thread: ThreadRef
    parent_id: int | None
    author: ModeratorAuthor
    body_html: str
    body_source: str
    status: Status
    revision: int
    reasons: list[dict[str, Any]]
    spam_score: float | None
    open_reports: int
    claim: ClaimInfo | None
    author_history: dict[str, int]
    created_at: datetime
    edited_at: datetime | None

    @property
    def claimed_by(self) -> str | None:
        return self.claim.by if self.claim is not None else None

    @property
    def claim_expires_at(self) -> datetime | None:
        return self.claim.expires_at if self.claim is not None else None

    def changed(self, status: Status, revision: int, *, released: bool, resolved: bool) -> ModeratorItem:
        """This item after a change of status that services.changes made: nothing is read back. The
        author's record counted the comment under its old status (when it has an author to count)."""
        history = self.author_history
        if status is not self.status and history.get(self.status.value, 0) > 0:
            history = {**history, self.status.value: history[self.status.value] - 1,
                       status.value: history.get(status.value, 0) + 1}
        return dataclasses.replace(
            self, status=status, revision=revision, author_history=history,
            claim=None if released else self.claim, open_reports=0 if resolved else self.open_reports,
        )


def moderator_view(row: sa.Row[Any]) -> ModeratorItem:
    """The ModeratorItem of a row with the columns of _select_items."""
    m = row._mapping
    return ModeratorItem(
        id=m["id"],
        thread_id=m["thread_id"],
        thread=ThreadRef(m["thread_key"], m["thread_title"]),
        parent_id=m["parent_id"],
        author=ModeratorAuthor(m["author_name"], m["author_email"], m["author_url"], m["avatar"]),
        body_html=m["body_html"],
        body_source=m["body_source"],
        status=m["status"],
        revision=m["revision"],
        reasons=m["hold_reasons"] or [],
        spam_score=m["spam_score"],
        open_reports=m["open_reports"],
        claim=ClaimInfo(m["claimed_by"], m["claim_expires_at"]) if m["claimed_by"] else None,
        author_history=dict(zip(_STATUS_VALUES, map(int, m["author_record"].split(",")), strict=True)),
        created_at=m["created_at"],
        edited_at=m["edited_at"],
    )


# The statements are built once per shape and take their values as parameters: SQLAlchemy then
# reuses their cache key and compiled form, and psycopg prepares them on the server. Building and
# keying a statement of this size anew cost more than running it (bench/README.md).
_SITE_ID = sa.bindparam("p_site_id", type_=sa.Integer)


@functools.cache
def _queue_where(queue: Queue, thread: bool, text: bool) -> tuple[sa.ColumnElement[bool], ...]:
    """A queue's WHERE clause on a site, narrowed to one thread (by key) or to a text in the body or the
    author's name; parameters :p_site_id, :p_thread_key, :p_pattern (see _narrowing)."""
    clauses = [_C.site_id == _SITE_ID, queue_filter(queue)]
    if thread:
        clauses.append(_C.thread_id == (
            sa.select(_THREAD.c.id)
            .where(_THREAD.c.site_id == _SITE_ID, _THREAD.c.key == sa.bindparam("p_thread_key", type_=sa.String))
            .scalar_subquery()
        ))
    if text:
        pattern = sa.bindparam("p_pattern", type_=sa.String)
        clauses.append(sa.or_(_C.body_source.ilike(pattern, escape="\\"), _C.author_name.ilike(pattern, escape="\\")))
    return tuple(clauses)


def _narrowing(site: Site, thread: str | None, text: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"p_site_id": site.id}
    if thread:
        params["p_thread_key"] = thread
    if text:
        params["p_pattern"] = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return params


_LIMIT = sa.bindparam("p_limit", type_=sa.Integer)


@functools.cache
def _page_statement(queue: Queue, after: bool, thread: bool, text: bool) -> sa.Select[Any]:
    stmt = _select_items().where(*_queue_where(queue, thread, text)).order_by(_C.id).limit(_LIMIT)
    return stmt.where(_C.id > sa.bindparam("p_after", type_=sa.Integer)) if after else stmt


_ITEMS_BY_ID = (
    _select_items()
    .where(_C.site_id == _SITE_ID, _C.id.in_(sa.bindparam("p_ids", expanding=True)))
    .order_by(_C.id)
)


def queue_items(site: Site, queue: Queue, after: int | None, limit: int, *, thread: str | None = None,
                text: str | None = None) -> tuple[list[ModeratorItem], int | None]:
    """A page of a queue, oldest first (keyset on id), with what a moderator needs to decide.

    `thread` (a thread key) and `text` (in the body or the author's name) narrow the queue.
    """
    params = {**_narrowing(site, thread, text), "p_limit": limit + 1}
    if after is not None:
        params["p_after"] = after
    rows = db.session.execute(_page_statement(queue, after is not None, bool(thread), bool(text)), params).all()
    more = len(rows) > limit
    items = [moderator_view(r) for r in rows[:limit]]
    return items, (items[-1].id if more else None)


def held_by_another(actor: Any, now: Any) -> sa.ColumnElement[bool]:
    """A claim row that is live and not `actor`'s (values or bound parameters)."""
    return sa.and_(_CLAIM.c.expires_at > now, _CLAIM.c.claimed_by != actor)


def _lease_write() -> None:
    """Leases are soft state: a crash that loses the last instant's leases only frees items early.
    So on PostgreSQL their transactions do not wait for the WAL flush (the p99 of a claim followed
    the disk, bench/README.md); decisions and audit rows keep full durability."""
    if dialect() == "postgresql":
        db.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))


@functools.cache
def _claim_statement(queue: Queue, thread: bool, text: bool, dialect: str) -> sa.Executable:
    """INSERT INTO claim SELECT <the oldest items nobody else holds> FOR UPDATE SKIP LOCKED
    ON CONFLICT (comment_id) DO UPDATE <the lease, where it is free or ours> RETURNING.

    Every candidate comes back with its holder after the statement: the caller's, or the moderator
    who claimed it at the same instant (see claim_batch). On PostgreSQL the INSERT is a CTE and the
    statement returns whole items; on SQLite it returns the claims, and the items are read after.
    """
    actor = sa.bindparam("p_actor", type_=_CLAIM.c.claimed_by.type)
    now = sa.bindparam("p_now", type_=_CLAIM.c.expires_at.type)
    expires = sa.bindparam("p_expires", type_=_CLAIM.c.expires_at.type)
    # The items someone else holds: this site's live claims, read once (ix_claim_site_comment) and
    # hashed. As a correlated NOT EXISTS the planner chose an anti join walking every site's claims,
    # as a correlated probe it misjudged how many items pass and sorted the whole queue.
    held = sa.select(_CLAIM.c.comment_id).where(_CLAIM.c.site_id == _SITE_ID, held_by_another(actor, now))
    candidates = (
        sa.select(_C.id, _C.site_id, actor, expires)
        .where(*_queue_where(queue, thread, text), _C.id.not_in(held))
        .order_by(_C.id)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
    )
    insert = conflict_insert(_CLAIM, dialect)
    insert = insert.from_select(["comment_id", "site_id", "claimed_by", "expires_at"], candidates)
    free = ~held_by_another(actor, now)  # the existing claim expired, or it is the caller's
    upsert = insert.on_conflict_do_update(
        index_elements=[_CLAIM.c.comment_id],
        set_={"claimed_by": sa.case((free, insert.excluded.claimed_by), else_=_CLAIM.c.claimed_by),
              "expires_at": sa.case((free, insert.excluded.expires_at), else_=_CLAIM.c.expires_at)},
    ).returning(_CLAIM.c.comment_id, _CLAIM.c.claimed_by, _CLAIM.c.expires_at)
    if dialect != "postgresql":
        return upsert
    return _select_items(upsert.cte("leased"))


def claim_batch(site: Site, queue: Queue, actor: str, limit: int, lease_seconds: int, *, thread: str | None = None,
                text: str | None = None) -> list[ModeratorItem]:
    """Lease up to `limit` items of a queue that nobody else holds to `actor`, oldest first.

    One INSERT INTO claim ... SELECT ... FOR UPDATE SKIP LOCKED ... ON CONFLICT: on PostgreSQL
    concurrent claimers skip each other's rows instead of waiting; SQLite has one writer anyway.
    Items the actor already holds are handed out again, with the lease renewed. `thread` and
    `text` narrow the queue as in queue_items.

    A claimer whose statement began just before another one committed can pick the other's
    fresh claims (the row locks are free again, its snapshot does not show the claims yet); the
    ON CONFLICT then leaves them to the other, and the statement runs once more, seeing them.
    """
    now = utcnow()
    _lease_write()
    dialect_name = dialect()
    stmt = _claim_statement(queue, bool(thread), bool(text), dialect_name)
    params = {**_narrowing(site, thread, text), "p_actor": actor, "p_now": now,
              "p_expires": now + timedelta(seconds=lease_seconds), "p_limit": limit}
    rows = db.session.execute(stmt, params).all()
    for _ in range(2):  # 8 claimers at once: 1 round in 4 lost some (tests/test_concurrent_moderation.py)
        if all(r.claimed_by == actor for r in rows):
            break
        rows = db.session.execute(stmt, params).all()
    ours = [r for r in rows if r.claimed_by == actor]
    if dialect_name == "postgresql":
        items = sorted((moderator_view(r) for r in ours), key=lambda item: item.id)  # a CTE has no order
    else:
        items = moderator_items(site, [r.comment_id for r in ours]) if ours else []
    commit_keeping_state()  # the page goes on with the site and the moderator as loaded
    return items


def moderator_items(site: Site, ids: list[int]) -> list[ModeratorItem]:
    """These comments of the site as moderators see them (with the authors' history), by id."""
    rows = db.session.execute(_ITEMS_BY_ID, {"p_site_id": site.id, "p_ids": ids}).all()
    return [moderator_view(r) for r in rows]


def moderator_item(site: Site, comment_id: int) -> ModeratorItem:
    """One comment of the site as moderators see it; NotFound for another site's comment or none."""
    items = moderator_items(site, [comment_id])
    if not items:
        raise NotFound("comment_not_found", "No comment with this id on this site.")
    return items[0]


def release_claims(site: Site, actor: str, ids: list[int], *, leased_until: datetime | None = None) -> int:
    """Give back items the actor holds (e.g. the moderator leaves the queue).

    With `leased_until`, only leases that end by then are given back: a page that is being left
    must not release what the page loading after it (a reload) has just claimed again.
    """
    renewed = [Claim.expires_at <= leased_until] if leased_until is not None else []
    _lease_write()
    result = db.session.execute(
        sa.delete(Claim)
        .where(Claim.site_id == site.id, Claim.comment_id.in_(ids), Claim.claimed_by == actor, *renewed)
        .execution_options(synchronize_session=False)
    )
    commit_keeping_state()
    return result.rowcount
