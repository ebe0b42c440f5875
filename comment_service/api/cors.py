"""Cross-origin access to the public endpoints, only from each site's own allowed origins.

The allowed origins are per site and live in the database, so a generic CORS extension (which
takes a static list) cannot decide; this small module does, for this blueprint only.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, request

from comment_service.api.blueprint import bp
from comment_service.errors import ApiError
from comment_service.models import Site
from comment_service.services.sites import get_site, site_origins

ALLOW_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Content-Type, X-Edit-Token, If-None-Match, Idempotency-Key"
EXPOSE_HEADERS = "ETag, Retry-After"


def _site_origins() -> list[str] | None:
    """The current site's allowed origins (loaded once per request); None if there is no site."""
    if "site_origins" not in g:
        slug = (request.view_args or {}).get("site")
        g.site_origins = site_origins(slug) if slug else None
    return g.site_origins


def origin_allowed(origin: str, origins: list[str] | None) -> bool:
    """Exact, case-insensitive match of scheme://host[:port]."""
    return bool(origins) and origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in origins}


def public_site(slug: str, write: bool = False, found: Site | None = None) -> Site:
    """The site of a public endpoint (404 if none), its origins noted for the CORS answer; a write
    from a page of another origin is refused. `found`: the site with this slug, read already in this
    request (it is not read again)."""
    site = found if found is not None and found.slug == slug else get_site(slug)
    g.site_origins = site.allowed_origins
    if write:
        require_allowed_origin()
    return site


def public(write: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The view gets the Site of the slug in the URL as `site` (public_site: 404, and 403 for a
    write from another origin), before any of its input is read."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, site: str, **kwargs: Any) -> Any:
            return view(*args, site=public_site(site, write), **kwargs)

        return wrapper

    return decorator


def require_allowed_origin() -> None:
    """Refuse a browser write sent from a page of another origin (non-browser clients send none)."""
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, _site_origins()):
        raise ApiError(403, "origin_not_allowed", "This site does not accept comments from this origin.")


@bp.before_request
def _preflight() -> Response | None:
    """Answer CORS preflight requests for a site's public endpoints."""
    if request.method != "OPTIONS" or "site" not in (request.view_args or {}):
        return None
    origin = request.headers.get("Origin")
    if origin is None or not origin_allowed(origin, _site_origins()):
        raise ApiError(403, "origin_not_allowed", "This origin may not call this site's API.")
    resp = Response(status=204)
    resp.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
    resp.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    resp.headers["Access-Control-Max-Age"] = "600"
    return resp


@bp.after_request
def _cors_headers(resp: Response) -> Response:
    """Let an allowed origin read the answer (errors included, so the widget can show them)."""
    if "site" not in (request.view_args or {}):
        return resp
    if "Vary" in resp.headers:
        resp.vary.add("Origin")
    else:  # what vary.add gives an answer without Vary, without parsing and re-writing the header
        resp.headers["Vary"] = "Origin"
    origin = request.headers.get("Origin")
    if origin is not None and origin_allowed(origin, _site_origins()):
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return resp
