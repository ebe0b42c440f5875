"""The outbox: the events someone outside wants, written with the change they are about and handed
on after the commit.

1. `record` (a changes.subscribe subscriber) runs inside every change's transaction. When the site
   wants any of the change's event types (Site.outbox_events, kept by services/webhooks.py), it
   writes one OutboxEvent row and asks for `outbox.dispatch` after the commit (jobs.after_commit).
   A site that wants nothing pays nothing: the Site is already in the session.
2. `dispatch` (a job) claims the undispatched rows with a guarded UPDATE (two workers never claim
   one row), turns each into its consumers' work (webhooks: one delivery per endpoint and type) in
   the same transaction, commits, then enqueues that work.
3. `sweep` (every minute, in the worker) dispatches rows left undispatched for more than a few
   seconds (the queue was down, or a process died between the commit and the enqueue) and hands
   each consumer its own overdue work.

The consumers (services/webhooks.py, and whatever else hears of events) `register` here: what each
wants of a site (their union is Site.outbox_events, kept by `keep_site_events`), how it fans a
claimed row out, its sweep, and its numbers for /metrics. This module imports none of them.

So an event is dispatched at least once, and at most once in effect: a second claim of a row
finds it dispatched, and a delivery is unique per endpoint and message.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from comment_service import jobs
from comment_service.extensions import db
from comment_service.models import OutboxEvent, Site, utcnow
from comment_service.moderation import events
from comment_service.moderation.status import Status
from comment_service.services import changes

log = logging.getLogger(__name__)

_OUTBOX = OutboxEvent.__table__
_INSERT = sa.insert(_OUTBOX)
BATCH = 200
STALE = timedelta(seconds=10)  # an undispatched row older than this is the sweep's


Work = list[tuple[str, tuple[Any, ...]]]  # jobs to enqueue after the commit: (name, args)


@dataclass(frozen=True)
class Consumer:
    """Something that hears of events. `wanted(site)`: the event types it wants of the site now;
    `fan_out(rows, now)`: its work for claimed rows (id, site_id, comment_id, types), written in the dispatch's
    transaction, and the jobs to enqueue after it; `sweep(now)`: enqueue its own overdue work;
    `gauges`: ("<metric>:<status>", scalar subquery) pairs, read with the outbox's numbers in one
    statement: /metrics shows each as majlis_<metric>{status="<status>"}."""

    name: str
    wanted: Callable[[Site], set[str]]
    fan_out: Callable[[Sequence[Any], datetime], Work]
    sweep: Callable[[datetime], int]
    gauges: Callable[[], list[tuple[str, Any]]]


_CONSUMERS: dict[str, Consumer] = {}


def register(consumer: Consumer) -> Consumer:
    """Add (or replace, by name) a consumer of the outbox's events."""
    _CONSUMERS[consumer.name] = consumer
    return consumer


def keep_site_events(site: Site) -> None:
    """Site.outbox_events: every event type some consumer wants of the site (None: none), so a
    change writes an outbox row only when someone will read it. Call when what they want changes."""
    site = db.session.get(Site, site.id) or site  # the session's copy (a caller may hold a detached one)
    wanted: set[str] = set()
    for consumer in _CONSUMERS.values():
        wanted |= consumer.wanted(site)
    site.outbox_events = sorted(wanted) or None


def _wanted_by(site_id: int) -> list[str] | None:
    site = db.session.get(Site, site_id)  # in the session already: the change's use case read it
    return site.outbox_events if site is not None else None


@changes.subscribe
def record(event: changes.CommentChanged) -> None:
    """Write the change's outbox row when the site wants one of its event types."""
    subscribed = _wanted_by(event.site_id)
    if not subscribed:
        return
    types = events.wanted(events.event_types(event.from_status, event.to_status, event.actor, event.reason),
                          subscribed)
    if types:
        revision = event.revision if events.keeps_revision(event.from_status, event.to_status, event.actor) \
            else event.revision + 1
        _write(event.site_id, event.comment_id, types, event.to_status, revision, action_id=event.id)


def report_created(site: Site, comment_id: int, report_id: int, status: Status, revision: int) -> None:
    """A reader's report, inside its transaction: `report.created`, when the site wants it."""
    if events.REPORTED in (site.outbox_events or ()):
        _write(site.id, comment_id, [events.REPORTED], status, revision, report_id=report_id)


def _write(site_id: int, comment_id: int, types: list[str], status: Status, revision: int,
           action_id: int | None = None, report_id: int | None = None) -> None:
    db.session.execute(_INSERT, {
        "site_id": site_id, "comment_id": comment_id, "action_id": action_id, "report_id": report_id,
        "types": types, "status": status, "revision": revision, "created_at": utcnow(),
    })
    jobs.after_commit(db.session(), "outbox.dispatch")


@jobs.job("outbox.dispatch")
def dispatch(older_than: timedelta | None = None) -> int:
    """Claim undispatched events (all, or those older than `older_than`), fan each out to its
    consumers, commit, enqueue their work; returns how many were dispatched."""
    now = utcnow()
    pick = sa.select(_OUTBOX.c.id).where(_OUTBOX.c.dispatched_at.is_(None))
    if older_than is not None:
        pick = pick.where(_OUTBOX.c.created_at < now - older_than)
    claimed = db.session.execute(
        sa.update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(pick.order_by(_OUTBOX.c.id).limit(BATCH).scalar_subquery()),
               _OUTBOX.c.dispatched_at.is_(None))
        .values(dispatched_at=now)
        .returning(_OUTBOX.c.id, _OUTBOX.c.site_id, _OUTBOX.c.comment_id, _OUTBOX.c.types)
    ).all()
    work: Work = []
    if claimed:
        for consumer in _CONSUMERS.values():
            work += consumer.fan_out(claimed, now)
    db.session.commit()
    queue = jobs.jobs()
    for name, args in work:
        queue.enqueue_quietly(name, *args)
    if len(claimed) == BATCH:
        queue.enqueue_quietly("outbox.dispatch")
    return len(claimed)


@jobs.periodic("outbox.sweep")
def sweep() -> None:
    """What the queue missed: events left undispatched, and each consumer's overdue work."""
    count = dispatch(older_than=STALE)
    if count:
        log.warning("outbox: %d event(s) dispatched by the sweep (the queue missed them)", count)
    now = utcnow()
    for consumer in _CONSUMERS.values():
        consumer.sweep(now)


def backlog() -> tuple[int, float, dict[str, int]]:
    """For /metrics, in one statement: the events waiting to be dispatched and the age in seconds of
    the oldest (0: none; a worker that is down shows here first), and each consumer's gauges."""
    waiting = sa.select(sa.func.count()).where(_OUTBOX.c.dispatched_at.is_(None)).scalar_subquery()
    oldest = sa.select(sa.func.min(_OUTBOX.c.created_at)).where(_OUTBOX.c.dispatched_at.is_(None)).scalar_subquery()
    gauges = [gauge for consumer in _CONSUMERS.values() for gauge in consumer.gauges()]
    row = db.session.execute(sa.select(waiting, sa.type_coerce(oldest, _OUTBOX.c.created_at.type),
                                       *(query for _, query in gauges))).one()
    count, first = row[0], row[1]
    age = max(0.0, (utcnow() - first).total_seconds()) if first is not None else 0.0
    return count, age, {name: value for (name, _), value in zip(gauges, row[2:], strict=True)}
