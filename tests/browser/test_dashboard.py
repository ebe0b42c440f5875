"""The moderator dashboard in Chromium: sign in, highlighted reasons, keyboard decisions, bulk, claims,
stale refusals, tenant isolation, CSRF, and screenshots of the queue in English and Arabic.

Each test makes its own site (pre-moderated, with a suspect word list) and moderators on the live
server of tests/browser/conftest.py, so it shares nothing with the widget's tests.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from comment_service import services
from comment_service.extensions import db
from comment_service.models import Comment
from comment_service.moderation.audit import Actor
from comment_service.moderation.roles import ModeratorRole
from comment_service.moderation.status import Action, ModerationMode
from comment_service.services import changes, moderation, moderators
from comment_service.services.sites import update_settings
from tests.browser.conftest import ARTIFACTS, LiveServer

PASSWORD = "browser test password"


class Desk:
    """One test's site on the live server: its slug, moderators and comments."""

    def __init__(self, live: LiveServer, unique: str) -> None:
        self.live, self.slug = live, f"desk-{unique}"
        with live.app.app_context():
            site = services.create_site(self.slug, f"Desk {unique}", [live.url], ModerationMode.PRE)
            update_settings(site, {"suspect_words": ["casino", "كازينو*"], "link_limit": 1})

    def moderator(self, name: str, role: ModeratorRole = ModeratorRole.ADMIN, slug: str | None = None) -> str:
        """A moderator of this site (or another); their email."""
        email = f"{name}.{self.slug}@example.org"
        with self.live.app.app_context():
            m = moderators.find_moderator(email) or moderators.create_moderator(email, PASSWORD, name.title())
            moderators.grant(m, services.get_site(slug or self.slug), role)
        return email

    def comment(self, body: str, name: str = "Layla", thread: str = "budget-2027", **extra: Any) -> int:
        """A reader's comment through the public API (held: the site is pre-moderated); its id."""
        data = {"thread": thread, "thread_title": "ميزانية 2027: ما الذي تغيّر؟", "thread_url": "https://news.example/budget",
                "author_name": name, "author_email": f"{name.lower()}@example.org", "body": body, **extra}
        r = self.live.app.test_client().post(f"/api/v1/sites/{self.slug}/comments", json=data)
        assert r.status_code == 201, r.get_json()
        return r.get_json()["comment"]["id"]

    def status(self, cid: int) -> str:
        with self.live.app.app_context():
            return db.session.get(Comment, cid).status.value

    def queue_url(self, queue: str = "pending") -> str:
        return f"{self.live.url}/dashboard/sites/{self.slug}/queues/{queue}"


@pytest.fixture
def desk(live_server: LiveServer, unique: str) -> Desk:
    return Desk(live_server, unique)


def sign_in(page: Any, live: LiveServer, email: str) -> None:
    """Sign in through the form."""
    page.goto(f"{live.url}/dashboard/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/queues/pending")


def item(page: Any, cid: int) -> Any:
    return page.locator(f"#c-{cid}")


def test_sign_in_see_the_reason_highlighted_and_approve_with_the_keyboard(page, desk, live_server):
    cid = desk.comment("Win big at the casino tonight!")
    sign_in(page, live_server, desk.moderator("amal"))
    card = item(page, cid)
    assert card.locator("mark").inner_text() == "casino"
    assert "Suspect word" in card.locator(".reasons").inner_text()
    assert card.locator(".body").get_attribute("dir") == "auto"
    page.keyboard.press("a")
    card.locator(".item-message", has_text="Approved.").wait_for()
    assert "decided" in card.get_attribute("class")
    assert desk.status(cid) == "approved"
    deadline = time.monotonic() + 5  # the public read may be memoised for a second
    while True:
        thread = page.request.get(f"{live_server.url}/api/v1/sites/{desk.slug}/comments?thread=budget-2027").json()
        if [c["id"] for c in thread["comments"]] == [cid] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [c["id"] for c in thread["comments"]] == [cid]


def test_bulk_reject_three_with_the_keyboard(page, desk, live_server):
    ids = [desk.comment(f"Off topic number {i}") for i in range(3)]
    keep = desk.comment("A fair point about the budget.")
    sign_in(page, live_server, desk.moderator("amal"))
    for key in ["x", "j", "x", "j", "x"]:
        page.keyboard.press(key)
    assert page.locator(".selected-count").inner_text() == "3 selected"
    page.keyboard.press("r")
    page.locator("#reject-dialog[open]").wait_for()
    page.keyboard.press("5")  # off topic
    for cid in ids:
        item(page, cid).locator(".item-message", has_text="Rejected.").wait_for()
    assert [desk.status(c) for c in ids] == ["rejected"] * 3 and desk.status(keep) == "pending"
    with live_server.app.app_context():
        reasons = {e.reason for c in ids for e in moderation.history(services.get_site(desk.slug), c)[1:]}
    assert reasons == {"off_topic"}


def test_two_moderators_in_two_browsers_get_different_items(new_context, desk, live_server, monkeypatch):
    from comment_service.dashboard import views_queue

    monkeypatch.setattr(views_queue, "PAGE", 2)
    ids = [desk.comment(f"Comment {i}") for i in range(4)]
    amal, bilal = new_context().new_page(), new_context().new_page()
    sign_in(amal, live_server, desk.moderator("amal"))
    sign_in(bilal, live_server, desk.moderator("bilal", ModeratorRole.MODERATOR))
    seen_a = [int(x) for x in amal.locator(".item").evaluate_all("els => els.map(e => e.dataset.id)")]
    seen_b = [int(x) for x in bilal.locator(".item").evaluate_all("els => els.map(e => e.dataset.id)")]
    assert seen_a == ids[:2] and seen_b == ids[2:]
    bilal.keyboard.press("a")
    item(bilal, ids[2]).locator(".item-message", has_text="Approved.").wait_for()
    assert desk.status(ids[0]) == "pending"


def test_a_stale_action_is_refused_with_a_message(page, desk, live_server):
    cid = desk.comment("Something the author will edit")
    sign_in(page, live_server, desk.moderator("amal"))
    with live_server.app.app_context():  # meanwhile the comment changes (a rule, another tool...)
        site = services.get_site(desk.slug)
        changes.apply(site.id, moderation.get_comment(site, cid),
                      changes.Change(Actor.SYSTEM, action=Action.SPAM, actor_id="test"))
        db.session.commit()
    page.keyboard.press("a")
    message = item(page, cid).locator(".item-message[role=alert]")
    message.wait_for()
    assert "This comment changed since you opened it" in message.inner_text()
    assert "refused" in item(page, cid).get_attribute("class")
    assert desk.status(cid) == "spam"  # not overwritten


def test_a_bulk_action_refuses_a_stale_item_in_place_and_does_the_rest(page, desk, live_server):
    fresh, stale = desk.comment("A fair point about the budget."), desk.comment("Something that changes meanwhile")
    sign_in(page, live_server, desk.moderator("amal"))
    with live_server.app.app_context():  # meanwhile one of them changes
        site = services.get_site(desk.slug)
        changes.apply(site.id, moderation.get_comment(site, stale),
                      changes.Change(Actor.SYSTEM, action=Action.SPAM, actor_id="test"))
        db.session.commit()
    for key in ["x", "j", "x"]:
        page.keyboard.press(key)
    assert page.locator(".selected-count").inner_text() == "2 selected"
    page.keyboard.press("a")
    item(page, fresh).locator(".item-message", has_text="Approved.").wait_for()
    message = item(page, stale).locator(".item-message[role=alert]")
    message.wait_for()
    assert "This comment changed since you opened it" in message.inner_text()  # the result's error, translated
    assert "refused" in item(page, stale).get_attribute("class")
    assert desk.status(fresh) == "approved" and desk.status(stale) == "spam"


def test_a_moderator_of_one_site_cannot_open_anothers_queue(page, desk, live_server, unique):
    other = Desk(live_server, unique + "b")
    other.comment("Gazette only")
    sign_in(page, live_server, desk.moderator("amal"))
    r = page.goto(other.queue_url())
    assert r.status == 404
    assert "Gazette only" not in page.content()


def test_a_form_post_without_the_csrf_token_is_refused(page, desk, live_server):
    cid = desk.comment("Approve me, no token")
    sign_in(page, live_server, desk.moderator("amal"))
    r = page.request.post(f"{live_server.url}/dashboard/sites/{desk.slug}/comments/{cid}/decision",
                          form={"action": "approve", "revision": "1"})
    assert r.status == 400 and "expired" in r.text()
    assert desk.status(cid) == "pending"


def _fill_for_screenshot(desk: Desk) -> None:
    desk.comment("ادخل إلى كازينو الأحلام واربح الآن! http://spam.example http://win.example", name="Sami")
    desk.comment("التقرير متوازن، لكنه أغفل أثر رفع الدعم على الأسر في الأرياف.", name="نور")
    desk.comment("The casino tax line is missing from the table on page 3.", name="Omar")


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_screenshot_of_the_queue(page, desk, live_server, lang):
    _fill_for_screenshot(desk)
    sign_in(page, live_server, desk.moderator("amal"))
    if lang == "ar":
        page.click(".lang-form button")
        page.wait_for_selector("html[dir=rtl]")
    assert page.locator("html").get_attribute("lang") == lang
    page.locator(".item mark").first.wait_for()
    page.keyboard.press("x")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-queue-{lang}.png"), full_page=True)
