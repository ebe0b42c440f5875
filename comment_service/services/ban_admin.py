"""A site's ban list: ban an email, an email domain or an IP prefix (optionally rejecting what the
author already posted), list the bans, lift one.

Separate from services/bans.py, which submission imports to check bans: rejecting goes through
services.changes, which the comments service imports too. Keeping the lookup and the administration
apart keeps the imports one-way.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from comment_service.database import commit_keeping_state
from comment_service.extensions import db
from comment_service.models import Ban, Comment, Site, utcnow
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.errors import Conflict, DomainError, NotFound
from comment_service.moderation.status import Action, Status
from comment_service.schemas.fields import ID_MAX
from comment_service.services import changes
from comment_service.services.identity import domain_hmac, email_hmac, ip_hmac

log = logging.getLogger(__name__)

LABEL_MAX = 100  # Ban.label's column size
# reject_existing: "also reject this author's pending and published comments". Approved ones were
# kept by a human, and stay.
REJECTABLE = (Status.PENDING, Status.PUBLISHED)


def mask_email(email: str) -> str:
    """An email a moderator may see in the ban list: the local part's first character, then the domain."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def ban_label(kind: str, value: str) -> str:
    """What the ban list shows: a domain or IP prefix as banned, an email masked; never over the column."""
    label = mask_email(value) if kind == "email" else value
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"


def ban_digest(kind: str, value: str) -> str:
    """The stored form of a normalised ban value: the digest bans.ban_digests computes for a submission."""
    if kind == "email":
        return email_hmac(value)
    if kind == "domain":
        return domain_hmac(value)
    digest = ip_hmac(value.partition("/")[0])  # a prefix's network address hashes under that same prefix
    if digest is None:
        raise ValueError(f"not an IP prefix: {value!r}")
    return digest


def _covered_comments(site: Site, kind: str, value: str, digest: str) -> list[Comment]:
    """The site's pending and published comments a new ban covers, locked until the ban commits."""
    stmt = sa.select(Comment).where(Comment.site_id == site.id, Comment.status.in_(REJECTABLE))
    if kind == "email":
        stmt = stmt.where(Comment.email_hmac == digest)
    elif kind == "ip":
        stmt = stmt.where(Comment.ip_hmac == digest)
    else:
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Comment.author_email.ilike("%@" + escaped, escape="\\"))
    found = db.session.scalars(stmt.order_by(Comment.id).with_for_update()).all()
    if kind == "domain":  # SQLite's ILIKE folds ASCII only: the exact, case-insensitive test is here
        domain = value.casefold()
        found = [c for c in found if (c.author_email or "").rpartition("@")[2].casefold() == domain]
    return list(found)


def create_ban(site: Site, kind: str, value: str, *, reason: str | None, expires_at: datetime | None,
               expires_in_days: int | None, reject_existing: bool, actor: str | None) -> tuple[Ban, int]:
    """Ban a normalised email, domain or IP prefix; optionally reject the comments it covers.

    One transaction: the ban and every rejection (each through the state machine, with its audit row
    and the thread's version and count) commit together or not at all. Returns the ban and how many
    comments were rejected. An active ban of the same value is a 409.
    """
    now = utcnow()
    if expires_in_days is not None:
        expires_at = now + timedelta(days=expires_in_days)
    digest = ban_digest(kind, value)
    existing = db.session.scalar(
        sa.select(Ban.id).where(
            Ban.site_id == site.id, Ban.kind == kind, Ban.value_hmac == digest,
            sa.or_(Ban.expires_at.is_(None), Ban.expires_at > now),
        ).limit(1)
    )
    if existing is not None:
        raise Conflict("already_banned", f"This {kind} is already banned (ban {existing}); lift that ban to change it.")
    ban = Ban(site_id=site.id, kind=kind, value_hmac=digest, label=ban_label(kind, value), reason=reason,
              expires_at=expires_at, created_by=actor, created_at=now)
    db.session.add(ban)
    db.session.flush()
    rejected = 0
    try:
        if reject_existing:
            for c in _covered_comments(site, kind, value, digest):
                changes.apply(site.id, c, changes.Change(Actor.SYSTEM, action=Action.REJECT, actor_id=actor,
                                                         reason=AuditReason.AUTHOR_BANNED), now)
                rejected += 1
    except DomainError:  # a comment changed meanwhile: no ban, no rejection
        db.session.rollback()
        raise
    commit_keeping_state()  # the answer shows the ban as stored
    log.info("ban %d created on site %s (%s), %d comments rejected", ban.id, site.slug, kind, rejected)
    return ban, rejected


def list_bans(site: Site, before: int | None, limit: int) -> tuple[list[Ban], int | None]:
    """A page of the site's bans, active and expired (Ban.expired), newest first; keyset on id."""
    stmt = sa.select(Ban).where(Ban.site_id == site.id).order_by(Ban.id.desc()).limit(limit + 1)
    if before is not None:
        stmt = stmt.where(Ban.id < before)
    bans = list(db.session.scalars(stmt))
    more = len(bans) > limit
    bans = bans[:limit]
    return bans, (bans[-1].id if more else None)


def lift_ban(site: Site, ban_id: int) -> None:
    """Delete a ban of this site; another site's ban is indistinguishable from none (404)."""
    deleted = 0
    if ban_id <= ID_MAX:  # a larger id cannot exist, and PostgreSQL would refuse to compare it
        deleted = db.session.execute(sa.delete(Ban).where(Ban.id == ban_id, Ban.site_id == site.id)).rowcount
    if deleted != 1:
        db.session.rollback()
        raise NotFound("ban_not_found", "No ban with this id on this site.")
    db.session.commit()
    log.info("ban %d lifted on site %s", ban_id, site.slug)
