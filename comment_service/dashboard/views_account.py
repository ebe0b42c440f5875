"""Signing in and out, the interface language, and the list of a moderator's sites."""
from __future__ import annotations

from typing import Any

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from comment_service.dashboard import devices, i18n
from comment_service.dashboard.auth import login_required, safe_next, sign_in, sign_out
from comment_service.dashboard.blueprint import bp, t
from comment_service.extensions import limiter
from comment_service.moderation.status import Queue
from comment_service.services import moderators


def _login_ip_limit() -> str:
    return current_app.config["MAJLIS_LOGIN_RATE_LIMIT"]


def _login_account_limit() -> str:
    return current_app.config["MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT"]


def _login_device_limit() -> str:
    return current_app.config["MAJLIS_LOGIN_DEVICE_RATE_LIMIT"]


def _email() -> str:
    return request.form.get("email", "")


def _account_key() -> str:
    """Throttle by the account being guessed at, whichever addresses the guesses come from."""
    return "login:" + moderators.login_digest(_email())


def _device_key() -> str:
    return "login-device:" + (devices.device_for(_email()) or "-")


def _known_device() -> bool:
    """This browser signed in to the account being tried before (devices.py)."""
    return devices.device_for(_email()) is not None


def _unknown_device() -> bool:
    return not _known_device()


def _failed(response: Any) -> bool:
    """Only failed sign-ins use up the limits; a moderator who signs in often is never throttled."""
    return bool(g.get("login_failed"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"], deduct_when=_failed)
# Per account for browsers that never signed in to it; per device for those that did, so guessing
# locks out strangers but not the owner's usual browser (devices.py).
@limiter.limit(_login_account_limit, key_func=_account_key, methods=["POST"], deduct_when=_failed,
               exempt_when=_known_device)
@limiter.limit(_login_device_limit, key_func=_device_key, methods=["POST"], deduct_when=_failed,
               exempt_when=_unknown_device)
def login() -> ResponseReturnValue:
    """Sign in with email and password."""
    target = safe_next(request.values.get("next"), url_for("dashboard.index"))
    if request.method == "GET":
        if g.moderator is not None:
            return redirect(target)
        return render_template("dashboard/login.html", email="", next=request.args.get("next", ""), error=None)
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    moderator = moderators.authenticate(email, password) if email and password else None
    if moderator is None:
        g.login_failed = True
        page = render_template("dashboard/login.html", email=email, next=request.form.get("next", ""),
                               error=t("login_failed"))
        return page, 401
    sign_in(moderator)
    response = redirect(target)
    devices.remember(response, email)
    return response


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out, everywhere: every copy of every session of this moderator ends."""
    sign_out(g.moderator)
    return redirect(url_for("dashboard.login"))


@bp.post("/language")
def language() -> ResponseReturnValue:
    """Switch the interface language (saved on the moderator's account when signed in)."""
    lang = request.form.get("lang")
    if lang not in i18n.LANGUAGES:
        lang = None
    session["lang"] = lang
    if g.moderator is not None:
        moderators.set_language(g.moderator, lang)
    return redirect(safe_next(request.form.get("next"), url_for("dashboard.index")))


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    """The sites this moderator works on (straight to the queue when there is only one)."""
    sites = moderators.sites_of(g.moderator)
    if len(sites) == 1:
        return redirect(url_for("dashboard.queue", site=sites[0][0].slug, queue=Queue.PENDING.value))
    return render_template("dashboard/sites.html", sites=sites)


@bp.get("/sites/<slug:site>/")
@login_required
def site_home(site: str) -> ResponseReturnValue:
    """A site's dashboard starts at its pending queue."""
    moderators.site_for_moderator(g.moderator, site)
    return redirect(url_for("dashboard.queue", site=site, queue=Queue.PENDING.value))
