"""Bans by email, email domain or IP prefix: stored as keyed digests, checked on every submission
(services.comments.author_facts asks in the same statement as the author's other facts)."""
from __future__ import annotations

from comment_service.services.identity import domain_hmac


def ban_pairs(email: str | None, email_digest: str | None, ip_digest: str | None) -> list[tuple[str, str]]:
    """The (kind, digest) pairs a submission from this author could be banned under, from the digests
    the submission computes anyway (email_hmac, ip_hmac) and the email's domain."""
    pairs: list[tuple[str, str]] = []
    if email and email_digest:
        pairs.append(("email", email_digest))
        pairs.append(("domain", domain_hmac(email.rpartition("@")[2])))
    if ip_digest:
        pairs.append(("ip", ip_digest))
    return pairs
