"""Reader reports: one per reader fingerprint; enough of them hide a comment until a human looks.

Hiding and dismissing change the comment through services.changes (guarded like any decision)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from comment_service.database import commit_keeping_state
from comment_service.extensions import db
from comment_service.models import Comment, Report, Site
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.errors import Conflict, NotFound
from comment_service.moderation.rules import HoldReason, ReasonCode
from comment_service.moderation.status import Status, dismissed, hidden, is_visible
from comment_service.services import changes, outbox, queues
from comment_service.services.identity import reader_fingerprint
from comment_service.services.moderation import get_comment
from comment_service.services.queues import ModeratorItem
from comment_service.services.sites import site_settings

_C = Comment.__table__.c


@dataclass(frozen=True)
class Reported:
    """A comment as a report left it (the columns the increment returned)."""

    id: int
    thread_id: int
    status: Status
    revision: int
    open_reports: int
    hold_reasons: list[dict[str, object]]


def report_comment(site: Site, comment_id: int, reason: str, note: str | None, client_ip: str | None,
                   user_agent: str | None) -> bool:
    """Record a reader's report; True when it is new (a repeat by the same reader counts once). At the
    site's threshold a visible comment goes back to pending, with the reason, until a moderator decides."""
    c = get_comment(site, comment_id)
    if not is_visible(c.status):
        raise NotFound("comment_not_found", "No comment with this id on this site.")
    fingerprint = reader_fingerprint(client_ip, user_agent)
    report = Report(site_id=site.id, comment_id=c.id, reason=reason, note=note, fingerprint=fingerprint)
    try:
        with db.session.begin_nested():
            db.session.add(report)
    except IntegrityError:
        db.session.rollback()
        return False
    row = db.session.execute(
        sa.update(Comment.__table__).where(_C.id == c.id).values(open_reports=_C.open_reports + 1)
        .returning(_C.id, _C.thread_id, _C.status, _C.revision, _C.open_reports, _C.hold_reasons)
    ).one()
    now = Reported(*row)
    outbox.report_created(site, c.id, report.id, now.status, now.revision)
    threshold = site_settings(site)["report_threshold"]
    if now.open_reports >= threshold and is_visible(now.status):
        why = HoldReason(ReasonCode.REPORTED,
                         f"Hidden after {now.open_reports} reader reports (threshold {threshold}).",
                         facts={"count": now.open_reports, "threshold": threshold})
        # The increment holds the row until the commit, so nothing can change it in between.
        changes.apply(site.id, now, changes.Change(
            Actor.SYSTEM, transition=hidden(now.status), reason=AuditReason.REPORTED,
            hold_reasons=[*(now.hold_reasons or []), why.as_dict()],
        ))
    db.session.commit()
    return True


@dataclass(frozen=True)
class ReportView:
    """A report as moderators see it (ReportSchema): reason and note; the reporter stays anonymous."""

    id: int
    reason: str
    note: str | None
    resolved: bool
    created_at: datetime


_REPORT = Report.__table__.c
REPORT_COLUMNS = (_REPORT.id, _REPORT.reason, _REPORT.note, _REPORT.resolved, _REPORT.created_at)


def comment_reports(site: Site, comment_id: int) -> list[ReportView]:
    """A comment's reports for moderators, oldest first."""
    get_comment(site, comment_id)
    rows = db.session.execute(sa.select(*REPORT_COLUMNS).where(_REPORT.comment_id == comment_id).order_by(_REPORT.id))
    return [ReportView(*r) for r in rows]


def dismiss_reports(site: Site, comment_id: int, revision: int, moderator: str,
                    note: str | None = None) -> ModeratorItem:
    """A moderator finds the reports unfounded: close them; the comment keeps its status. Returns the
    comment as the moderator now sees it."""
    item = queues.moderator_item(site, comment_id)
    changes.check_seen(item, revision)
    if item.open_reports == 0:
        raise Conflict("no_open_reports", "This comment has no open reports.")
    changes.apply(site.id, item, changes.Change(
        Actor.MODERATOR, transition=dismissed(item.status), actor_id=moderator,
        reason=AuditReason.REPORTS_DISMISSED, note=note, revision=revision,
    ))
    commit_keeping_state()
    return item.changed(item.status, item.revision + 1, released=False, resolved=True)
