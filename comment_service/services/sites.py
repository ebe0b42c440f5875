"""Site use cases: find, create, settings, API keys."""
from __future__ import annotations

import sqlalchemy as sa

from comment_service.errors import ApiError
from comment_service.extensions import db
from comment_service.models import Site
from comment_service.moderation.rules import Policy
from comment_service.moderation.status import ModerationMode


def get_site(slug: str) -> Site:
    """The site with this slug, or 404."""
    site = db.session.scalar(sa.select(Site).where(Site.slug == slug))
    if site is None:
        raise ApiError(404, "site_not_found", "No site with this id.")
    return site


def site_policy(site: Site) -> Policy:
    """The moderation policy a site's settings describe."""
    return Policy(mode=site.moderation_mode)


def create_site(slug: str, name: str, origins: list[str], mode: ModerationMode) -> Site:
    """Register a new site."""
    site = Site(slug=slug, name=name, allowed_origins=origins, moderation_mode=mode, settings={})
    db.session.add(site)
    db.session.commit()
    return site
