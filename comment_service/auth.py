"""Who may call the moderation API: a site's own API key, for that site only."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from comment_service.errors import ApiError
from comment_service.moderation.errors import NotFound
from comment_service.services.sites import site_for_key


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_site_key(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let the view run only with an active API key of the site in the URL.

    A missing or unknown key is 401. A valid key of another site is answered exactly like an
    unknown site (404): one site's key never learns whether another site or object exists.
    """

    @wraps(view)
    def wrapper(*args: Any, site: str, **kwargs: Any) -> Any:
        key = _bearer()
        if key is None:
            raise ApiError(401, "unauthorized", "Send your site's API key as `Authorization: Bearer <key>`.",
                           headers={"WWW-Authenticate": 'Bearer realm="majlis"'})
        owner = site_for_key(key)
        if owner is None:
            raise ApiError(401, "invalid_api_key", "This API key is not valid (revoked or mistyped).",
                           headers={"WWW-Authenticate": 'Bearer realm="majlis", error="invalid_token"'})
        if owner.slug != site:
            raise NotFound("site_not_found", "No site with this id.")
        g.site = owner
        g.actor = f"key:{key[:12]}"
        return view(*args, site=owner, **kwargs)

    return wrapper
