"""Hostile input as a reader's browser meets it (issue 9, items 6 and 11): an article list of 100 long
Arabic slugs gets every badge from count.js in requests that each fit an 8 KB request line; a comment
of markup alone is refused under its field in the reader's language; stored URLs are read by the
browser exactly as the API hands them out."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -r requirements-dev.txt)")

from playwright.sync_api import expect  # noqa: E402

from comment_service.moderation.urls import normalise_web_url  # noqa: E402
from tests.browser.test_embedding import host_page  # noqa: E402
from tests.browser.widget import AR, EN, fill_form, open_widget, submit  # noqa: E402
from tests.conftest import comment_payload  # noqa: E402

LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
MAX_URL = 7500  # bytes of path and query per counts request (the counts operation's description)


def arabic_slug(i: int, letters: int = 40) -> str:
    """A distinct 40-letter Arabic slug per i (240 bytes once percent-encoded)."""
    head = LETTERS[i // len(LETTERS)] + LETTERS[i % len(LETTERS)]
    return head + "".join(LETTERS[(i + j) % len(LETTERS)] for j in range(letters - 2))


def test_count_js_fills_100_long_arabic_badges_in_requests_that_fit(page, live_server, unique):
    keys = [f"{unique}-{arabic_slug(i)}" for i in range(100)]
    assert len(set(keys)) == 100
    seeded = {keys[0]: 1, keys[57]: 2, keys[99]: 1}
    with live_server.app.test_client() as client:
        for key, n in seeded.items():
            for j in range(n):
                r = client.post("/api/v1/sites/demo/comments", json=comment_payload(thread=key, body=f"{unique} {j} {key[-5:]}"))
                assert r.status_code == 201, r.get_json()
    badges = "".join(f'<li><a href="/{k}">{k}</a> <span data-majlis-count="{k}">…</span></li>' for k in keys)
    html = f"""<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>مقالات</title></head>
<body><ul>{badges}</ul><script src="{live_server.url}/count.js" data-site="demo" async></script></body></html>"""
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/counts?" in r.url else None)
    page.goto(host_page(live_server, f"long-arabic-{unique}", html))
    for k in keys:
        expect(page.locator(f'[data-majlis-count="{k}"]')).to_have_attribute(
            "data-majlis-count-value", str(seeded.get(k, 0)))
    expect(page.locator(f'[data-majlis-count="{keys[0]}"]')).to_have_text("تعليق واحد")
    expect(page.locator(f'[data-majlis-count="{keys[57]}"]')).to_have_text("تعليقان")
    expect(page.locator(f'[data-majlis-count="{keys[1]}"]')).to_have_text("لا تعليقات")
    # 100 keys of ~250 bytes each: several requests, each within the budget, each key asked once.
    sizes = [len(urlsplit(u).path) + 1 + len(urlsplit(u).query) for u in asked]
    assert len(asked) >= 4 and max(sizes) <= MAX_URL, sizes
    sent = [unquote(part.removeprefix("thread=")) for u in asked for part in urlsplit(u).query.split("&")]
    assert sorted(sent) == sorted(keys)


def test_count_js_leaves_out_keys_the_server_would_refuse(page, live_server, unique):
    good = f"{unique}-good"
    too_long = "ع" * 256
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>list</title></head>
<body><span data-majlis-count="{good}">…</span><span data-majlis-count="   ">…</span>
<span data-majlis-count="{too_long}">…</span>
<script src="{live_server.url}/count.js" data-site="demo" async></script></body></html>"""
    page.goto(host_page(live_server, f"refused-keys-{unique}", html))
    expect(page.locator(f'[data-majlis-count="{good}"]')).to_have_text("0 comments")
    expect(page.locator(f'[data-majlis-count="{too_long}"]')).to_have_text("…")


@pytest.mark.parametrize("path,message", [
    (EN, "Write some text: markup alone shows nothing."),
    (AR, "اكتب نصًا: الوسوم وحدها لا يظهر منها شيء."),
])
def test_a_comment_of_markup_alone_is_refused_under_its_field(page, live_server, path, message):
    open_widget(page, live_server, path)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/comments")) as resp:
        fill_form(page, body="<svg onload=alert(1)>", name="Layla", email="layla@example.org")
        submit(page)
    assert resp.value.status == 422
    expect(page.locator("#mj-body-err")).to_have_text(message)
    expect(page.locator("#mj-body")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#mj-author_name")).not_to_have_attribute("aria-invalid", "true")


def test_the_browser_reads_stored_urls_as_the_api_hands_them_out(page, live_server):
    payloads = [line for line in (Path(__file__).parent.parent / "data" / "xss_payloads.txt")
                .read_text("utf-8").splitlines() if line and not line.startswith("#")]
    urls = [normalise_web_url("https://example.com/" + "/".join(p.split())) for p in payloads]
    urls += [normalise_web_url(u) for u in ["https://مثال.مصر/مقال?ق=1#ج", "https://p\u0430ypal.com/x"]]
    page.goto(live_server.url + EN)
    parsed = page.evaluate("(urls) => urls.map((u) => { const x = new URL(u); return [x.href, x.hostname]; })", urls)
    for url, (href, host) in zip(urls, parsed, strict=True):
        assert host in {"example.com", "xn--mgbh0fb.xn--wgbh1c", "xn--pypal-4ve.com"}, (url, host)
        if url.isascii():  # the browser's own serialisation is the stored one: nothing left to encode
            assert href == url, (url, href)
