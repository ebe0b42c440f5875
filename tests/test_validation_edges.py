"""Validation edges (issue 9, item 9): list lengths with stable codes, strict booleans, RFC limits on
email addresses, allowed origins as scheme://host[:port], punycode for mixed-script hosts."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from comment_service.models import Site, Thread
from comment_service.moderation.urls import is_mixed_script, normalise_host
from tests.conftest import ORIGIN, auth, db_scalar, post


def _codes(r, field):
    assert r.status_code == 422, r.get_json()
    return [e["code"] for e in r.get_json()["error"]["fields"][field]]


# --- list lengths ---------------------------------------------------------------------------------

def test_list_lengths_have_stable_codes_everywhere(client, site, key):
    cases = [
        (client.get("/api/v1/sites/news/counts", query_string=[("thread", f"k{i}") for i in range(101)]),
         "thread", "too_many", "Give at most 100."),
        (client.post("/api/v1/sites/news/decisions", headers=auth(key),
                     json={"decisions": [{"id": 1, "action": "approve", "revision": 1}] * 101}),
         "decisions", "too_many", "Give at most 100."),
        (client.post("/api/v1/sites/news/decisions", headers=auth(key), json={"decisions": []}),
         "decisions", "too_few", "Give at least 1."),
        (client.post("/api/v1/sites/news/queues/pending/release", headers=auth(key), json={"ids": []}),
         "ids", "too_few", "Give at least 1."),
        (client.post("/api/v1/sites/news/comments/own", json={"comments": [{"id": 1, "edit_token": "t"}] * 51}),
         "comments", "too_many", "Give at most 50."),
        (client.put("/api/v1/sites/news/settings", headers=auth(key), json={"banned_words": ["w"] * 1001}),
         "banned_words", "too_many", "Give at most 1000."),
        (client.put("/api/v1/sites/news/settings", headers=auth(key),
                    json={"allowed_origins": [f"https://s{i}.example" for i in range(51)]}),
         "allowed_origins", "too_many", "Give at most 50."),
    ]
    for r, field, code, message in cases:
        assert r.status_code == 422, (field, r.get_json())
        assert r.get_json()["error"]["fields"][field] == [{"code": code, "message": message}], field


def test_the_document_still_states_the_list_limits(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    bulk = doc["components"]["schemas"]["Bulk"]["properties"]["decisions"]
    assert (bulk["minItems"], bulk["maxItems"]) == (1, 100)


# --- strict booleans ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, 1, "true", "false", "on", "", [], {}])
def test_hold_first_time_takes_only_true_or_false(client, site, key, value):
    r = client.put("/api/v1/sites/news/settings", headers=auth(key), json={"hold_first_time": value})
    assert _codes(r, "hold_first_time") == ["invalid_type"]
    assert client.get("/api/v1/sites/news/settings", headers=auth(key)).get_json()["hold_first_time"] is False


def test_booleans_accept_json_booleans(client, site, key):
    r = client.put("/api/v1/sites/news/settings", headers=auth(key), json={"hold_first_time": True})
    assert r.status_code == 200 and r.get_json()["hold_first_time"] is True
    r = client.post("/api/v1/sites/news/bans", headers=auth(key),
                    json={"kind": "email", "value": "x@example.org", "reject_existing": 0})
    assert _codes(r, "reject_existing") == ["invalid_type"]
    r = client.post("/api/v1/sites/news/bans", headers=auth(key),
                    json={"kind": "email", "value": "x@example.org", "reject_existing": False})
    assert r.status_code == 201


# --- email addresses ------------------------------------------------------------------------------

@pytest.mark.parametrize("email,ok,why", [
    ("a" * 64 + "@example.org", True, "64-octet local part"),
    ("a" * 65 + "@example.org", False, "65-octet local part (RFC 5321 4.5.3.1.1)"),
    ("ل" * 32 + "@example.org", True, "32 Arabic letters are 64 octets"),
    ("ل" * 33 + "@example.org", False, "33 Arabic letters are 66 octets"),
    ("x@example.c", False, "one-letter TLD"),
    ("x@example.123", False, "numeric TLD"),
    ("x@example.1x", False, "TLD with a digit"),
    ("x@example.co", True, "two-letter TLD"),
    ("x@example.museum", True, "long TLD"),
    ("ليلى@مثال.مصر", True, "internationalised, IDN TLD"),
    ("x@xn--mgbh0fb.xn--wgbh1c", True, "IDN TLD in its ASCII form"),
    ("layla@example.org", True, "plain"),
])
def test_email_rfc_limits(client, site, email, ok, why):
    r = post(client, author_email=email)
    if ok:
        assert r.status_code == 201, (why, r.get_json())
    else:
        assert _codes(r, "author_email") == ["invalid_email"], why


def test_ban_and_privacy_emails_use_the_same_rules(client, site, key):
    r = client.post("/api/v1/sites/news/bans", headers=auth(key), json={"kind": "email", "value": "a" * 65 + "@x.org"})
    assert _codes(r, "value") == ["invalid_email"]
    r = client.post("/api/v1/sites/news/bans", headers=auth(key), json={"kind": "domain", "value": "example.c"})
    assert _codes(r, "value") == ["invalid_domain"]
    r = client.post("/api/v1/sites/news/privacy/export", headers=auth(key), json={"email": "x@example.1x"})
    assert _codes(r, "email") == ["invalid_email"]


# --- allowed origins ------------------------------------------------------------------------------

@pytest.mark.parametrize("origin", [
    "https://news.example\uff0fpath",  # a fullwidth solidus: no browser ever sends it
    "https://news.example/path", "https://news.example?x=1", "https://news.example#top",
    "https://user@news.example", "ftp://news.example", "news.example", "https://", "https://news example",
    "https://news.example:99999", "https://exa<mple.com",
])
def test_origins_that_can_never_match_are_refused_per_line(client, site, key, origin):
    r = client.put("/api/v1/sites/news/settings", headers=auth(key),
                   json={"allowed_origins": ["https://ok.example", origin]})
    assert _codes(r, "allowed_origins.1") == ["invalid_origin"]
    assert db_scalar(sa.select(Site.allowed_origins)) == [ORIGIN]


@pytest.mark.parametrize("sent,stored", [
    ("HTTPS://News.Example:443/", "https://news.example"),
    ("http://localhost:5000", "http://localhost:5000"),
    ("https://ｎｅｗｓ.example", "https://news.example"),
    ("https://مثال.مصر", "https://xn--mgbh0fb.xn--wgbh1c"),  # what the browser's Origin header holds
    ("https://[2001:DB8::1]:8443", "https://[2001:db8::1]:8443"),
])
def test_origins_are_stored_as_browsers_send_them(client, site, key, sent, stored):
    r = client.put("/api/v1/sites/news/settings", headers=auth(key), json={"allowed_origins": [sent]})
    assert r.status_code == 200 and r.get_json()["allowed_origins"] == [stored]


def test_an_idn_origin_can_post(client, site, key):
    client.put("/api/v1/sites/news/settings", headers=auth(key), json={"allowed_origins": ["https://مثال.مصر"]})
    r = client.post("/api/v1/sites/news/comments", headers={"Origin": "https://xn--mgbh0fb.xn--wgbh1c"},
                    json={"thread": "t", "author_name": "x", "author_email": "x@example.org", "body": "hi"})
    assert r.status_code == 201


def test_the_cli_normalises_origins_the_same_way(runner, app):
    r = runner.invoke(args=["sites", "create", "gazette", "--name", "G", "--origin", "HTTPS://Gazette.Example/"])
    assert r.exit_code == 0, r.output
    assert db_scalar(sa.select(Site.allowed_origins).where(Site.slug == "gazette")) == ["https://gazette.example"]
    r = runner.invoke(args=["sites", "create", "other", "--name", "O", "--origin", "https://o.example\uff0fx"])
    assert r.exit_code != 0


# --- homograph hosts ------------------------------------------------------------------------------

@pytest.mark.parametrize("sent,shown,why", [
    ("https://p\u0430ypal.com/login", "https://xn--pypal-4ve.com/login", "Cyrillic а among Latin letters"),
    ("https://xn--pypal-4ve.com/", "https://xn--pypal-4ve.com/", "the same, sent as punycode"),
    ("https://\u0430\u0440\u0440\u04cf\u0435.com/", "https://xn--80ak6aa92e.com/", "all Cyrillic, spelling 'apple' under .com"),
    ("https://g\u03bfogle.com/", "https://xn--gogle-rce.com/", "Greek omicron among Latin letters"),
    ("https://مثال.مصر/", "https://مثال.مصر/", "Arabic, one script: readable"),
    ("https://xn--mgbh0fb.xn--wgbh1c/", "https://مثال.مصر/", "Arabic sent as punycode is shown readable"),
    ("https://münchen.de/", "https://münchen.de/", "accented Latin"),
    ("https://例え.テスト/", "https://例え.テスト/", "Japanese: Han with kana"),
    ("https://пример.рф/", "https://пример.рф/", "Cyrillic under a Cyrillic TLD"),
    ("https://ελληνικά.gr/", "https://ελληνικά.gr/", "Greek"),
])
def test_author_and_thread_urls_show_mixed_script_hosts_as_punycode(client, site, sent, shown, why):
    r = post(client, author_url=sent, thread="homograph", thread_url=sent)
    assert r.status_code == 201, (why, r.get_json())
    assert r.get_json()["comment"]["author"]["url"] == shown, why
    assert db_scalar(sa.select(Thread.url).where(Thread.key == "homograph")) == shown, why
    page = client.get("/api/v1/sites/news/comments", query_string={"thread": "homograph"}).get_json()
    assert page["thread"]["url"] == shown and page["comments"][0]["author"]["url"] == shown


def test_a_label_mixing_directions_is_refused(client, site):
    # IDNA 2008's bidi rule: a label of Latin and Arabic letters has no display order a reader can trust.
    assert _codes(post(client, author_url="https://abcمثال.com/"), "author_url") == ["invalid_url"]


@pytest.mark.parametrize("label,mixed", [
    ("paypal", False), ("p\u0430ypal", True), ("مثال", False), ("例えば", False), ("東京abc", False),
    ("서울abc", False), ("ab\u03b1", True), ("αβγ", False), ("१२३abc", True), ("abc-123", False),
])
def test_mixed_script_rule(label, mixed):
    assert is_mixed_script(label) is mixed


def test_hosts_are_mapped_like_browsers_map_them():
    assert normalise_host("ＥＸＡＭＰＬＥ。com") == ("example.com", "example.com")
    assert normalise_host("faß.de") == ("xn--fa-hia.de", "faß.de")


# --- counts: 100 realistic keys -------------------------------------------------------------------

def test_100_realistic_keys_fit_one_counts_request(client, site):
    post(client, thread="news/2026/05/" + "a" * 47)
    keys = [f"news/2026/05/{i:02d}" + "a" * 45 for i in range(99)] + ["news/2026/05/" + "a" * 47]
    r = client.get("/api/v1/sites/news/counts", query_string=[("thread", k) for k in keys])
    url = r.request.full_path
    assert len(url.encode()) <= 7500, len(url)  # what count.js would send in one request
    assert r.status_code == 200 and len(r.get_json()["counts"]) == 100
    assert r.get_json()["counts"]["news/2026/05/" + "a" * 47] == 1


def test_the_counts_operation_documents_its_url_budget(client):
    op = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/sites/{site}/counts"]["get"]
    assert "100 keys and 7,500 bytes of URL" in op["description"] and "count.js splits" in op["description"]
