"""Site use cases: find, create, settings, API keys."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Site, SiteApiKey, utcnow
from comment_service.moderation import privacy
from comment_service.moderation.errors import NotFound
from comment_service.moderation.rules import Policy
from comment_service.moderation.status import ModerationMode

# Every public request starts with one of these: built once, so SQLAlchemy neither builds nor
# keys them again per request (a statement object memoises its cache key).
_SITE_BY_SLUG = sa.select(Site).where(Site.slug == sa.bindparam("p_slug", type_=sa.String))
_ORIGINS_BY_SLUG = sa.select(Site.allowed_origins).where(Site.slug == sa.bindparam("p_slug", type_=sa.String))


def find_site(slug: str) -> Site | None:
    """The site with this slug, if any."""
    return db.session.scalar(_SITE_BY_SLUG, {"p_slug": slug})


def site_origins(slug: str) -> list[str] | None:
    """A site's allowed origins (CORS), or None when there is no such site: one narrow read."""
    return db.session.scalar(_ORIGINS_BY_SLUG, {"p_slug": slug})


def list_sites() -> list[Site]:
    """Every site, by slug."""
    return list(db.session.scalars(sa.select(Site).order_by(Site.slug)))


def add_origins(site: Site, origins: list[str]) -> None:
    """Allow these origins too (the ones it has stay)."""
    if not set(origins) <= set(site.allowed_origins):
        site.allowed_origins = sorted(set(site.allowed_origins) | set(origins))
        db.session.commit()


def get_site(slug: str) -> Site:
    """The site with this slug, or 404."""
    site = find_site(slug)
    if site is None:
        raise NotFound("site_not_found", "No site with this id.")
    return site


# Settings a site has until its admins change them (DESIGN.md section 5).
DEFAULT_SETTINGS: dict[str, Any] = {
    "link_limit": 2,
    "banned_words": [],
    "suspect_words": [],
    "hold_first_time": False,
    "edit_window_minutes": 15,
    "report_threshold": 3,
    "auto_close_days": None,
    # The language of the site's emails to its moderators, unless one chose their own (ar, en).
    "language": "en",
    # Minutes the oldest pending comment may wait before the site's moderators are alerted (None: off).
    "sla_minutes": None,
}


def site_settings(site: Site) -> dict[str, Any]:
    """Every setting of a site, defaults filled in."""
    return {
        "mode": site.moderation_mode.value,
        "allowed_origins": list(site.allowed_origins),
        **DEFAULT_SETTINGS,
        **{k: v for k, v in (site.settings or {}).items() if k in DEFAULT_SETTINGS},
    }


def update_settings(site: Site, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply validated changes (any subset of the settings) and return the whole new settings."""
    stored = dict(site.settings or {})
    for name, value in changes.items():
        if name == "mode":
            site.moderation_mode = ModerationMode(value)
        elif name == "allowed_origins":
            site.allowed_origins = list(value)
        else:
            stored[name] = value
    site.settings = stored  # a new dict, so the JSON column is seen as changed
    db.session.commit()
    return site_settings(site)


def site_policy(site: Site, settings: dict[str, Any] | None = None) -> Policy:
    """The moderation policy a site's settings describe (`settings`: site_settings(site), if at hand)."""
    settings = settings if settings is not None else site_settings(site)
    return Policy(
        mode=site.moderation_mode,
        link_limit=settings["link_limit"],
        banned_words=tuple(settings["banned_words"]),
        suspect_words=tuple(settings["suspect_words"]),
        hold_first_time=settings["hold_first_time"],
    )


def create_site(slug: str, name: str, origins: list[str], mode: ModerationMode) -> Site:
    """Register a new site."""
    site = Site(slug=slug, name=name, allowed_origins=origins, moderation_mode=mode, settings={})
    db.session.add(site)
    db.session.commit()
    return site


KEY_PREFIX = "mjl_"


def issue_api_key(site: Site) -> str:
    """Create a new API key for the site and return it; only its digest is stored."""
    key = KEY_PREFIX + privacy.new_token()
    db.session.add(SiteApiKey(site_id=site.id, prefix=key[:12], key_hash=privacy.token_digest(key)))
    db.session.commit()
    return key


def revoke_api_keys(site: Site, prefix: str | None = None, keep: str | None = None) -> int:
    """Revoke the site's keys (those starting with prefix, or all but `keep`); return how many."""
    stmt = sa.select(SiteApiKey).where(SiteApiKey.site_id == site.id, SiteApiKey.revoked_at.is_(None))
    if prefix is not None:
        stmt = stmt.where(SiteApiKey.prefix == prefix[:12])
    revoked = 0
    for row in db.session.scalars(stmt):
        if keep is not None and row.key_hash == privacy.token_digest(keep):
            continue
        row.revoked_at = utcnow()
        revoked += 1
    db.session.commit()
    return revoked


# Every moderation request starts here: built once, so SQLAlchemy keeps its compiled form and
# psycopg prepares it on the server.
_SITE_BY_KEY = (
    sa.select(Site, SiteApiKey.key_hash)
    .join(SiteApiKey, SiteApiKey.site_id == Site.id)
    .where(SiteApiKey.key_hash == sa.bindparam("p_digest", type_=sa.String), SiteApiKey.revoked_at.is_(None))
)


def site_for_key(key: str) -> Site | None:
    """The site an active API key belongs to, or None."""
    row = db.session.execute(_SITE_BY_KEY, {"p_digest": privacy.token_digest(key)}).first()
    if row is None or not privacy.tokens_match(key, row.key_hash):
        return None
    return row.Site
