"""Who is signed in to the dashboard, and what they may open.

The session (a signed, HttpOnly, SameSite=Lax cookie) holds the moderator's id and the session
version the account had at sign-in. Signing out and changing the password bump the version, so
every copy of every session of that moderator stops working at once (the cookie itself cannot be
taken back: it is the server that refuses it). A site the moderator has
no role on is answered exactly like a site that does not exist (404); a page of a site they
moderate but do not administer is 403.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for

from comment_service.models import Moderator
from comment_service.moderation.roles import ModeratorRole
from comment_service.moderation.text import has_control_char
from comment_service.services import moderators


def sign_in(moderator: Moderator) -> None:
    """Start a fresh session for this moderator (a new CSRF token too)."""
    language = session.get("lang")
    session.clear()
    session.permanent = True
    session["mid"] = moderator.id
    session["sv"] = moderator.session_version
    if language:
        session["lang"] = language


def sign_out(moderator: Moderator | None) -> None:
    """End the session, and with it every other session of this moderator (on any browser)."""
    if moderator is not None:
        moderators.end_sessions(moderator)
    session.clear()


def load_moderator() -> Moderator | None:
    """The signed-in moderator, or None (also once they signed out or changed their password)."""
    mid = session.get("mid")
    if not isinstance(mid, int):
        return None
    moderator = moderators.get_moderator(mid)
    if moderator is None or session.get("sv") != moderator.session_version:
        session.clear()
        return None
    return moderator


def safe_next(target: str | None, default: str) -> str:
    """A dashboard path to go back to; anything else becomes `default`: another host, a scheme, a
    backslash, or a control character (CR/LF would break the Location header, and browsers drop
    tabs and newlines from URLs, which could turn a path into another host)."""
    if not target or has_control_char(target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard/"):
        return default
    return target


def wants_json() -> bool:
    """The dashboard's own scripts ask for JSON; browsers submitting forms get pages."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let only signed-in moderators in; others go to the sign-in page (scripts get 401)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.moderator is None:
            if wants_json() or request.method != "GET":
                abort(401)
            return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def site_access(admin: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Resolve the `<site>` of the URL to a site this moderator works on (404 otherwise); admin pages 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, site: str, **kwargs: Any) -> Any:
            site_obj, role = moderators.site_for_moderator(g.moderator, site)
            if admin and role is not ModeratorRole.ADMIN:
                abort(403)
            g.site, g.role = site_obj, role
            return view(*args, site=site_obj, **kwargs)

        return wrapper

    return decorate
