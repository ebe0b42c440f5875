"""Reader actions on the widget, written once for the browser tests."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from comment_service.extensions import db
from comment_service.services import get_site
from comment_service.services.sites import update_settings

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from tests.browser.conftest import LiveServer

EN = "/demo/en"
AR = "/"

SHADOW_HTML = """() => {
  const out = [document.documentElement.outerHTML];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { out.push(el.shadowRoot.innerHTML); walk(el.shadowRoot); }
    }
  };
  walk(document);
  return out.join('\\n');
}"""


def open_widget(page: Page, live: LiveServer, path: str = EN) -> Locator:
    """Load a page and wait until the widget has rendered its thread."""
    page.goto(live.url + path)
    root = page.locator("section.mj[data-state=ready]")
    root.wait_for()
    return root


def fill_form(page: Page, body: str = "", name: str = "", email: str = "", url: str = "") -> None:
    """Type into the comment form (empty strings clear a field)."""
    page.locator("#mj-body").fill(body)
    page.locator("#mj-author_name").fill(name)
    page.locator("#mj-author_email").fill(email)
    page.locator("#mj-author_url").fill(url)


def submit(page: Page) -> None:
    """Press the form's submit button."""
    page.locator("form[aria-labelledby=mj-form-title] button[type=submit]").click()


def post_comment(
    page: Page, body: str, name: str = "Layla", email: str = "layla@example.org", marker: str | None = None
) -> Locator:
    """Post through the form and return the new comment's card (found by marker, else body) once it shows."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/comments")) as resp:
        fill_form(page, body=body, name=name, email=email)
        submit(page)
    assert resp.value.status == 201, resp.value.text()
    card = comment_card(page, marker or body)
    card.wait_for()
    return card


def comment_card(page: Page, text: str) -> Locator:
    """The card (article) of the comment whose body holds text."""
    return page.locator("li.c > article").filter(has=page.locator(".body", has_text=text))


def comment_item(page: Page, text: str) -> Locator:
    """The list item of that comment (its card and its replies)."""
    return page.locator("li.c").filter(has=page.locator(":scope > article .body", has_text=text))


def shadow_html(page: Page) -> str:
    """The page's markup with every (open) shadow root's markup."""
    return page.evaluate(SHADOW_HTML)


@contextmanager
def site_mode(live: LiveServer, mode: str) -> Iterator[None]:
    """Switch the demo site's moderation mode for the block."""
    with live.app.app_context():
        update_settings(get_site("demo"), {"mode": mode})
    try:
        yield
    finally:
        with live.app.app_context():
            update_settings(get_site("demo"), {"mode": "post"})
            db.session.remove()


def ascii_digits(text: str) -> str:
    """Arabic-Indic digits as ASCII: Intl.NumberFormat('ar') writes either, by ICU version."""
    return text.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))


def arabic_count(n: int) -> str:
    """The Arabic label count.js and the widget heading give n (CLDR plural rules for ar), ASCII digits."""
    m = n % 100
    if n == 0:
        return "لا تعليقات"
    if n == 1:
        return "تعليق واحد"
    if n == 2:
        return "تعليقان"
    if 3 <= m <= 10:
        return f"{n} تعليقات"
    if 11 <= m <= 99:
        return f"{n} تعليقًا"
    return f"{n} تعليق"


def english_count(n: int) -> str:
    """The English label."""
    return f"{n} comment" if n == 1 else f"{n} comments"


EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
