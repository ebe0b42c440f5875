"""Embedding on another origin: the scripts find their service from their own src, work under a
host page's strict CSP (no style-src at all), and count.js batches and pluralises."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -r requirements-dev.txt)")

from playwright.sync_api import expect  # noqa: E402

from tests.browser.widget import arabic_count, ascii_digits, comment_card, post_comment  # noqa: E402

HOST_CSP = (
    "default-src 'none'; script-src {api}; connect-src {api}; style-src 'none'; img-src 'none'; "
    "base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'; trusted-types majlis"
)


def host_page(live_server, name: str, html: str) -> str:
    """A page of another origin (http://localhost:PORT) than the service's, under HOST_CSP."""
    return live_server.host_page(name, html, HOST_CSP.format(api=live_server.url))


def test_widget_on_another_origin_under_a_strict_csp(page, live_server, unique):
    thread = f"cross-origin-{unique}"
    html = f"""<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>صحيفة أخرى</title></head>
<body><h1>مقال على موقع آخر</h1><div id="majlis-thread"></div>
<script src="{live_server.url}/embed.js" data-site="demo" data-thread="{thread}" async></script></body></html>"""
    page.goto(host_page(live_server, f"article-{unique}", html))
    page.locator("section.mj[data-state=ready]").wait_for()
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/comments")) as req:
        post_comment(page, f"تعليق من موقع آخر {unique}", name="ليلى")
    # The API base came from the script's own src; the browser sent the host page's origin.
    assert req.value.url == f"{live_server.url}/api/v1/sites/demo/comments"
    assert req.value.all_headers()["origin"] == live_server.other_origin
    assert req.value.post_data_json["thread"] == thread
    # style-src 'none' and still styled: the sheet is constructed, so no CSP is involved.
    card = comment_card(page, unique)
    assert card.evaluate("el => getComputedStyle(el).borderTopLeftRadius") == "8px"
    expect(page.locator("#mj-title")).to_have_text("تعليق واحد")


COUNT_CASES = [0, 1, 2, 3, 10, 11, 99, 100, 101, 102, 103, 111]


def test_count_js_pluralises_in_arabic_and_batches_by_100(page, live_server):
    keys = [f"k{i}" for i in range(150)]
    badges = "".join(f'<li><span data-majlis-count="{k}">…</span></li>' for k in keys)
    html = f"""<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>مقالات</title></head>
<body><ul>{badges}</ul><p lang="en"><span data-majlis-count="k1">…</span> <span data-majlis-count="k7">…</span></p>
<script src="{live_server.url}/count.js" data-site="demo" async></script></body></html>"""
    batches: list[list[str]] = []

    def counts(route):
        asked = parse_qs(urlsplit(route.request.url).query)["thread"]
        batches.append(asked)
        route.fulfill(status=200, content_type="application/json",
                      headers={"Access-Control-Allow-Origin": live_server.other_origin},
                      body=json.dumps({"counts": {k: int(k[1:]) for k in asked}}))

    page.route(f"{live_server.url}/api/v1/sites/demo/counts?*", counts)
    page.goto(host_page(live_server, "list", html))
    for last in ("k99", "k149"):  # one of each batch
        expect(page.locator(f"[data-majlis-count={last}]")).to_have_attribute("data-majlis-count-value", last[1:])
    assert sorted(len(b) for b in batches) == [50, 100]
    assert sorted(k for b in batches for k in b) == sorted(keys)
    for n in COUNT_CASES:
        assert ascii_digits(page.locator(f"ul [data-majlis-count=k{n}]").text_content()) == arabic_count(n)
    # A badge inside English text speaks English.
    expect(page.locator("p [data-majlis-count=k1]")).to_have_text("1 comment")
    expect(page.locator("p [data-majlis-count=k7]")).to_have_text("7 comments")


def test_every_arabic_plural_form_is_translated(page, live_server):
    from comment_service.widget.assets import PLURAL_CATEGORIES, strings

    page.goto(live_server.url + "/demo/en")
    for lang, expected in PLURAL_CATEGORIES.items():
        categories = page.evaluate(f"new Intl.PluralRules('{lang}').resolvedOptions().pluralCategories")
        assert sorted(categories) == sorted(expected)
        assert {f"count_{c}" for c in categories} <= set(strings()[lang])
