"""Keyed digests of people: email lookups, IP prefixes, per-site avatars, moderator logins."""
from __future__ import annotations

from functools import lru_cache

from flask import current_app

from comment_service.models import Site
from comment_service.moderation import privacy


@lru_cache(maxsize=8)
def _keys(secret: str) -> tuple[bytes, bytes]:
    return privacy.derive_key(secret, "email"), privacy.derive_key(secret, "ip")


def email_hmac(email: str) -> str:
    """The lookup digest of an email (bans, trust, privacy requests)."""
    return privacy.keyed_digest(_keys(current_app.config["SECRET_KEY"])[0], privacy.email_lookup_form(email))


def ip_hmac(address: str | None) -> str | None:
    """The stored form of a client IP: its /24 or /48 prefix, keyed-hashed."""
    prefix = privacy.ip_prefix(address)
    if prefix is None:
        return None
    return privacy.keyed_digest(_keys(current_app.config["SECRET_KEY"])[1], prefix)


@lru_cache(maxsize=1024)
def _avatar_key(secret: str, site_id: int) -> bytes:
    return privacy.derive_key(secret, f"avatar:{site_id}")


def avatar_for(site: Site, email: str) -> str:
    """A per-site avatar seed: the same person gets unrelated avatars on two sites."""
    key = _avatar_key(current_app.config["SECRET_KEY"], site.id)
    return privacy.keyed_digest(key, privacy.email_lookup_form(email))[:16]


def domain_hmac(domain: str) -> str:
    """The lookup digest of an email domain (domain bans)."""
    return privacy.keyed_digest(_keys(current_app.config["SECRET_KEY"])[0], "domain:" + domain.casefold())


def reader_fingerprint(client_ip: str | None, user_agent: str | None) -> str:
    """Who reported, as far as an anonymous reader can be told apart: IP prefix and browser, keyed."""
    prefix = privacy.ip_prefix(client_ip) or "-"
    return privacy.keyed_digest(_keys(current_app.config["SECRET_KEY"])[1], f"report|{prefix}|{user_agent or ''}")


def login_hmac(login: str) -> str:
    """The keyed digest of a moderator's login (its stored form, `moderators.email_key`): sign-in
    limits and device cookies name an account by it, never by the address."""
    key = privacy.derive_key(current_app.config["SECRET_KEY"], "moderator-login")
    return privacy.keyed_digest(key, login)
