"""Cross-origin rules: only a site's own origins may use its public endpoints from a browser."""
from __future__ import annotations

import pytest

from comment_service.moderation.status import ModerationMode
from tests.conftest import ORIGIN, comment_payload, new_site

COMMENTS = "/api/v1/sites/news/comments"


def _preflight(client, origin, path=COMMENTS, method="POST"):
    return client.options(
        path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"},
    )


def test_preflight_from_allowed_origin(client, site):
    r = _preflight(client, ORIGIN)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]
    assert "Origin" in r.headers["Vary"]


@pytest.mark.parametrize("origin", ["https://evil.example", "http://news.example", "https://news.example.evil.com", "null"])
def test_preflight_from_other_origin_refused(client, site, origin):
    r = _preflight(client, origin)
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r.headers


def test_origin_of_one_site_is_not_allowed_on_another(ctx, client, site):
    new_site("other", "Other", ["https://other.example"], ModerationMode.POST)
    assert _preflight(client, ORIGIN, "/api/v1/sites/other/comments").status_code == 403
    assert _preflight(client, "https://other.example", "/api/v1/sites/other/comments").status_code == 204


def test_read_and_write_answers_carry_cors_for_allowed_origin_only(client, site):
    ok = client.post(COMMENTS, json=comment_payload(), headers={"Origin": ORIGIN})
    assert ok.status_code == 201 and ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    read = client.get(COMMENTS + "?thread=article-42", headers={"Origin": ORIGIN})
    assert read.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in read.headers["Access-Control-Expose-Headers"]
    counts = client.get("/api/v1/sites/news/counts?thread=a", headers={"Origin": "https://evil.example"})
    assert counts.status_code == 200 and "Access-Control-Allow-Origin" not in counts.headers


def test_field_errors_are_readable_by_the_widget(client, site):
    r = client.post(COMMENTS, json={}, headers={"Origin": ORIGIN})
    assert r.status_code == 422 and r.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_write_from_foreign_page_refused_and_nothing_stored(client, site):
    r = client.post(COMMENTS, json=comment_payload(), headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "origin_not_allowed"
    assert client.get("/api/v1/sites/news/counts?thread=article-42").get_json()["counts"]["article-42"] == 0


def test_server_to_server_write_without_origin_is_allowed(client, site):
    assert client.post(COMMENTS, json=comment_payload()).status_code == 201
