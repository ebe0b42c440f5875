"""The pages an email's links open, the account page of email alerts, the settings' time limit and
language, and `flask moderators alerts`.

A decision link never changes anything on GET; its POST decides once, as the link's moderator
(audit actor mod:<id>, note "email link"), with no session and no CSRF token; a used, tampered,
expired or stale link, or one of a moderator who left, is a page saying why, with nothing changed
and the link left unused."""
from __future__ import annotations

import re
import time

import itsdangerous.timed
import pytest
import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Comment, ModerationAction, ModeratorSite, UsedActionLink
from comment_service.moderation.audit import Actor
from comment_service.moderation.roles import ModeratorRole
from comment_service.moderation.status import Action
from comment_service.services import action_links, moderators, notices
from comment_service.services.sites import get_site, site_settings
from tests.conftest import auth, configure, db_rows, db_scalar, in_ctx, post
from tests.dashboard.conftest import csrf, decide, make_moderator

STALE = ("This comment changed since you opened it (another moderator decided, or its author edited it). "
         "Nothing was changed: reload to see it as it is now.")
ACCOUNT = "/dashboard/account/alerts"
SETTINGS = "/dashboard/sites/news/settings"


# --- helpers -----------------------------------------------------------------------------------------

@in_ctx
def decision_token(moderator, cid: int, action: str = "approve", revision: int = 1) -> str:
    return action_links.decision_token(moderator.id, get_site("news").id, cid, revision, Action(action))


@in_ctx
def unsubscribe_token(moderator) -> str:
    return action_links.unsubscribe_token(moderator.id, get_site("news").id)


def status(cid: int) -> str:
    return db_scalar(sa.select(Comment.status).where(Comment.id == cid)).value


def moderator_actions(cid: int) -> list[tuple]:
    return db_rows(sa.select(ModerationAction.actor_id, ModerationAction.note, ModerationAction.to_status)
                   .where(ModerationAction.comment_id == cid, ModerationAction.actor_type == Actor.MODERATOR)
                   .order_by(ModerationAction.id))


def used_links() -> int:
    return db_scalar(sa.select(sa.func.count()).select_from(UsedActionLink))


def alerts_of(moderator) -> tuple[str, int | None]:
    return tuple(db_rows(sa.select(ModeratorSite.alerts, ModeratorSite.digest_minutes)
                         .where(ModeratorSite.moderator_id == moderator.id))[0])


def unchanged(cid: int) -> None:
    assert status(cid) == "pending" and moderator_actions(cid) == [] and used_links() == 0


@in_ctx
def set_language(moderator, lang: str | None) -> None:
    moderators.set_language(moderators.get_moderator(moderator.id), lang)


@pytest.fixture
def browser(app):
    """A browser that never signed in (no cookies): how a link from an email is opened."""
    return app.test_client()


# --- GET: a confirmation page, nothing changed -------------------------------------------------------------

def test_a_link_opens_a_confirmation_page_and_changes_nothing(browser, held, mod):
    cid = held[0]
    url = f"/dashboard/act/{decision_token(mod, cid)}"
    for _ in range(2):
        r = browser.get(url)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
        page = r.get_data(as_text=True)
        assert "<h1>Approve this comment?</h1>" in page and "held 0" in page
        assert "You are acting as <bdi>Bilal</bdi>, moderator of <bdi>The News</bdi>" in page
        assert f'<form method="post" action="{url}"' in page and ">Approve this comment</button>" in page
        assert "csrf_token" not in page and "layla@example.org" not in page, "no CSRF token, no author email"
        assert "Sign out" not in page and "Set-Cookie" not in r.headers
    assert browser.head(url).status_code == 200
    unchanged(cid)


@pytest.mark.parametrize("action,title,button", [
    ("reject", "Reject this comment?", "Reject this comment"),
    ("spam", "Mark this comment as spam?", "Mark this comment as spam"),
])
def test_each_action_has_its_own_page(browser, held, mod, action, title, button):
    page = browser.get(f"/dashboard/act/{decision_token(mod, held[0], action)}").get_data(as_text=True)
    assert f"<h1>{title}</h1>" in page and f">{button}</button>" in page
    unchanged(held[0])


def test_the_page_shows_the_marked_span_and_the_reason_in_words(browser, client, held, mod):
    cid = post(client, body="Best casino in town").get_json()["comment"]["id"]
    page = browser.get(f"/dashboard/act/{decision_token(mod, cid)}").get_data(as_text=True)
    assert re.search(r"<mark [^>]*>casino</mark>", page) and "<strong>Suspect word</strong>" in page
    assert "style=" not in page.split("<main", 1)[1], "the page's CSP allows no inline style"


# --- POST: the decision, once --------------------------------------------------------------------------------

def test_the_button_approves_once_with_an_audit_row(app, browser, held, mod):
    cid = held[0]
    url = f"/dashboard/act/{decision_token(mod, cid)}"
    r = browser.post(url)  # no session, no CSRF token: the token is the credential
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "<h1>Approved.</h1>" in page and "Comment #<bdi>" in page and "is approved." in page
    assert 'href="/dashboard/sites/news/queues/pending"' in page
    assert status(cid) == "approved" and used_links() == 1
    assert moderator_actions(cid) == [(f"mod:{mod.id}", "email link", "approved")]
    for again in (app.test_client().post(url), browser.get(url)):  # used: refused, nothing changed
        assert again.status_code == 409
        assert "This link has been used already: each link works once." in again.get_data(as_text=True)
    assert moderator_actions(cid) == [(f"mod:{mod.id}", "email link", "approved")] and used_links() == 1


@pytest.mark.parametrize("action,done", [("reject", "rejected"), ("spam", "spam")])
def test_reject_and_spam_links(browser, held, mod, action, done):
    r = browser.post(f"/dashboard/act/{decision_token(mod, held[1], action)}", data={"reason": "off_topic"})
    assert r.status_code == 200 and status(held[1]) == done
    assert moderator_actions(held[1]) == [(f"mod:{mod.id}", "email link", done)]


def test_a_reject_link_asks_for_its_reason_as_the_dashboard_does(browser, held, mod):
    url = f"/dashboard/act/{decision_token(mod, held[1], 'reject')}"
    page = browser.get(url).get_data(as_text=True)
    assert 'name="reason"' in page and 'value="off_topic"' in page
    r = browser.post(url)  # no reason: asked again, nothing changed, the link still works
    assert r.status_code == 422 and status(held[1]) == "pending" and used_links() == 0
    assert 'aria-invalid="true"' in r.get_data(as_text=True)
    assert browser.post(url, data={"reason": "abuse"}).status_code == 200 and status(held[1]) == "rejected"
    assert db_scalar(sa.select(ModerationAction.reason_code).where(
        ModerationAction.comment_id == held[1], ModerationAction.to_status == "rejected")) == "abuse"


# --- refused links: a clear page, nothing changed -------------------------------------------------------------

def test_a_tampered_link_is_403_and_changes_nothing(browser, held, mod):
    token = decision_token(mod, held[0])
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other = decision_token(mod, held[1]).split(".")[0]  # another comment's payload with this signature
    for bad in (forged, other + "." + token.split(".", 1)[1], unsubscribe_token(mod), "nonsense"):
        for method in (browser.get, browser.post):
            r = method(f"/dashboard/act/{bad}")
            assert r.status_code == 403, (bad, r.status_code)
            page = r.get_data(as_text=True)
            assert 'data-code="link_invalid"' in page and "This link is not valid" in page
            assert 'href="/dashboard/"' in page
    unchanged(held[0])
    unchanged(held[1])


def test_an_expired_link_is_410_and_changes_nothing(browser, held, mod, monkeypatch):
    day_ago = time.time() - 24 * 3600 - 60
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: int(day_ago))
        token = decision_token(mod, held[0])
    for method in (browser.get, browser.post):
        r = method(f"/dashboard/act/{token}")
        assert r.status_code == 410
        page = r.get_data(as_text=True)
        assert 'data-code="link_expired"' in page and "links in an email work for 24 hours" in page
        assert f'href="/dashboard/sites/news/comments/{held[0]}"' in page, "where to decide instead"
    unchanged(held[0])


def test_a_comment_edited_since_the_email_is_409_with_the_dashboards_explanation(client, browser, ctx, site, mod,
                                                                                   signed_in):
    configure(ctx, "news", {"mode": "pre"})
    r = post(client, body="The first version.")
    cid, edit_token = r.get_json()["comment"]["id"], r.get_json()["edit_token"]
    url = f"/dashboard/act/{decision_token(mod, cid)}"  # the email showed revision 1
    edited = client.patch(f"/api/v1/sites/news/comments/{cid}", json={"body": "A second version."},
                          headers={"X-Edit-Token": edit_token})
    assert edited.status_code == 200, edited.get_json()
    assert db_scalar(sa.select(Comment.revision).where(Comment.id == cid)) == 2
    for method in (browser.get, browser.post):
        r = method(url)
        assert r.status_code == 409
        page = r.get_data(as_text=True)
        assert f'<p role="alert" data-code="stale_revision">{STALE}</p>' in page
    assert status(cid) == "pending" and moderator_actions(cid) == []
    assert used_links() == 0, "a refused use leaves the link unused"
    dashboard = decide(signed_in, cid, "approve", revision=1, json=True)  # the dashboard's own 409, word for word
    assert dashboard.status_code == 409 and dashboard.get_json()["error"]["message"] == STALE


def test_a_comment_decided_since_the_email_is_409_and_the_link_stays_unused(client, browser, held, mod, key):
    url = f"/dashboard/act/{decision_token(mod, held[0])}"
    r = client.post(f"/api/v1/sites/news/comments/{held[0]}/decision", headers=auth(key),
                    json={"action": "reject", "revision": 1, "reason": "spam_like"})
    assert r.status_code == 200
    r = browser.post(url)
    assert r.status_code == 409 and status(held[0]) == "rejected"
    assert f'<p role="alert" data-code="stale_revision">{STALE}</p>' in r.get_data(as_text=True)
    assert moderator_actions(held[0])[-1][1] is None and used_links() == 0


def test_a_comment_another_moderator_has_open_is_409_and_the_link_stays_unused(signed_in, browser, held, mod):
    assert signed_in.get("/dashboard/sites/news/queues/pending").status_code == 200  # Amal claims the queue
    r = browser.post(f"/dashboard/act/{decision_token(mod, held[0])}")
    assert r.status_code == 409
    assert "Another moderator has this comment open." in r.get_data(as_text=True)
    unchanged(held[0])


def test_a_moderator_who_left_the_site_cannot_use_their_link(ctx, browser, held, mod):
    url = f"/dashboard/act/{decision_token(mod, held[0])}"
    with ctx:
        db.session.delete(db.session.get(ModeratorSite, (mod.id, get_site("news").id)))
        db.session.commit()
    for method in (browser.get, browser.post):
        r = method(url)
        assert r.status_code == 403
        assert "You no longer moderate this site" in r.get_data(as_text=True)
    unchanged(held[0])


# --- the page's language ----------------------------------------------------------------------------------

def test_the_page_speaks_the_links_moderator_language(ctx, browser, held, mod):
    url = f"/dashboard/act/{decision_token(mod, held[0])}"
    english = {"Accept-Language": "en"}
    set_language(mod, "ar")
    page = browser.get(url, headers=english).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "أتقبل هذا التعليق؟" in page and ">اقبل هذا التعليق</button>" in page
    set_language(mod, None)
    configure(ctx, "news", {"language": "ar"})  # no choice of their own: the site's language
    assert "أتقبل هذا التعليق؟" in browser.get(url, headers=english).get_data(as_text=True)
    configure(ctx, "news", {"language": "en"})
    assert "Approve this comment?" in browser.get(url, headers={"Accept-Language": "ar"}).get_data(as_text=True)
    set_language(mod, "ar")
    done = browser.post(url).get_data(as_text=True)
    assert "قُبل التعليق رقم" in done
    used = browser.post(url)
    assert used.status_code == 409 and "استُعمل هذا الرابط من قبل" in used.get_data(as_text=True)
    tampered = browser.get(url + "x", headers={"Accept-Language": "ar"})  # whose? the browser's language
    assert tampered.status_code == 403 and "هذا الرابط غير صالح" in tampered.get_data(as_text=True)


# --- unsubscribe ------------------------------------------------------------------------------------------

def test_unsubscribe_asks_on_get_and_stops_emails_on_post(browser, held, mod):
    url = f"/dashboard/alerts/off/{unsubscribe_token(mod)}"
    r = browser.get(url)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Stop emails from <bdi>The News</bdi>?" in page
    assert f'<form method="post" action="{url}">' in page and "csrf_token" not in page
    assert alerts_of(mod) == ("each", None), "GET changes nothing"
    r = browser.post(url, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "You will get no more emails about <bdi>The News</bdi>." in r.get_data(as_text=True)
    assert alerts_of(mod) == ("none", None)
    assert "You get no emails from <bdi>The News</bdi> already." in browser.get(url).get_data(as_text=True)


def test_one_click_unsubscribe_works_without_cookies_and_twice(app, ctx, held, mod):
    with ctx:
        notices.set_alerts(db.session.get(ModeratorSite, (mod.id, get_site("news").id)), "digest", 30)
    url = f"/dashboard/alerts/off/{unsubscribe_token(mod)}"
    for _ in range(2):  # a mail provider's POST (RFC 8058): form data, no cookies, no CSRF token
        r = app.test_client().post(url, data="List-Unsubscribe=One-Click",
                                   content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200
        assert alerts_of(mod) == ("none", None)


def test_a_tampered_unsubscribe_link_is_403(browser, held, mod):
    token = unsubscribe_token(mod)
    for bad in (token[:-3] + "xyz", decision_token(mod, held[0])):
        for method in (browser.get, browser.post):
            r = method(f"/dashboard/alerts/off/{bad}")
            assert r.status_code == 403 and "This link is not valid" in r.get_data(as_text=True)
    assert alerts_of(mod) == ("each", None)


def test_other_dashboard_posts_still_need_their_csrf_token(client, signed_in, site):
    r = signed_in.post(ACCOUNT, data={"site": "news", "alerts": "none"})
    assert r.status_code == 400 and "This form has expired" in r.get_data(as_text=True)


# --- the account page -------------------------------------------------------------------------------------

def save_alerts(client, **data):
    return client.post(ACCOUNT, data={"csrf_token": csrf(client, ACCOUNT), "site": "news", **data})


def test_the_account_page_lists_each_site_with_its_choice(signed_in, admin, other_site):
    make_moderator(admin.email, other_site, ModeratorRole.MODERATOR)
    assert 'href="/dashboard/account/alerts"' in signed_in.get("/dashboard/").get_data(as_text=True)
    page = signed_in.get(ACCOUNT).get_data(as_text=True)
    assert page.index("The Gazette") < page.index("The News")  # by name
    for slug in ("news", "gazette"):
        assert f'<input type="hidden" name="site" value="{slug}">' in page
        assert re.search(rf'value="each" id="alerts-{slug}-each" checked', page)
        assert f'id="digest-{slug}" name="digest_minutes"' in page
    assert "amal@example.org" in page


def test_choosing_a_digest_or_nothing_is_saved(signed_in, admin, site):
    r = save_alerts(signed_in, alerts="digest", digest_minutes="30")
    assert r.status_code == 302 and r.headers["Location"] == f"{ACCOUNT}#alerts-news"
    assert alerts_of(admin) == ("digest", 30)
    page = signed_in.get(ACCOUNT).get_data(as_text=True)
    assert "Email alerts for The News saved." in page and 'value="digest" id="alerts-news-digest" checked' in page
    assert 'value="30"' in page
    assert save_alerts(signed_in, alerts="none", digest_minutes="30").status_code == 302
    assert alerts_of(admin) == ("none", None)
    assert save_alerts(signed_in, alerts="each", digest_minutes="nonsense").status_code == 302  # ignored
    assert alerts_of(admin) == ("each", None)


@pytest.mark.parametrize("data,field,en,ar", [
    ({"alerts": "digest", "digest_minutes": "4"}, "digest_minutes",
     "The time between two digests is 5 to 10080 minutes (a week).", "الفاصل بين ملخّصَين من 5 إلى 10080 دقيقة (أسبوع)."),
    ({"alerts": "digest", "digest_minutes": "10081"}, "digest_minutes",
     "The time between two digests is 5 to 10080 minutes (a week).", "الفاصل بين ملخّصَين من 5 إلى 10080 دقيقة (أسبوع)."),
    ({"alerts": "digest", "digest_minutes": "half an hour"}, "digest_minutes",
     "Give a whole number of minutes, like 60.", "أدخل عددًا صحيحًا من الدقائق، مثل 60."),
    ({"alerts": "digest", "digest_minutes": ""}, "digest_minutes",
     "Say how many minutes between two digests (5 to 10080).", "حدّد عدد الدقائق بين ملخّصَين (من 5 إلى 10080)."),
    ({"alerts": "sometimes"}, "alerts", "Must be one of: each, digest, none.", "اختر أحد الخيارات."),
])
def test_an_invalid_choice_says_what_is_wrong_beside_the_field(signed_in, admin, site, data, field, en, ar):
    for lang, message, invalid in (("en", en, "nothing was saved"), ("ar", ar, "لم يُحفظ شيء")):
        set_language(admin, lang)
        r = save_alerts(signed_in, **data)
        assert r.status_code == 422
        page = r.get_data(as_text=True)
        assert invalid in page
        assert f'<p class="field-error" id="err-news-{field}">{message}</p>' in page
        assert f'aria-invalid="true" aria-describedby="err-news-{field}"' in page
        assert alerts_of(admin) == ("each", None)


def test_the_account_page_needs_a_session_and_a_site_of_ones_own(client, signed_in, other_site):
    assert save_alerts(signed_in, site="gazette", alerts="none").status_code == 404
    signed_in.post("/dashboard/logout", data={"csrf_token": csrf(signed_in, ACCOUNT)})
    r = client.get(ACCOUNT)
    assert r.status_code == 302 and r.headers["Location"].startswith("/dashboard/login")


# --- the site's settings: the queue's time limit and the emails' language --------------------------------------

VALID = {"mode": "pre", "banned_words": "", "suspect_words": "", "link_limit": "1", "edit_window_minutes": "10",
         "report_threshold": "4", "auto_close_days": "", "allowed_origins": "https://news.example"}


@in_ctx
def settings() -> dict:
    return site_settings(get_site("news"))


def save_settings(client, **changes):
    return client.post(SETTINGS, data={**VALID, "csrf_token": csrf(client, SETTINGS), **changes})


def test_the_settings_page_sets_the_time_limit_and_the_language(signed_in, site):
    page = signed_in.get(SETTINGS).get_data(as_text=True)
    assert 'id="sla_minutes" name="sla_minutes"' in page and '<option value="en" lang="en" selected>' in page
    assert save_settings(signed_in, sla_minutes="45", language="ar").status_code == 302
    assert settings()["sla_minutes"] == 45 and settings()["language"] == "ar"
    page = signed_in.get(SETTINGS).get_data(as_text=True)
    assert 'value="45"' in page and '<option value="ar" lang="ar" selected>' in page
    assert save_settings(signed_in, sla_minutes=" ").status_code == 302  # empty: no limit; language kept
    assert settings()["sla_minutes"] is None and settings()["language"] == "ar"


@pytest.mark.parametrize("field,value,message", [
    ("sla_minutes", "4", "Must be between 5 and 10080."),
    ("sla_minutes", "10081", "Must be between 5 and 10080."),
    ("sla_minutes", "an hour", "Must be a whole number."),
    ("language", "fr", "Must be one of: ar, en."),
])
def test_invalid_time_limit_or_language_is_refused_beside_the_field(signed_in, site, field, value, message):
    before = settings()
    r = save_settings(signed_in, **{field: value})
    assert r.status_code == 422
    assert f'<p class="field-error" id="err-{field}-1">{message}</p>' in r.get_data(as_text=True).replace("\n  ", "")
    assert settings() == before


# --- flask moderators alerts --------------------------------------------------------------------------------

def test_the_cli_sets_a_moderators_alerts(runner, mod):
    r = runner.invoke(args=["moderators", "alerts", "Bilal@Example.org", "news", "--digest", "45"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "bilal@example.org gets a digest every 45 minutes about news"
    assert alerts_of(mod) == ("digest", 45)
    r = runner.invoke(args=["moderators", "alerts", "bilal@example.org", "news", "--none"])
    assert r.exit_code == 0 and alerts_of(mod) == ("none", None) and "gets no email about news" in r.output
    r = runner.invoke(args=["moderators", "alerts", "bilal@example.org", "news", "--each"])
    assert r.exit_code == 0 and alerts_of(mod) == ("each", None)


@pytest.mark.parametrize("args,error", [
    (["nobody@example.org", "news", "--none"], "no moderator 'nobody@example.org'"),
    (["bilal@example.org", "nope", "--none"], "no site 'nope'"),
    (["bilal@example.org", "gazette", "--none"], "bilal@example.org does not work on gazette"),
    (["bilal@example.org", "news"], "choose one of --each, --digest MINUTES and --none"),
    (["bilal@example.org", "news", "--each", "--digest", "30"], "choose one of --each, --digest MINUTES and --none"),
    (["bilal@example.org", "news", "--digest", "4"], "4 is not in the range 5<=x<=10080"),
])
def test_the_cli_says_what_is_wrong(runner, mod, other_site, args, error):
    r = runner.invoke(args=["moderators", "alerts", *args])
    assert r.exit_code != 0 and error in r.output, r.output
    assert alerts_of(mod) == ("each", None)
