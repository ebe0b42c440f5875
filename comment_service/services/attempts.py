"""Sending something that may fail (a webhook message, an email), one attempt at a time: the one
home of the claim, the lease, the outcome and the sweep that every delivery table shares.

A delivery row has `status` (pending until it is done, then its success status or failed),
`attempts`, `next_attempt_at`, `lease_until`, `last_error` and `finished_at`. An attempt is
claimed with one guarded UPDATE (pending, due, no live lease) that counts it and takes a lease;
the caller commits that before the network call, so a job run twice sends once and a worker that
died mid-call leaves a lease that runs out; `sweep` then finds the row due again.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.moderation.events import next_try

PENDING, FAILED = "pending", "failed"
EARLY = timedelta(seconds=1)  # a job may run a little before the time it was scheduled for
SWEEP_GRACE = timedelta(seconds=5)  # a due row younger than this is still its job's


def claim(table: sa.Table, row_id: int, now: datetime, lease: timedelta, *columns: Any) -> Any:
    """Count an attempt and take its lease if the row is pending, due and nobody's: `columns` and
    the attempt's number (`attempts`) of the row, else None."""
    c = table.c
    return db.session.execute(
        sa.update(table)
        .where(c.id == row_id, c.status == PENDING, c.next_attempt_at <= now + EARLY,
               sa.or_(c.lease_until.is_(None), c.lease_until < now))
        .values(attempts=c.attempts + 1, lease_until=now + lease)
        .returning(*columns, c.attempts)
    ).first()


def finish(table: sa.Table, row_id: int, status: str, error: str | None, now: datetime,
           next_at: datetime | None = None, **values: Any) -> None:
    """Write an attempt's outcome: `status` (PENDING with `next_at` to try again), the error, the
    lease given back; `values`: the table's own columns (a status code)."""
    db.session.execute(sa.update(table).where(table.c.id == row_id).values(
        status=status, last_error=error, lease_until=None, next_attempt_at=next_at,
        finished_at=None if status == PENDING else now, **values,
    ))


def failed(table: sa.Table, row_id: int, attempt: int, waits: Sequence[float], error: str | None, now: datetime,
           **values: Any) -> datetime | None:
    """Write a failed attempt (the `attempt`-th): pending again after the schedule's wait, or failed
    once `waits` is used up; the time of the next attempt, or None (failed)."""
    wait = next_try(attempt, waits)
    if wait is None:
        finish(table, row_id, FAILED, error, now, **values)
        return None
    finish(table, row_id, PENDING, error, now, now + wait, **values)
    return now + wait


def due(table: sa.Table, now: datetime, max_attempts: int, limit: int = 1000) -> list[int]:
    """Rows pending, due for a while and nobody's: their job was lost, or their worker died. A row
    whose attempts are used up without an outcome (its job crashed each time) is failed instead."""
    c = table.c
    db.session.execute(sa.update(table).where(
        c.status == PENDING, c.attempts >= max_attempts, c.lease_until < now,
    ).values(status=FAILED, last_error="gave up: the attempts ended without an answer", lease_until=None,
             next_attempt_at=None, finished_at=now))
    return list(db.session.scalars(
        sa.select(c.id).where(c.status == PENDING, c.next_attempt_at <= now - SWEEP_GRACE,
                              sa.or_(c.lease_until.is_(None), c.lease_until < now))
        .order_by(c.next_attempt_at).limit(limit)
    ))


def forget_finished(table: sa.Table, before: datetime) -> None:
    """Delete the rows finished before `before` (the delivery log keeps a window)."""
    db.session.execute(sa.delete(table).where(table.c.status != PENDING, table.c.finished_at < before))


def count(table: sa.Table, status: str) -> Any:
    """A scalar subquery counting the rows in `status` (/metrics; give the status a partial index)."""
    return sa.select(sa.func.count()).where(table.c.status == status).scalar_subquery()
