"""The moderator dashboard, /dashboard: server-rendered pages and a little plain JavaScript.

Views call the same services as the REST API. Every state-changing request carries a CSRF token
(a form field, or the X-CSRFToken header from the dashboard's script). Every answer under
/dashboard carries a strict Content-Security-Policy and is never cached (pages show emails): those
headers are set for the whole app in comment_service/security_headers.py.

The pages an email's links open (views_alerts: confirm a decision, unsubscribe) are the one
exception to the CSRF rule: their signed token is the credential (see _before).

The Blueprint is blueprint.bp; the views are the modules imported here (views_account,
views_admin, views_alerts, views_queue, views_webhooks); this module adds the request hooks and
error pages, and create_app registers `bp`.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import g, make_response, render_template, request, session
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Request

from comment_service.dashboard import (
    alerts,
    i18n,
    views_account,
    views_admin,
    views_alerts,
    views_queue,
    views_webhooks,
)
from comment_service.dashboard.auth import load_moderator, wants_json
from comment_service.dashboard.blueprint import bp, t
from comment_service.errors import ApiError, error_response, from_domain, retry_after, unexpected
from comment_service.extensions import csrf
from comment_service.models import utcnow
from comment_service.moderation.errors import DomainError
from comment_service.moderation.roles import ModeratorRole
from comment_service.security_headers import secure

VIEWS = (views_account, views_admin, views_alerts, views_queue, views_webhooks)  # the modules declaring routes on `bp`
JOBS = (alerts,)  # the module that registers the job sending moderators' emails
__all__ = ["VIEWS", "bp", "last_resort_page", "plain_error_page", "t"]
log = logging.getLogger(__name__)


@bp.before_request
def _before() -> None:
    """Who is asking, in which language; refuse a state change without a valid CSRF token."""
    g.moderator = load_moderator()
    g.lang = i18n.pick_language(g.moderator.language if g.moderator else None, session.get("lang"),
                                request.accept_languages)
    g.now = utcnow()
    # The pages an email's links open (views_alerts.TOKEN_ENDPOINTS) take no CSRF token, and cannot:
    # they are opened from a mail client, often in a browser that never had a session here (so was
    # never handed a token), and an RFC 8058 one-click unsubscribe is a POST the mail provider makes
    # itself, with no cookies at all. Their credential is the signed token in the address, bound to
    # one moderator, site and purpose (a decision's also to one comment, revision and action, for 24
    # hours, once): a forged cross-site POST would need that token, which is just what a CSRF token
    # would prove. And those views act as the token's moderator, never as whoever is signed in.
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.endpoint not in views_alerts.TOKEN_ENDPOINTS:
        csrf.protect()


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    lang = g.get("lang", i18n.DEFAULT)
    return {
        "_": t, "lang": lang, "dir": "rtl" if lang in i18n.RTL else "ltr", "moderator": g.get("moderator"),
        "is_admin": g.get("role") is ModeratorRole.ADMIN,
        "age": lambda when: i18n.age(lang, when, g.now) if when else "",
        "ago": lambda seconds: i18n.duration(lang, seconds, "ago"),
        "until": lambda when: i18n.until(lang, when, g.now) if when else "",
        "known_keys": i18n.catalog(i18n.DEFAULT),
        "plural_forms": lambda key: i18n.plural_forms(lang, key),
        "iso": lambda when: when.isoformat(timespec="seconds") if isinstance(when, datetime) else "",
    }


def _error_page(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    """The styled error page (scripts get JSON). If the page itself cannot be drawn (it shows who is
    signed in, which may need the database that just failed), the plain one."""
    if wants_json():
        return error_response(status, code, message, headers=headers)
    try:
        body = render_template("dashboard/error.html", status=status, message=message, code=code)
    except Exception:
        log.exception("could not render the error page; answering the plain one")
        body = plain_error_page(status, code, message, g.get("lang", i18n.DEFAULT), request.script_root)
    return body, status, headers or {}


def plain_error_page(status: int, code: str, message: str, lang: str, script_root: str = "") -> str:
    """The error page without templates, session or database: the dashboard's stylesheet, the
    message, a link home. For when the styled page cannot be drawn."""
    root = escape(script_root)
    return (
        f'<!doctype html>\n<html lang="{escape(lang)}" dir="{"rtl" if lang in i18n.RTL else "ltr"}">\n<head>\n'
        f'<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{status} · {escape(i18n.translate(lang, "app_name"))}</title>\n'
        f'<link rel="stylesheet" href="{root}/dashboard/static/dashboard.css">\n</head>\n<body>\n<main id="main">\n'
        f'<section class="card error-page">\n<h1>{status}</h1>\n'
        f'<p role="alert" data-code="{escape(code)}">{escape(message)}</p>\n'
        f'<p><a href="{root}/dashboard/">{escape(i18n.translate(lang, "back_to_dashboard"))}</a></p>\n'
        f'</section>\n</main>\n</body>\n</html>\n'
    )


def last_resort_page(status: int, code: str, req: Request) -> tuple[str, dict[str, str]]:
    """errors.LastResort's page for the dashboard: the plain page, with the dashboard's headers."""
    lang = req.accept_languages.best_match(i18n.LANGUAGES, default=i18n.DEFAULT)
    page = plain_error_page(status, code, i18n.translate(lang, f"http_{status}"), lang, req.script_root)
    return page, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> Any:
    key = f"error_{err.code}"
    message = t(key) if key in i18n.catalog(i18n.DEFAULT) else err.message
    return _error_page(err.status, err.code, message, err.headers)


@bp.errorhandler(DomainError)
def _domain_error(err: DomainError) -> Any:
    return _api_error(from_domain(err))


@bp.errorhandler(CSRFError)
def _csrf_error(err: CSRFError) -> Any:
    return _error_page(400, "csrf_failed", t("error_csrf"))


@bp.errorhandler(ValidationError)
def _validation_error(err: ValidationError) -> Any:
    return _error_page(422, "validation_failed", t("http_400"))


@bp.errorhandler(Exception)
def _unexpected(err: Exception) -> Any:
    status, code, _, headers = unexpected(err)
    return _error_page(status, code, t(f"http_{status}"), headers)


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Any:
    if isinstance(err, InternalServerError) and err.original_exception is not None:
        status, code, _, headers = unexpected(err.original_exception, logged=True)  # see errors.py
        return secure(make_response(_error_page(status, code, t(f"http_{status}"), headers)))
    status = err.code or 500
    key = f"http_{status}"
    message = t(key) if key in i18n.catalog(i18n.DEFAULT) else (err.name or "Error")
    headers = {}
    if status == 429:
        retry = retry_after()
        headers["Retry-After"] = str(retry)
        if request.endpoint == "dashboard.login" and not wants_json():
            page = render_template("dashboard/login.html", error=t("login_throttled", count=-(-retry // 60)),
                                   email=request.form.get("email", ""), next=request.args.get("next", ""))
            return page, 429, headers
    return _error_page(status, f"http_{status}", message, headers)
