"""Bans by email, email domain or IP prefix: stored as keyed digests, checked on every submission."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Ban, Site
from comment_service.services.identity import domain_hmac, email_hmac, ip_hmac


def ban_digests(email: str | None, client_ip: str | None) -> list[tuple[str, str]]:
    """The (kind, digest) pairs a submission from this email and IP could be banned under."""
    pairs: list[tuple[str, str]] = []
    if email:
        pairs.append(("email", email_hmac(email)))
        pairs.append(("domain", domain_hmac(email.rpartition("@")[2])))
    ip_digest = ip_hmac(client_ip)
    if ip_digest:
        pairs.append(("ip", ip_digest))
    return pairs


def active_ban(site: Site, email: str | None, client_ip: str | None, now: datetime) -> Ban | None:
    """The first unexpired ban that covers this author on this site, if any (one indexed query)."""
    pairs = ban_digests(email, client_ip)
    if not pairs:
        return None
    return db.session.scalar(
        sa.select(Ban)
        .where(
            Ban.site_id == site.id,
            sa.tuple_(Ban.kind, Ban.value_hmac).in_(pairs),
            sa.or_(Ban.expires_at.is_(None), Ban.expires_at > now),
        )
        .limit(1)
    )
