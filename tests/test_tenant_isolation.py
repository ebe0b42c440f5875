"""One site's key never reaches another site's data: every key-protected operation, from the document.

The operations come from the served OpenAPI document (those with the siteKey security), so a new
endpoint is covered the day it is documented.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from comment_service.models import Ban, Claim, Comment, ModerationAction
from comment_service.moderation.status import ModerationMode
from comment_service.services.identity import email_hmac
from comment_service.services.sites import issue_api_key
from tests.conftest import auth, db_add, db_rows, db_scalar, db_scalars, new_site, post

BODIES = {  # a plausible body per operation (by its last path word), so nothing but the key decides
    "decision": lambda cid: {"action": "approve", "revision": 1},
    "decisions": lambda cid: {"decisions": [{"id": cid, "action": "approve", "revision": 1}]},
    "claim": lambda cid: {"limit": 10},
    "release": lambda cid: {"ids": [cid]},
    "dismiss": lambda cid: {"revision": 1},
    "settings": lambda cid: {"mode": "post", "banned_words": ["x"]},
    "bans": lambda cid: {"kind": "email", "value": "victim@example.org"},
    "export": lambda cid: {"email": "victim@example.org"},
    "erase": lambda cid: {"email": "victim@example.org"},
}


def _operations(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("security") == [{"siteKey": []}]:
                ops.append((method.upper(), path))
    return ops


@pytest.fixture
def two_sites(ctx, client, site):
    """Site "news" (A, empty queues) with its key, and site "other" (B) with a comment, a report and a ban."""
    other = new_site("other", "Other", ["https://other.example"], ModerationMode.PRE)
    cid = post(client, "other", author_email="victim@example.org").get_json()["comment"]["id"]
    db_add(Ban(site_id=other.id, kind="email", value_hmac=ctx(email_hmac, "x@example.org"), label="x"))
    ban_id = db_scalar(sa.select(Ban.id))
    return ctx(issue_api_key, site), ctx(issue_api_key, other), cid, ban_id


def _fill(path: str, slug: str, cid: int, ban_id: int) -> str:
    path = path.replace("{site}", slug).replace("{comment_id}", str(cid)).replace("{queue}", "pending")
    return re.sub(r"\{ban_id\}|\{id\}", str(ban_id), path)


def _body(path: str, cid: int):
    last = [p for p in path.split("/") if not p.startswith("{")][-1]
    make = BODIES.get(last)
    return make(cid) if make else None


def _snapshot():
    comments = [(c.id, c.status, c.revision, c.author_email, c.body_source)
                for c in db_scalars(sa.select(Comment).order_by(Comment.id))]
    claims = db_rows(sa.select(Claim.comment_id, Claim.claimed_by, Claim.expires_at)
                                .order_by(Claim.comment_id))
    bans = db_scalars(sa.select(Ban.id).order_by(Ban.id))
    actions = db_scalar(sa.select(sa.func.count()).select_from(ModerationAction))
    return comments, claims, bans, actions


def test_document_lists_the_key_protected_operations(client):
    ops = _operations(client)
    assert len(ops) >= 12
    assert ("POST", "/api/v1/sites/{site}/comments/{comment_id}/decision") in ops


def test_key_of_site_a_gets_404_on_site_b_paths(client, two_sites):
    key_a, _, cid, ban_id = two_sites
    before = _snapshot()
    for method, path in _operations(client):
        url = _fill(path, "other", cid, ban_id)
        r = client.open(url, method=method, json=_body(path, cid), headers=auth(key_a))
        assert r.status_code == 404, (method, url, r.status_code)
        assert "victim" not in r.get_data(as_text=True)
    assert _snapshot() == before


def test_key_of_site_a_gets_404_for_site_b_objects_on_its_own_paths(client, two_sites):
    key_a, _, cid, ban_id = two_sites
    before = _snapshot()
    for method, path in _operations(client):
        if "{comment_id}" not in path and "{ban_id}" not in path and "{id}" not in path:
            continue
        url = _fill(path, "news", cid, ban_id)
        r = client.open(url, method=method, json=_body(path, cid), headers=auth(key_a))
        assert r.status_code == 404, (method, url, r.status_code)
    assert _snapshot() == before


def test_site_a_queues_and_bulk_never_touch_site_b(client, two_sites):
    key_a, key_b, cid, _ = two_sites
    assert client.post("/api/v1/sites/news/queues/pending/claim", json={}, headers=auth(key_a)).get_json() == {"items": []}
    assert client.get("/api/v1/sites/news/queues/pending", headers=auth(key_a)).get_json()["items"] == []
    bulk = client.post("/api/v1/sites/news/decisions", headers=auth(key_a),
                       json={"decisions": [{"id": cid, "action": "approve", "revision": 1}]}).get_json()
    assert bulk["results"][0]["status_code"] == 404
    export = client.post("/api/v1/sites/news/privacy/export", json={"email": "victim@example.org"}, headers=auth(key_a))
    if export.status_code == 200:  # once the privacy endpoints exist: site A knows nothing of B's author
        assert "victim" not in export.get_data(as_text=True) or export.get_json().get("comments") == []
    # and B's own key does see its item
    assert [i["id"] for i in client.get("/api/v1/sites/other/queues/pending", headers=auth(key_b)).get_json()["items"]] == [cid]
