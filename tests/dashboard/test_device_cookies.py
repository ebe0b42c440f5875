"""Guessing an account's password locks out strangers, not the owner's usual browser (device cookies).

Five wrong passwords from an attacker lock the account for browsers that never signed in to it
(429 with Retry-After, right password included, until the window ends); the owner's browser,
which holds the device cookie of an earlier sign-in, still gets in, and is itself limited per
device. Run against the in-process store and against a real Redis (database 11).
"""
from __future__ import annotations

import json
import time

import pytest
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from comment_service.extensions import limiter
from tests.dashboard.conftest import PASSWORD, csrf, login, make_moderator
from tests.netfaults import redis_db, redis_up

REDIS_URL = f"redis://127.0.0.1:6379/{redis_db(11)}"
COOKIE_NAME = "majlis_device"
OWNER_IP, ATTACKER_IP, NEW_IP = "203.0.113.7", "198.51.100.66", "192.0.2.80"



STORES = ["memory://", pytest.param(REDIS_URL, marks=pytest.mark.skipif(not redis_up(), reason="no Redis on :6379"))]


@pytest.fixture(params=STORES)
def app_config(request):
    """The shipped per-account and per-device limits (5 per 15 minutes), in memory and in Redis."""
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": request.param}


@pytest.fixture(autouse=True)
def _clean_limits(app):
    limiter.reset()
    yield
    limiter.reset()


def _sign_out(client: FlaskClient) -> None:
    client.post("/dashboard/logout", data={"csrf_token": csrf(client, "/dashboard/sites/news/log")})


def _owner_browser(app, email: str) -> FlaskClient:
    """A browser that signed in to the account before (and signed out): it holds the device cookie."""
    owner = app.test_client()
    assert login(owner, email, REMOTE_ADDR=OWNER_IP).status_code == 302
    _sign_out(owner)
    assert owner.get_cookie(COOKIE_NAME, path="/dashboard/login") is not None
    return owner


def test_five_wrong_passwords_lock_strangers_out_but_not_the_owners_browser(app, admin):
    owner = _owner_browser(app, admin.email)
    attacker = app.test_client()
    for i in range(5):
        assert login(attacker, admin.email, f"guess {i}", REMOTE_ADDR=ATTACKER_IP).status_code == 401
    # The attacker's browser is locked out, right password included.
    for password in ["guess 5", PASSWORD]:
        r = login(attacker, admin.email, password, REMOTE_ADDR=ATTACKER_IP)
        assert r.status_code == 429 and 800 <= int(r.headers["Retry-After"]) <= 901
    # So is a new browser from a new address: the account is locked for the window.
    r = login(app.test_client(), admin.email, PASSWORD, REMOTE_ADDR=NEW_IP)
    assert r.status_code == 429 and "Too many failed sign-ins" in r.get_data(as_text=True)
    # The owner's usual browser signs in with the right password and works.
    r = login(owner, admin.email, REMOTE_ADDR=OWNER_IP)
    assert r.status_code == 302 and owner.get("/dashboard/sites/news/log").status_code == 200
    # The attacker still gets 429.
    assert login(attacker, admin.email, PASSWORD, REMOTE_ADDR=ATTACKER_IP).status_code == 429
    if app.config["RATELIMIT_STORAGE_URI"] == REDIS_URL:  # the counters name the account by a keyed digest
        import redis

        store = redis.Redis.from_url(REDIS_URL)
        keys = b" ".join(store.keys("*")).decode()
        store.close()
        assert "login" in keys and "amal" not in keys and "example.org" not in keys


def test_the_owners_browser_is_limited_per_device(app, admin):
    owner = _owner_browser(app, admin.email)
    for i in range(5):
        assert login(owner, admin.email, f"typo {i}", REMOTE_ADDR=OWNER_IP).status_code == 401
    r = login(owner, admin.email, PASSWORD, REMOTE_ADDR=OWNER_IP)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 800
    # Its failures were its own: a browser that never signed in is not locked out by them.
    assert login(app.test_client(), admin.email, PASSWORD, REMOTE_ADDR=NEW_IP).status_code == 302


def test_a_device_cookie_only_helps_the_account_it_names_and_only_untampered(app, admin, site):
    other = make_moderator("bilal@example.org", site)
    bilal_browser = _owner_browser(app, other.email)
    attacker = app.test_client()
    for i in range(5):
        login(attacker, admin.email, f"guess {i}", REMOTE_ADDR=ATTACKER_IP)
    assert login(bilal_browser, admin.email, PASSWORD, REMOTE_ADDR=OWNER_IP).status_code == 429
    forged = app.test_client()
    value = bilal_browser.get_cookie(COOKIE_NAME, path="/dashboard/login").value
    forged.set_cookie(COOKIE_NAME, value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/dashboard/login")
    assert login(forged, admin.email, PASSWORD, REMOTE_ADDR=NEW_IP).status_code == 429
    assert login(bilal_browser, other.email, REMOTE_ADDR=OWNER_IP).status_code == 302  # its own account: fine


def test_the_device_cookie_is_hardened_and_names_no_email(client, admin):
    r = login(client, admin.email)
    cookies = [c for c in r.headers.getlist("Set-Cookie") if c.startswith(COOKIE_NAME + "=")]
    assert len(cookies) == 1
    cookie = cookies[0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard/login" in cookie
    assert f"Max-Age={90 * 86400}" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    _, payload = URLSafeTimedSerializer("anyone can read it").loads_unsafe(value)  # signed, not encrypted
    assert set(payload) == {"a", "d"} and len(payload["a"]) == 64  # a keyed digest of the account
    decoded = json.dumps(payload)
    assert "amal" not in decoded.casefold() and "example.org" not in decoded and "example.org" not in cookie


@pytest.fixture
def short_window(app):
    app.config["MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT"] = "5 per 2 seconds"


def test_a_new_browser_gets_in_once_the_window_ends(app, admin, short_window):
    attacker = app.test_client()
    for i in range(5):
        assert login(attacker, admin.email, f"guess {i}", REMOTE_ADDR=ATTACKER_IP).status_code == 401
    newcomer = app.test_client()
    assert login(newcomer, admin.email, PASSWORD, REMOTE_ADDR=NEW_IP).status_code == 429
    time.sleep(2.2)
    assert login(newcomer, admin.email, PASSWORD, REMOTE_ADDR=NEW_IP).status_code == 302
