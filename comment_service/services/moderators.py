"""Moderator accounts: create, sign in, which sites they may work on and in what role.

Passwords are hashed with Werkzeug (scrypt). Sign-in takes the same time whether or not the
email is known, so the login form does not tell an attacker which accounts exist.
"""
from __future__ import annotations

import secrets
from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from comment_service.extensions import db
from comment_service.models import Moderator, ModeratorSite, Site
from comment_service.moderation.errors import NotFound
from comment_service.moderation.roles import ModeratorRole
from comment_service.services import identity, outbox

PASSWORD_MIN = 10
LANGUAGES = ("ar", "en")


@cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so both paths cost one hash verification."""
    return generate_password_hash(secrets.token_urlsafe(16))


def email_key(email: str) -> str:
    """The form an email is stored and looked up in: trimmed and case-folded."""
    return email.strip().casefold()


def login_digest(email: str) -> str:
    """How sign-in limits and device cookies name the account an email signs in to (keyed)."""
    return identity.login_hmac(email_key(email))


def actor_id(moderator: Moderator) -> str:
    """How a moderator is named in claims and the audit log."""
    return f"mod:{moderator.id}"


def generate_password() -> str:
    """A random password for `--generate` and the demo account."""
    return secrets.token_urlsafe(15)


def find_moderator(email: str) -> Moderator | None:
    """The moderator with this email, if any."""
    return db.session.scalar(sa.select(Moderator).where(Moderator.email == email_key(email)))


def create_moderator(email: str, password: str, display_name: str | None = None) -> Moderator:
    """A new moderator account (no sites yet)."""
    if len(password) < PASSWORD_MIN:
        raise ValueError(f"the password must be at least {PASSWORD_MIN} characters")
    if find_moderator(email) is not None:
        raise ValueError(f"a moderator {email_key(email)!r} already exists")
    moderator = Moderator(
        email=email_key(email),
        password_hash=generate_password_hash(password),
        display_name=(display_name or email.split("@")[0]).strip()[:100] or "moderator",
    )
    db.session.add(moderator)
    db.session.commit()
    return moderator


def set_password(moderator: Moderator, password: str) -> None:
    """Replace a moderator's password (this also ends all their sessions)."""
    if len(password) < PASSWORD_MIN:
        raise ValueError(f"the password must be at least {PASSWORD_MIN} characters")
    moderator.password_hash = generate_password_hash(password)
    end_sessions(moderator)


def end_sessions(moderator: Moderator) -> None:
    """End every session of this moderator, on every browser: a session carries the version it
    started with, and the dashboard refuses it once they differ. One UPDATE adds one, so two
    sign-outs at once both count."""
    moderator.session_version = Moderator.session_version + 1
    db.session.commit()


def grant(moderator: Moderator, site: Site, role: ModeratorRole) -> ModeratorSite:
    """Give a moderator a role on a site (or change the role they have)."""
    membership = db.session.get(ModeratorSite, (moderator.id, site.id))
    if membership is None:
        membership = ModeratorSite(moderator_id=moderator.id, site_id=site.id, role=role)
        db.session.add(membership)
    else:
        membership.role = role
    db.session.flush()
    outbox.keep_site_events(site)  # a new moderator hears of held comments (alerts `each`)
    db.session.commit()
    return membership


def authenticate(email: str, password: str) -> Moderator | None:
    """The moderator these credentials belong to, or None (one hash check either way)."""
    moderator = find_moderator(email) if email else None
    if moderator is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return moderator if check_password_hash(moderator.password_hash, password) else None


def get_moderator(moderator_id: int) -> Moderator | None:
    """A moderator by id (the session keeps the id)."""
    return db.session.get(Moderator, moderator_id)


def sites_of(moderator: Moderator) -> list[tuple[Site, ModeratorRole]]:
    """The sites a moderator works on, with their role on each, by name."""
    rows = db.session.execute(
        sa.select(Site, ModeratorSite.role)
        .join(ModeratorSite, ModeratorSite.site_id == Site.id)
        .where(ModeratorSite.moderator_id == moderator.id)
        .order_by(Site.name, Site.slug)
    ).all()
    return [(site, role) for site, role in rows]


def site_for_moderator(moderator: Moderator, slug: str) -> tuple[Site, ModeratorRole]:
    """A site this moderator works on, with their role; 404 for any other (existing or not)."""
    row = db.session.execute(
        sa.select(Site, ModeratorSite.role)
        .join(ModeratorSite, ModeratorSite.site_id == Site.id)
        .where(ModeratorSite.moderator_id == moderator.id, Site.slug == slug)
    ).first()
    if row is None:
        raise NotFound("site_not_found", "No site with this id.")
    return row[0], row[1]


def set_language(moderator: Moderator, language: str | None) -> None:
    """Remember the interface language a moderator chose (None: follow the browser)."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}")
    moderator.language = language
    db.session.commit()


def display_names(actor_ids: set[str]) -> dict[str, str]:
    """Names of the moderators behind audit-log actors like "mod:12" (other actors are left out)."""
    ids = {int(a[4:]) for a in actor_ids if a and a.startswith("mod:") and a[4:].isdigit()}
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Moderator.id, Moderator.display_name).where(Moderator.id.in_(ids)))
    return {f"mod:{mid}": name for mid, name in rows}
