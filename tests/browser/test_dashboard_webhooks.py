"""The webhooks pages in Chromium, in English and Arabic: reached from the settings page, driven by
their labels (a refused form, then a webhook added, its secret shown once, a test delivered to a
real receiver), under the package's rules (no CSP violation, script error or foreign request), and
every control named. (The browser tests run no axe; these are the checks the page can make itself.)"""
from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer
from tests.browser.test_dashboard import Desk, sign_in
from tests.jobs import run_jobs
from tests.receiver import receiver

# Form controls and links a screen reader would announce without a name, and ids used twice.
UNNAMED = """() => {
  const named = (el) => (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.textContent.trim();
  const controls = [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')];
  const ids = [...document.querySelectorAll('[id]')].map((el) => el.id);
  return {unnamed: controls.filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 80)),
          duplicateIds: ids.filter((id, i) => ids.indexOf(id) !== i),
          h1: document.querySelectorAll('h1').length, lang: document.documentElement.lang};
}"""

WORDS = {
    "en": {"link": "Manage webhooks", "url": "Receiver's address", "add": "Add webhook", "no_event": "Choose at least one event.",
           "event": "A comment becomes visible to readers", "once": "will not be shown again",
           "test": "Send a test message", "delivered": "delivered"},
    "ar": {"link": "إدارة خطافات الويب", "url": "عنوان المستقبِل", "add": "أضف الخطاف", "no_event": "اختر حدثًا واحدًا على الأقل.",
           "event": "صار تعليق ظاهرًا للقرّاء", "once": "لن يُعرض مجددًا",
           "test": "أرسل رسالة اختبار", "delivered": "وصلت"},
}


def _well_formed(page: Any, lang: str) -> None:
    found = page.evaluate(UNNAMED)
    assert found == {"unnamed": [], "duplicateIds": [], "h1": 1, "lang": lang}, found


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_add_a_webhook_see_its_secret_once_and_send_a_test(page, live_server: LiveServer, unique, lang):
    words = WORDS[lang]
    desk = Desk(live_server, unique + lang)
    sign_in(page, live_server, desk.moderator("amal"))
    if lang == "ar":
        page.click(".lang-form button")
        page.wait_for_selector("html[dir=rtl]")
    page.goto(f"{live_server.url}/dashboard/sites/{desk.slug}/settings")
    page.get_by_role("link", name=words["link"]).click()
    _well_formed(page, lang)

    with receiver() as hook:
        page.get_by_label(words["url"]).fill(hook.url)
        page.get_by_role("button", name=words["add"]).click()  # no event ticked: refused, beside the field
        assert page.locator("#err-events-1").inner_text() == words["no_event"]
        assert page.locator("fieldset").get_attribute("aria-invalid") == "true"
        assert page.get_by_label(words["url"]).input_value() == hook.url  # kept
        _well_formed(page, lang)

        page.get_by_label(words["event"]).check()
        page.get_by_role("button", name=words["add"]).click()
        notice = page.locator(".new-key[role=alert]")
        assert words["once"] in notice.inner_text()
        secret = notice.locator("code.secret").inner_text()
        assert secret.startswith("whsec_")
        _well_formed(page, lang)

        page.get_by_role("button", name=words["test"]).click()
        page.locator("tr.delivery-pending").wait_for()
        assert secret not in page.content()  # shown once, on the answer to the form only
        run_jobs(live_server.app)
        hook.wait_for(1)
    page.reload()
    assert words["delivered"] in page.locator("tr.delivery").first.inner_text()
    _well_formed(page, lang)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-webhook-{lang}.png"), full_page=True)
