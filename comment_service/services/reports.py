"""Reader reports: one per reader fingerprint; enough of them hide a comment until a human looks."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from comment_service.errors import ApiError
from comment_service.extensions import db
from comment_service.models import Comment, ModerationAction, Report, Site
from comment_service.moderation.rules import HoldReason, ReasonCode
from comment_service.moderation.status import Status, is_visible
from comment_service.services.comments import bump_thread
from comment_service.services.identity import reader_fingerprint
from comment_service.services.moderation import Change, get_comment, stale_revision
from comment_service.services.sites import site_settings


def report_comment(site: Site, comment_id: int, reason: str, note: str | None, client_ip: str | None,
                   user_agent: str | None) -> tuple[bool, Comment]:
    """Record a reader's report; returns (new report?, comment). A repeat by the same reader counts once."""
    c = get_comment(site, comment_id)
    if not is_visible(c.status):
        raise ApiError(404, "comment_not_found", "No comment with this id on this site.")
    fingerprint = reader_fingerprint(client_ip, user_agent)
    try:
        with db.session.begin_nested():
            db.session.add(Report(site_id=site.id, comment_id=c.id, reason=reason, note=note, fingerprint=fingerprint))
    except IntegrityError:
        db.session.rollback()
        return False, c
    db.session.execute(
        sa.update(Comment).where(Comment.id == c.id).values(open_reports=Comment.open_reports + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(c)
    threshold = site_settings(site)["report_threshold"]
    if c.open_reports >= threshold and is_visible(c.status):
        _hide_for_review(site, c, threshold)
    db.session.commit()
    return True, c


def _hide_for_review(site: Site, c: Comment, threshold: int) -> None:
    """Send a much-reported comment back to pending, with the reason, until a moderator decides."""
    was = c.status
    reason = HoldReason(ReasonCode.REPORTED, f"Hidden after {c.open_reports} reader reports (threshold {threshold}).",
                        facts={"count": c.open_reports, "threshold": threshold})
    c.status = Status.PENDING
    c.hold_reasons = [*(c.hold_reasons or []), reason.as_dict()]
    c.revision += 1
    db.session.add(ModerationAction(
        site_id=site.id, comment_id=c.id, revision=c.revision - 1, actor_type="system",
        from_status=was, to_status=Status.PENDING, reason_code=ReasonCode.REPORTED.value,
    ))
    bump_thread(c.thread_id, -1)


def comment_reports(site: Site, comment_id: int) -> list[dict[str, Any]]:
    """A comment's reports for moderators (reasons and notes; reporters stay anonymous)."""
    get_comment(site, comment_id)
    rows = db.session.scalars(sa.select(Report).where(Report.comment_id == comment_id).order_by(Report.id))
    return [
        {"id": r.id, "reason": r.reason, "note": r.note, "resolved": r.resolved, "created_at": r.created_at}
        for r in rows
    ]


def dismiss_reports(site: Site, comment_id: int, change: Change) -> Comment:
    """A moderator finds the reports unfounded: close them; the comment keeps its status."""
    c = get_comment(site, comment_id)
    if c.revision != change.revision:
        raise stale_revision(c)
    if c.open_reports == 0:
        raise ApiError(409, "no_open_reports", "This comment has no open reports.")
    db.session.execute(
        sa.update(Report).where(Report.comment_id == c.id, Report.resolved.is_(False)).values(resolved=True)
    )
    c.open_reports = 0
    c.revision += 1
    db.session.add(ModerationAction(
        site_id=site.id, comment_id=c.id, revision=change.revision, actor_type=change.actor_type,
        actor_id=change.actor, from_status=c.status, to_status=c.status, reason_code="reports_dismissed",
        note=change.note,
    ))
    db.session.commit()
    return c


