"""The widget's files as served (no browser needed): size budget, cache policy, strings, CSP-safe source."""
from __future__ import annotations

import gzip
import re

import pytest

from comment_service.widget.assets import LANGUAGES, PLURAL_CATEGORIES, asset, strings

BUDGET = 12 * 1024  # bytes of embed.js on the wire, gzipped


def test_embed_js_fits_the_budget_gzipped(client):
    served = client.get("/embed.js", headers={"Accept-Encoding": "gzip"})
    assert served.headers["Content-Encoding"] == "gzip"
    wire = len(served.data)
    plain = client.get("/embed.js").data
    assert gzip.decompress(served.data) == plain
    # What we send (gzip -9), and what a proxy compressing at its default level would send.
    assert wire <= BUDGET, f"embed.js is {wire} bytes gzipped (budget {BUDGET})"
    assert len(gzip.compress(plain, compresslevel=6)) <= BUDGET
    print(f"embed.js: {len(plain)} bytes, {wire} gzipped")


def test_stable_urls_are_short_cached_and_hashed_urls_immutable(client):
    for name in ("embed.js", "count.js"):
        short = client.get(f"/{name}")
        assert short.status_code == 200
        assert short.content_type == "text/javascript; charset=utf-8"
        assert short.headers["Cache-Control"] == "public, max-age=300"
        assert short.headers["X-Content-Type-Options"] == "nosniff"
        assert client.get(f"/{name}", headers={"If-None-Match": short.headers["ETag"]}).status_code == 304
        hashed = client.get(f"/widget/{asset(name).hashed_name}")
        assert hashed.data == short.data
        assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert asset(name).digest in asset(name).hashed_name


def test_an_old_hash_redirects_to_the_current_file(client):
    old = client.get("/widget/embed.0123456789ab.js")
    assert old.status_code == 302
    assert old.headers["Location"].endswith(asset("embed.js").hashed_name)
    assert "no-cache" in old.headers["Cache-Control"]
    assert client.get("/widget/secrets.0123456789ab.js").status_code == 404
    assert client.get("/widget/../config.py").status_code == 404


def test_demo_pages_are_served_under_a_strict_csp(client):
    for path, lang, direction in [("/", "ar", "rtl"), ("/demo/en", "en", "ltr"), ("/demo/list", "ar", "rtl")]:
        page = client.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert f'<html lang="{lang}" dir="{direction}">' in html
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "require-trusted-types-for 'script'" in csp
        # No inline script, handler or style on the page itself.
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert not re.search(r"\son\w+=|\sstyle=|<style", html)


def test_the_arabic_demo_is_the_seed_article():
    from comment_service.demo import demo_article
    from comment_service.widget.demo import arabic_article

    article = arabic_article()
    assert article.headline == demo_article()[0]
    kinds = [b.kind for b in article.blocks]
    assert kinds.count("h2") == 2 and kinds.count("aside") == 2
    assert all("مقالات ذات صلة" not in b.text for b in article.blocks)  # the scraped page's furniture is gone


def test_every_string_is_in_both_languages():
    table = strings()
    plain = [{k for k in table[lang] if not k.startswith("count_")} for lang in LANGUAGES]
    assert plain[0] == plain[1]
    for lang in LANGUAGES:
        assert all(v.strip() for v in table[lang].values())
        assert {k for k in table[lang] if k.startswith("count_")} == {f"count_{c}" for c in PLURAL_CATEGORIES[lang]}
        assert all("{n}" in table[lang][f"count_{c}"] for c in ("other",))


@pytest.mark.parametrize("name", ["embed.js", "count.js"])
def test_scripts_need_no_unsafe_csp_and_call_no_one_else(name):
    source = asset(name).body.decode()
    for forbidden in (r"\beval\(", r"new Function", r"setTimeout\(['\"]", r"\.outerHTML\s*=", r"insertAdjacentHTML",
                      r"document\.write", r"setAttribute\(['\"](style|on\w+)", r"\.style\.", r"\.cssText"):
        assert not re.search(forbidden, source), forbidden
    # The only HTML sink: the sanitised body going into an inert template.
    assert source.count("innerHTML") == (1 if name == "embed.js" else 0)
    # No address of any other service (the SVG namespace is a name, never fetched).
    urls = set(re.findall(r"https?://[\w-]+\.[\w./-]+", source)) - {"http://www.w3.org/2000/svg"}
    assert urls == set()
