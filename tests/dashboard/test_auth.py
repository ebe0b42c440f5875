"""Signing in and out, the session cookie, CSRF, throttling, and who may open which site's pages."""
from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from comment_service.models import Comment, ModeratorRole
from comment_service.services import moderators
from config import settings as config_settings
from tests.conftest import db_get, post
from tests.dashboard.conftest import PASSWORD, csrf, decide, login, make_moderator

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def test_sign_in_sets_a_hardened_session_cookie_and_lands_on_the_queue(client, admin):
    r = login(client, admin.email)
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/"
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("majlis_session="))
    assert cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in testing and development
    r = client.get("/dashboard/")
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/sites/news/queues/pending"  # one site: straight in


def test_session_cookie_is_secure_in_production():
    env = {"SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite://"}
    prod = config_settings.ProductionConfig(env)
    assert prod.SESSION_COOKIE_SECURE and prod.SESSION_COOKIE_HTTPONLY and prod.SESSION_COOKIE_SAMESITE == "Lax"
    assert config_settings.TestingConfig(env).SESSION_COOKIE_SECURE is False


@pytest.mark.parametrize("email,password", [("amal@example.org", "wrong password!"), ("nobody@example.org", PASSWORD),
                                            ("AMAL@example.org ", "wrong password!"), ("", "")])
def test_a_failed_sign_in_says_the_same_whatever_was_wrong(client, admin, email, password):
    r = login(client, email, password)
    assert r.status_code == 401
    assert "do not match an account" in r.get_data(as_text=True)
    assert client.get("/dashboard/sites/news/queues/pending").status_code == 302


def test_email_is_case_insensitive(client, admin):
    assert login(client, "  Amal@Example.ORG").status_code == 302


def test_pages_send_you_to_sign_in_and_back(client, admin, site):
    r = client.get("/dashboard/sites/news/log?x=1")
    assert r.status_code == 302 and r.headers["Location"].startswith("/dashboard/login?next=")
    token = csrf(client, r.headers["Location"])
    r = client.post(r.headers["Location"], data={"email": admin.email, "password": PASSWORD, "csrf_token": token,
                                                 "next": "/dashboard/sites/news/log?x=1"})
    assert r.headers["Location"] == "/dashboard/sites/news/log?x=1"


@pytest.mark.parametrize("target", ["https://evil.example/dashboard/", "//evil.example/dashboard/", "/api/v1/sites",
                                    "javascript:alert(1)", "/dashboard\\@evil.example"])
def test_next_never_leaves_the_dashboard(client, admin, target):
    token = csrf(client)
    r = client.post("/dashboard/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token,
                                              "next": target})
    assert r.headers["Location"] == "/dashboard/"


LINE_BREAKS = ["/dashboard/\r\nSet-Cookie: pwned=1", "/dashboard/sites/news/log\nX-Injected: 1", "/dashboard/\r",
               "/dashboard/sites/news/log?text=a\u0085b", "/dashboard/\x7f"]


@pytest.mark.parametrize("target", LINE_BREAKS)
def test_a_next_with_a_line_break_or_control_is_refused_and_leads_home(client, admin, target):
    token = csrf(client, "/dashboard/login?" + urlencode({"next": target}))  # the form carries it back
    r = client.post("/dashboard/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token,
                                              "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/"
    assert "X-Injected" not in r.headers and "pwned" not in r.headers.get("Set-Cookie", "")
    # Signed in, the sign-in page sends you on at once: the same refusal, raw or percent-encoded in the query.
    for query in [{"next": target}, "next=" + quote(target, safe="/")]:
        r = client.get("/dashboard/login", query_string=query)
        assert r.status_code == 302 and r.headers["Location"] == "/dashboard/", query
    # The language switch goes back to its `next` the same way.
    token = csrf(client, "/dashboard/sites/news/log")
    r = client.post("/dashboard/language", data={"lang": "ar", "csrf_token": token, "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/"


def test_a_decision_whose_next_has_a_line_break_goes_back_to_the_queue(signed_in, held):
    r = decide(signed_in, held[0], "approve", next=LINE_BREAKS[0])
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/sites/news/queues/pending"
    assert db_get(Comment, held[0]).status.value == "approved"


def test_sign_out_needs_a_post_with_the_token(signed_in):
    assert signed_in.get("/dashboard/logout").status_code == 405
    assert signed_in.post("/dashboard/logout").status_code == 400  # no CSRF token
    token = csrf(signed_in, "/dashboard/sites/news/log")
    assert signed_in.post("/dashboard/logout", data={"csrf_token": token}).status_code == 302
    assert signed_in.get("/dashboard/sites/news/log").status_code == 302


def _sign_out(client) -> None:
    token = csrf(client, "/dashboard/sites/news/log")
    r = client.post("/dashboard/logout", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/login"


def test_a_copied_session_cookie_stops_working_once_its_owner_signs_out(app, signed_in):
    stolen = signed_in.get_cookie("majlis_session").value
    thief = app.test_client()
    thief.set_cookie("majlis_session", stolen)
    assert thief.get("/dashboard/sites/news/log").status_code == 200  # a copy works while the session lives
    _sign_out(signed_in)
    r = thief.get("/dashboard/sites/news/log")
    assert r.status_code == 302 and r.headers["Location"].startswith("/dashboard/login")
    r = thief.get("/dashboard/sites/news/log", headers={"Accept": "application/json"})
    assert r.status_code == 401
    signed_in.set_cookie("majlis_session", stolen)  # the owner's own old cookie, replayed
    assert signed_in.get("/dashboard/sites/news/log").status_code == 302


def test_signing_out_signs_you_out_everywhere_and_in_again(app, client, admin):
    laptop, phone = client, app.test_client()
    assert login(laptop, admin.email).status_code == 302 and login(phone, admin.email).status_code == 302
    _sign_out(laptop)
    assert phone.get("/dashboard/sites/news/log").status_code == 302
    assert login(phone, admin.email).status_code == 302  # a new sign-in starts a session that works
    assert phone.get("/dashboard/sites/news/log").status_code == 200


def test_changing_the_password_ends_other_sessions(ctx, signed_in, admin):
    assert signed_in.get("/dashboard/sites/news/log").status_code == 200
    with ctx:
        moderators.set_password(moderators.find_moderator(admin.email), "a brand new password")
    assert signed_in.get("/dashboard/sites/news/log").status_code == 302


def test_every_page_carries_the_security_headers(signed_in, held):
    for path in ["/dashboard/sites/news/queues/pending", "/dashboard/sites/news/log",
                 f"/dashboard/sites/news/comments/{held[0]}", "/dashboard/sites/news/settings", "/dashboard/static/dashboard.js"]:
        r = signed_in.get(path)
        assert r.status_code == 200, path
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "default-src 'none'" in csp
        for name, value in SECURITY.items():
            assert r.headers[name] == value, (path, name)
        if "static" not in path:
            assert r.headers["Cache-Control"] == "no-store"
        r.close()


def test_the_sign_in_page_carries_them_too(client):
    r = client.get("/dashboard/login")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script_or_style(signed_in, held):
    html = signed_in.get("/dashboard/sites/news/queues/pending").get_data(as_text=True)
    assert "<script>" not in html and "<style" not in html and " style=" not in html and " onclick" not in html


# --- CSRF ------------------------------------------------------------------------------------

def test_a_decision_without_the_csrf_token_is_refused_and_changes_nothing(signed_in, held):
    r = signed_in.post(f"/dashboard/sites/news/comments/{held[0]}/decision", data={"action": "approve", "revision": "1"})
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    r = signed_in.post(f"/dashboard/sites/news/comments/{held[0]}/decision",
                       data={"action": "approve", "revision": "1", "csrf_token": "forged"})
    assert r.status_code == 400
    assert db_get(Comment, held[0]).status.value == "pending"


def test_scripts_send_the_token_in_a_header(signed_in, held):
    token = csrf(signed_in, "/dashboard/sites/news/queues/pending")
    r = signed_in.post(f"/dashboard/sites/news/comments/{held[0]}/decision", data={"action": "approve", "revision": "1"},
                       headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert r.status_code == 200 and r.get_json()["status"] == "approved"


def test_the_csrf_failure_answers_json_to_scripts(signed_in, held):
    r = signed_in.post(f"/dashboard/sites/news/comments/{held[0]}/decision", data={"action": "approve", "revision": "1"},
                       headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"


def test_the_login_form_itself_needs_the_token(client, admin):
    r = client.post("/dashboard/login", data={"email": admin.email, "password": PASSWORD})
    assert r.status_code == 400


def test_the_api_is_not_touched_by_csrf(client, site):
    assert post(client).status_code == 201  # the widget's JSON writes need no token


# --- tenants and roles -----------------------------------------------------------------------

def test_a_moderator_of_one_site_gets_404_for_another(client, site, other_site, held):
    make_moderator("bilal@example.org", site)
    gazette_comment = post(client, slug="gazette").get_json()["comment"]["id"]
    login(client, "bilal@example.org")
    for path in ["/dashboard/sites/gazette/queues/pending", "/dashboard/sites/gazette/", "/dashboard/sites/gazette/log",
                 "/dashboard/sites/gazette/settings", f"/dashboard/sites/gazette/comments/{gazette_comment}",
                 f"/dashboard/sites/news/comments/{gazette_comment}", "/dashboard/sites/nosuchsite/queues/pending"]:
        assert client.get(path).status_code == 404, path
    token = csrf(client, "/dashboard/sites/news/queues/pending")
    for path in [f"/dashboard/sites/gazette/comments/{gazette_comment}/decision",
                 f"/dashboard/sites/news/comments/{gazette_comment}/decision"]:
        r = client.post(path, data={"action": "approve", "revision": "1", "csrf_token": token})
        assert r.status_code == 404, path
    assert db_get(Comment, gazette_comment).status.value == "pending"


def test_settings_are_for_admins_only(client, site, mod):
    login(client, mod.email)
    assert client.get("/dashboard/sites/news/settings").status_code == 403
    token = csrf(client, "/dashboard/sites/news/log")
    assert client.post("/dashboard/sites/news/settings", data={"csrf_token": token, "mode": "pre"}).status_code == 403
    assert client.post("/dashboard/sites/news/settings/keys", data={"csrf_token": token}).status_code == 403
    assert "/settings" not in client.get("/dashboard/sites/news/log").get_data(as_text=True)


def test_a_moderator_of_several_sites_chooses_one(client, site, other_site):
    make_moderator("amal@example.org", site, ModeratorRole.ADMIN)
    make_moderator("amal@example.org", other_site)
    login(client, "amal@example.org")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "The News" in page and "The Gazette" in page


# --- language --------------------------------------------------------------------------------

def test_language_follows_the_browser_then_the_moderators_choice(ctx, client, admin):
    page = client.get("/dashboard/login", headers={"Accept-Language": "ar,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "سجّل الدخول" in page
    page = client.get("/dashboard/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in page
    login(client, admin.email)
    token = csrf(client, "/dashboard/sites/news/log")
    client.post("/dashboard/language", data={"lang": "ar", "csrf_token": token, "next": "/dashboard/sites/news/log"})
    assert ctx(moderators.find_moderator, admin.email).language == "ar"
    page = client.get("/dashboard/sites/news/log", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'dir="rtl"' in page and "القرارات الأخيرة" in page
