"""Moderators' emails in Chromium, in English and Arabic: a held comment's email (its HTML part, as
a mail client shows it) followed to its confirmation page (nothing changed yet), the button pressed
(approved, once), its unsubscribe link, and the account page's form driven by its labels, under the
package's rules (no CSP violation, script error or foreign request)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import g

from comment_service import services
from comment_service.dashboard.mail import compose
from comment_service.extensions import db
from comment_service.models import Comment, ModeratorSite
from comment_service.services import moderators
from comment_service.services.notices import Notice
from tests.browser.conftest import LiveServer
from tests.browser.test_dashboard import Desk, sign_in

WORDS = {
    "en": {"approve": "Approve", "title": "Approve this comment?", "button": "Approve this comment",
           "used": "This link has been used already", "stop": "Stop all emails from", "stop_button": "Stop emails from this site",
           "stopped": "Emails stopped"},
    "ar": {"approve": "قبول", "title": "أتقبل هذا التعليق؟", "button": "اقبل هذا التعليق",
           "used": "استُعمل هذا الرابط من قبل", "stop": "أوقف كل الرسائل من", "stop_button": "أوقف رسائل هذا الموقع",
           "stopped": "أُوقفت الرسائل"},
}
WELL_FORMED = """() => {
  const named = (el) => (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.textContent.trim();
  const controls = [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')];
  const ids = [...document.querySelectorAll('[id]')].map((el) => el.id);
  return {unnamed: controls.filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 80)),
          duplicateIds: ids.filter((id, i) => ids.indexOf(id) !== i), h1: document.querySelectorAll('h1').length};
}"""


@pytest.fixture
def public_url(live_server: LiveServer) -> Iterator[str]:
    """The emails' links point at the live server."""
    before = live_server.app.config["MAJLIS_PUBLIC_URL"]
    live_server.app.config["MAJLIS_PUBLIC_URL"] = live_server.url
    yield live_server.url
    live_server.app.config["MAJLIS_PUBLIC_URL"] = before


def held_email(live: LiveServer, desk: Desk, email: str, cid: int, lang: str) -> str:
    """The HTML part of the held-comment email this moderator gets (as the send job draws it)."""
    with live.app.app_context():
        g.lang = lang
        site, moderator = services.get_site(desk.slug), moderators.find_moderator(email)
        moderators.set_language(moderator, lang)  # the confirmation page speaks it too
        notice = Notice(1, "held", 1, site, moderator, db.session.get(ModeratorSite, (moderator.id, site.id)),
                        db.session.get(Comment, cid))
        return compose(notice).get_body(("html",)).get_content()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_approve_from_the_email_after_confirming(page: Any, live_server: LiveServer, public_url: str, unique: str,
                                                  lang: str):
    words = WORDS[lang]
    desk = Desk(live_server, unique + lang)
    email = desk.moderator("bilal")
    cid = desk.comment(f"Try the casino {unique}")
    page.set_content(held_email(live_server, desk, email, cid, lang))
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
    assert page.locator("mark").inner_text() == "casino"
    page.get_by_role("link", name=words["approve"], exact=True).click()
    page.wait_for_url("**/dashboard/act/**")
    act_url = page.url
    assert page.locator("h1").inner_text() == words["title"]
    assert page.locator("html").get_attribute("lang") == lang and page.locator("mark").inner_text() == "casino"
    assert page.evaluate(WELL_FORMED) == {"unnamed": [], "duplicateIds": [], "h1": 1}
    assert desk.status(cid) == "pending", "opening the link changes nothing"
    page.get_by_role("button", name=words["button"]).click()
    page.wait_for_selector("[role=status][data-status=approved]")
    assert desk.status(cid) == "approved"
    page.goto(act_url)  # once only
    assert words["used"] in page.locator("[role=alert]").inner_text()
    assert desk.status(cid) == "approved"


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_unsubscribe_from_the_email(page: Any, live_server: LiveServer, public_url: str, unique: str, lang: str):
    words = WORDS[lang]
    desk = Desk(live_server, unique + lang)
    email = desk.moderator("bilal")
    cid = desk.comment(f"Anything {unique}")
    page.set_content(held_email(live_server, desk, email, cid, lang))
    page.get_by_role("link", name=f"{words['stop']} Desk").click()
    page.wait_for_url("**/dashboard/alerts/off/**")
    page.get_by_role("button", name=words["stop_button"]).click()
    page.wait_for_selector(f"h1:has-text('{words['stopped']}')")
    with live_server.app.app_context():
        site, moderator = services.get_site(desk.slug), moderators.find_moderator(email)
        assert db.session.get(ModeratorSite, (moderator.id, site.id)).alerts == "none"


def test_choose_a_digest_on_the_account_page(page: Any, live_server: LiveServer, unique: str):
    desk = Desk(live_server, unique)
    email = desk.moderator("amal")
    sign_in(page, live_server, email)
    page.get_by_role("link", name="Email alerts").click()
    form = page.locator(f"#alerts-{desk.slug}")
    form.get_by_label("A digest of the comments that wait").check()
    form.get_by_label("Minutes between two digests").fill("3")
    form.get_by_role("button", name="Save").click()
    error = page.locator(f"#err-{desk.slug}-digest_minutes")
    assert error.inner_text() == "The time between two digests is 5 to 10080 minutes (a week)."
    assert page.get_by_label("Minutes between two digests").get_attribute("aria-invalid") == "true"
    assert page.evaluate(WELL_FORMED)["duplicateIds"] == [] and page.evaluate(WELL_FORMED)["unnamed"] == []
    page.get_by_label("Minutes between two digests").fill("90")
    page.locator(f"#alerts-{desk.slug}").get_by_role("button", name="Save").click()
    page.wait_for_selector(".flash-ok")
    assert page.locator(f"#alerts-{desk.slug}-digest").is_checked()
    with live_server.app.app_context():
        site, moderator = services.get_site(desk.slug), moderators.find_moderator(email)
        member = db.session.get(ModeratorSite, (moderator.id, site.id))
        assert (member.alerts, member.digest_minutes) == ("digest", 90)
