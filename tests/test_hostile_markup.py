"""Bodies that show nothing and URLs that carry markup (issue 9, item 11).

151 public XSS payloads (tests/data/xss_payloads.txt): as a body, each is either refused with a field
error (`no_visible_text`: nothing would show once sanitised) or published with text a reader sees;
never a blank card. Placed in the path of https://example.com/ (as they are, and with "/" for spaces), each is refused (`invalid_url`,
e.g. for a space; a tab is `invalid_characters`) or stored normalised: percent-encoded, no quote, angle bracket or space, the same
host, the same resource once decoded.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import sqlalchemy as sa

from comment_service.models import Comment
from comment_service.moderation.sanitize import text_of
from comment_service.moderation.text import has_visible_text
from tests.conftest import db_scalar, db_scalars, post

PAYLOADS = [line for line in (Path(__file__).parent / "data" / "xss_payloads.txt").read_text("utf-8").splitlines()
            if line and not line.startswith("#")]


def test_the_corpus_is_there():
    assert len(PAYLOADS) >= 150


def test_no_payload_becomes_a_blank_comment(client, site):
    refused = published = 0
    for payload in PAYLOADS:
        r = post(client, body=payload)
        if r.status_code == 422:
            fields = r.get_json()["error"]["fields"]
            assert [e["code"] for e in fields["body"]] == ["no_visible_text"], payload
            refused += 1
        else:
            assert r.status_code == 201, (payload, r.get_json())
            html = r.get_json()["comment"]["body_html"]
            assert has_visible_text(text_of(html)), (payload, html)
            assert "onerror" not in html.lower() or "&lt;" in html or "onerror" in text_of(html).lower()
            published += 1
    stored = db_scalars(sa.select(Comment.body_html))
    assert len(stored) == published and all(has_visible_text(text_of(h)) for h in stored)
    # Measured on this corpus: about a third is markup alone.
    assert refused >= 40 and published >= 60, (refused, published)


@pytest.mark.parametrize("body", ["<svg onload=alert(1)>", "<p></p>", "&nbsp;", "<b>\u200b</b>", "\u200f",
                                  "<img src=x onerror=alert(1)>\n\n<br>", "<!-- hidden -->"])
def test_markup_alone_is_a_body_field_error(client, site, body):
    r = post(client, body=body)
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"]["body"] == [
        {"code": "no_visible_text", "message": "Write some text: markup alone shows nothing."}
    ]
    assert db_scalar(sa.select(sa.func.count()).select_from(Comment)) == 0


def test_an_edit_to_markup_alone_is_refused_too(client, site):
    created = post(client).get_json()
    r = client.patch(f"/api/v1/sites/news/comments/{created['comment']['id']}", json={"body": "<svg onload=alert(1)>"},
                     headers={"X-Edit-Token": created["edit_token"]})
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["body"][0]["code"] == "no_visible_text"


def test_text_around_markup_is_published(client, site):
    r = post(client, body='Nice <svg onload=alert(1)> piece')
    assert r.status_code == 201 and r.get_json()["comment"]["body_html"] == "<p>Nice  piece</p>"


def _in_paths() -> list[str]:
    """Each payload as it is, and with its whitespace written as "/" (how payloads dodge a space)."""
    slashed = ["/".join(p.split()) for p in PAYLOADS if any(ch.isspace() for ch in p)]
    return PAYLOADS + slashed


def test_payloads_in_an_author_url_path_are_stored_percent_encoded(client, site):
    stored = 0
    for payload in _in_paths():
        sent = "https://example.com/" + payload
        r = post(client, author_url=sent)
        if r.status_code == 422:
            code = r.get_json()["error"]["fields"]["author_url"][0]["code"]
            assert any(ch.isspace() for ch in payload), payload  # the only reason a path is refused
            assert code == ("invalid_characters" if "\t" in payload else "invalid_url"), payload
            continue
        assert r.status_code == 201, (payload, r.get_json())
        url = r.get_json()["comment"]["author"]["url"]
        assert not set(url) & set("\"'<>` \\{}|^") and url.isascii(), url
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("https", "example.com", None), url
        assert unquote(url) == unquote(sent), url  # the same resource
        stored += 1
    assert stored >= 140, stored
    urls = db_scalars(sa.select(Comment.author_url))
    assert len(urls) == stored and all(not set(u) & set("\"'<>") for u in urls)


@pytest.mark.parametrize("sent,stored", [
    ('https://example.com/"><img/src=x/onerror=alert(1)>', "https://example.com/%22%3E%3Cimg/src=x/onerror=alert(1)%3E"),
    ("HTTPS://Example.COM:443/Path?q=it's#frag", "https://example.com/Path?q=it%27s#frag"),
    ("https://news.example/مقال-١?ق=نعم", "https://news.example/%D9%85%D9%82%D8%A7%D9%84-%D9%A1?%D9%82=%D9%86%D8%B9%D9%85"),
    ("https://example.com/100%/%2f%zz", "https://example.com/100%25/%2F%25zz"),
    ("https://example.com/#a#b", "https://example.com/#a%23b"),
    ("https://ｅｘａｍｐｌｅ.com/x", "https://example.com/x"),
    ("https://exa\u200bmple.com/x", "https://example.com/x"),
    ("http://example.com:8080/a`b{c}", "http://example.com:8080/a%60b%7Bc%7D"),
])
def test_author_urls_are_normalised(client, site, sent, stored):
    r = post(client, author_url=sent)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["comment"]["author"]["url"] == stored


@pytest.mark.parametrize("sent", [
    "https://bank.example@evil.example/", "https://user:pass@example.com/", "https://example.com\\@evil.example/",
    "http://exa<mple.com/", "http://exa\"mple.com/", "https://☃.example/", "http://1.2.3.999/", "https://a..b/",
])
def test_author_urls_that_hide_their_host_are_refused(client, site, sent):
    r = post(client, author_url=sent)
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["author_url"][0]["code"] == "invalid_url"


def test_a_percent_encoded_url_too_long_once_encoded_is_too_long(client, site):
    r = post(client, author_url="https://example.com/" + "ع" * 90)  # 110 characters, 560 once encoded
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["author_url"][0]["code"] == "too_long"
