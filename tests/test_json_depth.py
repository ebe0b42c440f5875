"""Deeply nested JSON: a 400 with a stable code on every endpoint that reads JSON, never a 500.

Python's parser recurses once per level and fails near 1,000 levels (RecursionError, a 500 and a
traceback before the limit). The endpoints come from the app's url_map (every API route that takes
a write method), so an endpoint added later is covered the day it exists; the OpenAPI document's
JSON-body operations are checked to be among them. The dashboard's writes are HTML forms (no JSON).
"""
from __future__ import annotations

import logging
import re

import pytest

from comment_service.api.http import JSON_MAX_DEPTH, nesting_exceeds
from tests.conftest import ORIGIN, auth, post

WRITE_METHODS = {"POST", "PUT", "PATCH"}
# Write routes that take no body at all (the document declares none): whatever is sent is not read.
BODILESS = {("POST", "/api/v1/sites/<slug:site>/webhooks/<int:webhook_id>/rotate-secret"),
            ("POST", "/api/v1/sites/<slug:site>/webhooks/<int:webhook_id>/test")}
DEEP_BODIES = {
    "1000 arrays (2 KB)": "[" * 1000 + "]" * 1000,
    "a field holding 5000 objects": '{"body": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}",
    "30000 arrays, unclosed (30 KB)": "[" * 30000,
    "one level over the limit": "[" * (JSON_MAX_DEPTH + 1) + "]" * (JSON_MAX_DEPTH + 1),
}


def _json_routes(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            out.append((method, rule.rule))
    return out


@pytest.fixture
def targets(client, site, key):
    created = post(client).get_json()
    values = {"site": "news", "comment_id": str(created["comment"]["id"]), "queue": "pending", "ban_id": "1",
              "webhook_id": "1"}
    headers = {**auth(key), "X-Edit-Token": created["edit_token"], "Origin": ORIGIN}
    return values, headers


def _fill(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], rule)


def test_every_documented_json_body_is_among_the_routes(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {
        (method.upper(), re.sub(r"\{(\w+)\}", r"<\1>", path))
        for path, item in doc["paths"].items() for method, op in item.items()
        if isinstance(op, dict) and "application/json" in op.get("requestBody", {}).get("content", {})
    }
    routes = {(m, re.sub(r"<\w+:(\w+)>", r"<\1>", r)) for m, r in _json_routes(app)}
    assert len(documented) >= 12 and documented <= routes
    bodiless = {(m, re.sub(r"<\w+:(\w+)>", r"<\1>", r)) for m, r in BODILESS}
    assert bodiless <= routes and not bodiless & documented


@pytest.mark.parametrize("why", list(DEEP_BODIES))
def test_deep_json_is_400_json_too_deep_on_every_endpoint(app, client, targets, caplog, why):
    values, headers = targets
    routes = _json_routes(app)
    assert len(routes) >= 13
    caplog.set_level(logging.INFO)
    for method, rule in routes:
        url = _fill(rule, values)
        r = client.open(url, method=method, data=DEEP_BODIES[why], content_type="application/json", headers=headers)
        if (method, rule) in BODILESS:
            assert r.status_code in (200, 202, 404), (method, url, r.status_code)  # not read, not a 500
            continue
        assert r.status_code == 400, (method, url, r.status_code, r.get_data(as_text=True)[:200])
        error = r.get_json()["error"]
        assert error["code"] == "json_too_deep", (method, url)
        assert str(JSON_MAX_DEPTH) in error["message"]
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR or rec.exc_info]
    assert "Traceback" not in caplog.text


def test_nesting_at_the_limit_is_parsed(client, site):
    body = '{"thread": "a", "author_name": "x", "author_email": "x@example.org", "body": "hi", "company": ' \
        + "[" * (JSON_MAX_DEPTH - 1) + "]" * (JSON_MAX_DEPTH - 1) + "}"
    r = client.post("/api/v1/sites/news/comments", data=body, content_type="application/json")
    assert r.status_code == 422  # parsed, then refused by the schema: company is not a list
    assert r.get_json()["error"]["fields"]["company"][0]["code"] == "invalid_type"


@pytest.mark.parametrize("text,deep", [
    ('["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', False),  # brackets inside a string do not nest
    ('["\\"' + "[" * 40 + '"]', False),  # nor after an escaped quote
    ('{"a": [' + "{}," * 500 + "{}]}", False),  # many siblings, shallow
    ("[" * 33 + "]" * 33, True),
    ('{"a":' * 33 + "1" + "}" * 33, True),
    ("]]]]" + "[" * 20, False),  # stray closers do not lend depth
])
def test_nesting_scanner(text, deep):
    assert nesting_exceeds(text) is deep
