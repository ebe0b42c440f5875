"""Device cookies: a browser that signed in to an account before may keep trying while that
account is locked against everyone else.

This is OWASP's defence against password guessing that does not lock the owner out ("Slow
Brute Force" / device cookies). A successful sign-in sets a signed, long-lived, HttpOnly cookie
naming the account (by a keyed digest, never by its address) and a random device id. Failed
sign-ins from a browser that holds such a cookie for the account being tried count against that
device only (`MAJLIS_LOGIN_DEVICE_RATE_LIMIT`); failures from anywhere else count against the
account (`MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT`). So someone guessing from their own browser locks
out only browsers that never signed in to the account, and the owner's usual browser still gets
in with the right password. A new cookie (a new device id) replaces the old one at every
successful sign-in, as OWASP recommends.
"""
from __future__ import annotations

import hmac
import secrets

from flask import Response, current_app, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from comment_service.services import moderators

COOKIE_NAME = "majlis_device"
_SALT = "majlis-device-cookie"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _lifetime() -> int:
    return int(current_app.config["MAJLIS_DEVICE_COOKIE_DAYS"] * 86400)


def remember(response: Response, email: str) -> None:
    """After a successful sign-in: mark this browser as one that signs in to this account."""
    value = _serializer().dumps({"a": moderators.login_digest(email), "d": secrets.token_urlsafe(16)})
    response.set_cookie(
        COOKIE_NAME, value, max_age=_lifetime(), path=url_for("dashboard.login"),
        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Strict",
    )


def device_for(email: str) -> str | None:
    """The id of this request's device cookie when it is valid and names the account `email`."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw or not email:
        return None
    try:
        data = _serializer().loads(raw, max_age=_lifetime())
    except BadSignature:  # tampered, signed with another key, or older than its lifetime
        return None
    if not isinstance(data, dict):
        return None
    account, device = data.get("a"), data.get("d")
    if not isinstance(account, str) or not isinstance(device, str) or not device:
        return None
    return device if hmac.compare_digest(account, moderators.login_digest(email)) else None
