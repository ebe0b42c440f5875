"""Moderators' notices: who is told what, and when (the messages themselves are drawn and sent by
dashboard/alerts.py, the moderators' surface).

- **Each held or reported comment** (a moderator's default, per site: ModeratorSite.alerts =
  `each`): an outbox consumer. A site wants `comment.held`, `comment.hidden_by_reports` and
  `report.created` while one of its moderators has `each`; dispatch writes one Notification per
  such moderator and event (its dedupe key makes a second dispatch a no-op) and enqueues
  `notices.send` for it. A comment's reports make one notice per moderator, however many there are.
- **A digest** every `digest_minutes` (`alerts` = `digest`): the sweep writes one when the
  moderator's last is that old and comments have been held since.
- **The queue's time limit** (site setting `sla_minutes`): when the oldest pending comment is
  older, the sweep alerts the site's moderators (all but those with `none`) once; the breach is
  remembered on the site (Site.sla_breached_at) until the queue is back within the limit.

A notice names its moderator by id; the address is read when it is sent. The send job claims it
(services/attempts.py), so a replayed job sends nothing twice; a notice whose comment was decided
before it went out, or whose moderator left the site or turned alerts off, is dropped unsent.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from comment_service import jobs
from comment_service.database import conflict_insert
from comment_service.extensions import db
from comment_service.models import Comment, Moderator, ModeratorSite, Notification, Site, UsedActionLink, utcnow
from comment_service.moderation import events
from comment_service.moderation.alerts import (
    ALERT_MODES,
    DIGEST,
    DIGEST_MINUTES,
    EACH,
    NONE,
    breach_started,
    digest_due,
)
from comment_service.moderation.status import Status
from comment_service.services import attempts, outbox
from comment_service.services.queues import oldest_pending
from comment_service.services.sites import site_settings

log = logging.getLogger(__name__)

# The events a moderator on `each` hears of, and the notice each one is.
ALERTING = {events.HELD: "held", events.HIDDEN_BY_REPORTS: "held", events.REPORTED: "reported"}
SENT, DROPPED = "sent", "dropped"
KEEP_FINISHED = timedelta(days=30)
USED_LINKS_KEPT = timedelta(days=2)  # longer than a decision link lives (24 h): refused as expired after
DIGEST_MAX = 20  # comments listed in one digest
_N = Notification.__table__


# --- what the outbox is asked for --------------------------------------------------------------

def _wanted(site: Site) -> set[str]:
    each = db.session.scalar(sa.select(sa.func.count()).where(
        ModeratorSite.site_id == site.id, ModeratorSite.alerts == EACH))
    return set(ALERTING) if each else set()


def _insert_ignoring_duplicates() -> Any:
    return conflict_insert(_N).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_N.c.id)


def _pending(site_id: int, kind: str, key: str, now: datetime, **ids: Any) -> dict[str, Any]:
    return {"site_id": site_id, "kind": kind, "dedupe_key": key, "status": attempts.PENDING, "attempts": 0,
            "next_attempt_at": now, "created_at": now, "moderator_id": None, "comment_id": None, "event_id": None,
            **ids}


def _write(values: list[dict[str, Any]]) -> outbox.Work:
    if not values:
        return []
    ids = db.session.scalars(_insert_ignoring_duplicates(), values).all()
    return [("notices.send", (notice_id,)) for notice_id in ids]


def _fan_out(claimed: Sequence[Any], now: datetime) -> outbox.Work:
    """For claimed outbox rows: a notice per moderator on `each` and alerting event."""
    rows = [row for row in claimed if any(t in ALERTING for t in row.types)]
    if not rows:
        return []
    members = db.session.execute(sa.select(ModeratorSite.site_id, ModeratorSite.moderator_id).where(
        ModeratorSite.site_id.in_({r.site_id for r in rows}), ModeratorSite.alerts == EACH)).all()
    values = []
    for row in rows:
        kind = next(ALERTING[t] for t in row.types if t in ALERTING)
        comment_id = row.comment_id
        for site_id, moderator_id in members:
            if site_id == row.site_id:
                # Held: one per event (a comment held again is news again). Reported: one per comment.
                key = f"held:{row.id}:{moderator_id}" if kind == "held" else f"reported:{comment_id}:{moderator_id}"
                values.append(_pending(site_id, kind, key, now, moderator_id=moderator_id, comment_id=comment_id,
                                       event_id=row.id))
    return _write(values)


# --- digests and the queue's time limit (the worker's sweep) -------------------------------------

def _digests(now: datetime) -> outbox.Work:
    """A digest for each moderator on `digest` whose last one is old enough, if comments were held since."""
    members = db.session.scalars(sa.select(ModeratorSite).where(ModeratorSite.alerts == DIGEST)).all()
    values = []
    for member in members:
        every = member.digest_minutes or 60
        if not digest_due(member.digest_sent_at, every, now):
            continue
        since = member.digest_sent_at or (now - timedelta(minutes=every))
        held = db.session.scalar(sa.select(sa.func.count()).where(
            Comment.site_id == member.site_id, Comment.status == Status.PENDING, Comment.created_at > since))
        previous = member.digest_sent_at
        member.digest_sent_at = now
        if held:
            # Keyed by the digest it follows: two workers sweeping at once write one.
            key = f"digest:{member.site_id}:{member.moderator_id}:{previous.isoformat() if previous else 'first'}"
            values.append(_pending(member.site_id, "digest", key, now, moderator_id=member.moderator_id))
    return _write(values)


def _breaches(now: datetime) -> outbox.Work:
    """One alert per breach to every moderator of a site whose queue is past its limit (not `none`)."""
    values = []
    for site in db.session.scalars(sa.select(Site)).all():
        minutes = site_settings(site)["sla_minutes"]
        crossed = breach_started(oldest_pending(site.id), minutes, now) if minutes else None
        if crossed is None:
            site.sla_breached_at = None  # back within the limit: the next breach alerts again
            continue
        if site.sla_breached_at is not None:
            continue  # alerted for this breach already
        site.sla_breached_at = crossed
        members = db.session.scalars(sa.select(ModeratorSite.moderator_id).where(
            ModeratorSite.site_id == site.id, ModeratorSite.alerts != NONE)).all()
        values += [_pending(site.id, "sla", f"sla:{site.id}:{crossed.isoformat()}:{mid}", now, moderator_id=mid)
                   for mid in members]
    return _write(values)


def _sweep(now: datetime) -> int:
    """The notices the queue lost, digests due, breaches new; old finished notices forgotten."""
    work = _digests(now) + _breaches(now)
    due = attempts.due(_N, now, len(current_app.config["MAJLIS_MAIL_RETRY_SECONDS"]) + 1)
    attempts.forget_finished(_N, now - KEEP_FINISHED)
    db.session.execute(sa.delete(UsedActionLink).where(UsedActionLink.used_at < now - USED_LINKS_KEPT))
    db.session.commit()
    queue = jobs.jobs()
    for name, args in work:
        queue.enqueue_quietly(name, *args)
    for notice_id in due:
        queue.enqueue_quietly("notices.send", notice_id)
    return len(due) + len(work)


def _gauges() -> list[tuple[str, Any]]:
    return [(f"notifications:{status}", attempts.count(_N, status)) for status in (attempts.PENDING, attempts.FAILED)]


outbox.register(outbox.Consumer("notices", wanted=_wanted, fan_out=_fan_out, sweep=_sweep, gauges=_gauges))


# --- one notice, as the send job sees it ---------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """A notice claimed for an attempt, with what its message needs (the address read just now)."""

    id: int
    kind: str
    attempt: int
    site: Site
    moderator: Moderator
    membership: ModeratorSite
    comment: Comment | None


def claim(notice_id: int, now: datetime) -> Notice | None:
    """Claim an attempt at a notice and load what it needs; None when there is nothing to send (done,
    not due, someone else's, or dropped now: its comment decided, its moderator gone or silent).
    Commits the claim."""
    claimed = attempts.claim(_N, notice_id, now, timedelta(minutes=2), _N.c.kind, _N.c.site_id, _N.c.moderator_id,
                             _N.c.comment_id)
    if claimed is None:
        db.session.rollback()
        return None
    membership = db.session.get(ModeratorSite, (claimed.moderator_id, claimed.site_id))
    comment = db.session.get(Comment, claimed.comment_id) if claimed.comment_id else None
    why = None
    if membership is None:
        why = "the moderator no longer works on this site"
    elif (membership.alerts == NONE or (membership.alerts == DIGEST and claimed.kind in ("held", "reported"))
          or (membership.alerts != DIGEST and claimed.kind == "digest")):
        why = "the moderator changed their alerts"
    elif claimed.kind == "held" and (comment is None or comment.status is not Status.PENDING):
        why = "the comment was decided before the notice went out"
    if why is not None:
        attempts.finish(_N, notice_id, DROPPED, why, now)
        db.session.commit()
        return None
    db.session.commit()
    return Notice(notice_id, claimed.kind, claimed.attempts, db.session.get(Site, claimed.site_id),
                  membership.moderator, membership, comment)


def digest_comments(site_id: int, limit: int = DIGEST_MAX) -> tuple[list[Comment], int]:
    """The oldest pending comments of a site for a digest, and how many are pending in all."""
    pending = sa.select(Comment).where(Comment.site_id == site_id, Comment.status == Status.PENDING)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(pending.subquery()))
    return list(db.session.scalars(pending.order_by(Comment.id).limit(limit))), total or 0


def sent(notice_id: int) -> None:
    attempts.finish(_N, notice_id, SENT, None, utcnow())
    db.session.commit()


def failed_attempt(notice: Notice, error: str) -> datetime | None:
    """Record a failed attempt: the time of the next one, or None once they are used up (failed)."""
    next_at = attempts.failed(_N, notice.id, notice.attempt, current_app.config["MAJLIS_MAIL_RETRY_SECONDS"], error,
                              utcnow())
    db.session.commit()
    if next_at is None:
        log.warning("notices: notice %s failed after %d attempts: %s", notice.id, notice.attempt, error)
    return next_at


# --- a moderator's choice ---------------------------------------------------------------------

def set_alerts(membership: ModeratorSite, mode: str, digest_minutes: int | None = None) -> None:
    """How the moderator hears of this site's comments: each, digest (every N minutes) or none."""
    if mode not in ALERT_MODES:
        raise ValueError(f"alerts must be one of {ALERT_MODES}")
    if mode == DIGEST and not (digest_minutes and DIGEST_MINUTES[0] <= digest_minutes <= DIGEST_MINUTES[1]):
        raise ValueError("a digest comes every 5 minutes to 7 days")
    if mode == DIGEST and membership.alerts != DIGEST:
        membership.digest_sent_at = utcnow()  # the first digest comes a period from now
    membership.alerts = mode
    membership.digest_minutes = digest_minutes if mode == DIGEST else None
    outbox.keep_site_events(db.session.get(Site, membership.site_id))
    db.session.commit()
