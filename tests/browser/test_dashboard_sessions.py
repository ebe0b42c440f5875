"""Sessions in Chromium: signing out ends a copied cookie; guessing a password does not lock the
owner's usual browser out (device cookie), while the guesser's and a new browser get 429."""
from __future__ import annotations

from typing import Any

import pytest

from comment_service.extensions import limiter
from tests.browser.conftest import LiveServer
from tests.browser.test_dashboard import PASSWORD, Desk, sign_in


@pytest.fixture
def desk(live_server: LiveServer, unique: str) -> Desk:
    return Desk(live_server, unique)


def _try(page: Any, live: LiveServer, email: str, password: str) -> int:
    """Submit the sign-in form; the status of the answer to the POST."""
    page.goto(f"{live.url}/dashboard/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_response(lambda r: r.url.endswith("/dashboard/login") and r.request.method == "POST") as answer:
        page.click("button[type=submit]")
    return answer.value.status


def test_a_copied_session_cookie_is_refused_once_its_owner_signs_out(new_context, desk, live_server):
    owner_ctx, thief_ctx = new_context(), new_context()
    owner = owner_ctx.new_page()
    sign_in(owner, live_server, desk.moderator("amal"))
    stolen = [c for c in owner_ctx.cookies() if c["name"] == "majlis_session"]
    assert stolen and stolen[0]["httpOnly"]
    thief_ctx.add_cookies(stolen)
    thief = thief_ctx.new_page()
    assert thief.goto(desk.queue_url()).status == 200 and thief.url == desk.queue_url()
    owner.click("form[action$='/dashboard/logout'] button")
    owner.wait_for_url("**/dashboard/login")
    thief.goto(desk.queue_url())
    assert "/dashboard/login" in thief.url and thief.locator("#password").count() == 1


@pytest.fixture
def limits(live_server: LiveServer, monkeypatch):
    """The live server's limiter on (built with its hooks, it runs with them off): 3 failed sign-ins
    per account, and a per-address limit high enough for every browser here, all on 127.0.0.1."""
    for name, value in [("MAJLIS_LOGIN_RATE_LIMIT", "100 per minute"), ("MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT", "3 per minute"),
                        ("MAJLIS_LOGIN_DEVICE_RATE_LIMIT", "3 per minute")]:
        monkeypatch.setitem(live_server.app.config, name, value)
    monkeypatch.setattr(limiter, "enabled", True)
    limiter.reset()
    yield
    limiter.reset()


def test_guessing_locks_strangers_out_but_the_owners_browser_gets_in(new_context, desk, live_server, limits):
    email = desk.moderator("amal")
    owner_ctx = new_context()
    owner = owner_ctx.new_page()
    sign_in(owner, live_server, email)
    device = [c for c in owner_ctx.cookies() if c["name"] == "majlis_device"]
    assert device and device[0]["httpOnly"] and device[0]["sameSite"] == "Strict"
    assert device[0]["path"] == "/dashboard/login" and device[0]["expires"] > 0  # survives closing the browser
    owner.click("form[action$='/dashboard/logout'] button")
    owner.wait_for_url("**/dashboard/login")

    attacker = new_context().new_page()
    for i in range(3):
        assert _try(attacker, live_server, email, f"guess number {i}") == 401
    assert _try(attacker, live_server, email, PASSWORD) == 429
    assert "Too many failed sign-ins" in attacker.content()
    newcomer = new_context().new_page()
    assert _try(newcomer, live_server, email, PASSWORD) == 429

    assert _try(owner, live_server, email, PASSWORD) == 302  # the usual browser still signs in
    owner.wait_for_url("**/queues/pending")
    assert _try(attacker, live_server, email, PASSWORD) == 429
