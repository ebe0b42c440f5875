"""The moderator dashboard, /dashboard: server-rendered pages and a little plain JavaScript.

Views call the same services as the REST API. Every state-changing request carries a CSRF token
(a form field, or the X-CSRFToken header from the dashboard's script). Every answer under
/dashboard carries a strict Content-Security-Policy and is never cached (pages show emails): those
headers are set for the whole app in comment_service/security_headers.py.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, g, render_template, request, session
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from comment_service.dashboard import i18n
from comment_service.dashboard.auth import load_moderator, wants_json
from comment_service.errors import ApiError, error_response, retry_after
from comment_service.extensions import csrf
from comment_service.models import utcnow
from comment_service.security_headers import DASHBOARD_PREFIX

bp = Blueprint(
    "dashboard", __name__, url_prefix=DASHBOARD_PREFIX, template_folder="templates", static_folder="static",
    static_url_path="/static",
)


def t(key: str, count: int | None = None, **values: Any) -> str:
    """A message in the current request's language."""
    return i18n.translate(g.get("lang", i18n.DEFAULT), key, count, **values)


@bp.before_request
def _before() -> None:
    """Who is asking, in which language; refuse a state change without a valid CSRF token."""
    # `g` outlives a request when an app context was already pushed (the test suite does that):
    # start clean, so neither a failed sign-in nor a CSRF token of another session carries over.
    for name in ("login_failed", current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")):
        g.pop(name, None)
    g.moderator = load_moderator()
    g.lang = i18n.pick_language(g.moderator.language if g.moderator else None, session.get("lang"),
                                request.accept_languages)
    g.now = utcnow()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    lang = g.get("lang", i18n.DEFAULT)
    return {
        "_": t, "lang": lang, "dir": "rtl" if lang in i18n.RTL else "ltr", "moderator": g.get("moderator"),
        "age": lambda when: i18n.age(lang, when, g.now) if when else "",
        "ago": lambda seconds: i18n.duration(lang, seconds, "ago"),
        "known_keys": i18n.catalog(i18n.DEFAULT),
        "plural_forms": lambda key: i18n.plural_forms(lang, key),
        "iso": lambda when: when.isoformat(timespec="seconds") if isinstance(when, datetime) else "",
    }


def _error_page(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    if wants_json():
        return error_response(status, code, message, headers=headers)
    body = render_template("dashboard/error.html", status=status, message=message, code=code)
    return body, status, headers or {}


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> Any:
    key = f"error_{err.code}"
    message = t(key) if key in i18n.catalog(i18n.DEFAULT) else err.message
    return _error_page(err.status, err.code, message, err.headers)


@bp.errorhandler(CSRFError)
def _csrf_error(err: CSRFError) -> Any:
    return _error_page(400, "csrf_failed", t("error_csrf"))


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Any:
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


from comment_service.dashboard import views_account, views_admin, views_queue  # noqa: E402,F401  (routes register on import)
