"""The OpenAPI document, derived since issue 10 from the declarations on the views (flask-smorest),
says everything the hand-written one said, and the contract it states is the one the views keep.

tests/data/openapi-before.json is the document the code before issue 10 served (GET
/api/v1/openapi.json, written with json.dump(indent=1, sort_keys=True)). Compared with it, per
operation: the operations themselves, operationIds, response codes with each answer's description,
content schema and headers, the parameters in effect (path-level and operation-level merged, as
OpenAPI applies them), request bodies and security requirements; and the component schemas and
security schemes. The differences allowed are listed in IMPROVEMENTS, each with why.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from marshmallow import Schema

from tests.conftest import ORIGIN, auth, comment_payload, post

BEFORE = json.loads((Path(__file__).parent / "data" / "openapi-before.json").read_text())
# Operations added since that document, each with the issue that added it, and the component
# schemas only they use. Everything else must still say what it said.
WEBHOOKS, WEBHOOK = "/api/v1/sites/{site}/webhooks", "/api/v1/sites/{site}/webhooks/{webhook_id}"
ADDED = {
    (WEBHOOKS, "get"): "issue 11", (WEBHOOKS, "post"): "issue 11", (WEBHOOK, "delete"): "issue 11",
    (WEBHOOK, "patch"): "issue 11",
    (f"{WEBHOOK}/rotate-secret", "post"): "issue 11", (f"{WEBHOOK}/test", "post"): "issue 11",
    (f"{WEBHOOK}/deliveries", "get"): "issue 11",
}
ADDED_SCHEMAS = {"WebhookCreate", "WebhookChange", "Webhook", "WebhookList", "WebhookSecret", "Delivery", "DeliveryCreated",
                 "DeliveryPage", "Sla"}
# Schemas that gained properties since (issue 11: the queue's time limit, the language of the
# moderators' emails); apart from those they must be the same.
EXTENDED = {"Settings": {"sla_minutes", "language"}, "SettingsOut": {"sla_minutes", "language"},
            "QueueCounts": {"sla"}}


def _without(schema: dict[str, Any], names: set[str]) -> dict[str, Any]:
    out = {**schema, "properties": {k: v for k, v in schema.get("properties", {}).items() if k not in names}}
    if "required" in schema:
        out["required"] = [r for r in schema["required"] if r not in names]
    return out
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# What may differ from the document before, and why each is an improvement (nothing else may).
IMPROVEMENTS = {
    # The summary is the view's docstring (its first paragraph) and the description the rest of it:
    # one statement where there were two (a docstring and a summary that said it again in other
    # words). Wording only; every operation still has a summary.
    "summary": "the view's docstring",
    "description": "the view's docstring",
    # smorest tags each operation with its blueprint (api, ops), which lets viewers group them.
    "tags": "grouped by blueprint",
}


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each operation by (path, method), with `parameters` as the ones in effect, keyed by (in, name)."""
    out = {}
    for path, item in doc["paths"].items():
        shared = {(p["in"], p["name"]): p for p in item.get("parameters", [])}
        for method in METHODS:
            if method in item:
                op = item[method]
                params = {**shared, **{(p["in"], p["name"]): p for p in op.get("parameters", [])}}
                out[(path, method)] = {**op, "parameters": params}
    return out


@pytest.fixture
def doc(client) -> dict[str, Any]:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def test_every_operation_is_still_there_and_says_the_same(doc):
    before, now = _operations(BEFORE), _operations(doc)
    assert set(now) - set(ADDED) == set(before) and set(ADDED) <= set(now)
    for key, op in now.items():
        if key in ADDED:
            continue
        was = before[key]
        assert set(op) - set(IMPROVEMENTS) == set(was) - set(IMPROVEMENTS), key
        assert op.get("operationId") == was.get("operationId"), key
        assert op.get("security") == was.get("security"), key
        assert op.get("requestBody") == was.get("requestBody"), key
        assert op["parameters"] == was["parameters"], key
        assert sorted(op["responses"]) == sorted(was["responses"]), key
        for code, answer in op["responses"].items():
            assert answer == was["responses"][code], (key, code)
        assert op["summary"], key


def test_the_components_and_security_schemes_are_the_same(doc):
    schemas = dict(doc["components"]["schemas"])
    assert set(schemas) - set(BEFORE["components"]["schemas"]) == ADDED_SCHEMAS
    for name, added in EXTENDED.items():
        assert added <= set(schemas[name]["properties"]), name
        schemas[name] = _without(schemas[name], added)
    assert {k: v for k, v in schemas.items() if k not in ADDED_SCHEMAS} == BEFORE["components"]["schemas"]
    assert {**doc["components"], "schemas": None} == {**BEFORE["components"], "schemas": None}
    assert doc["openapi"] == BEFORE["openapi"] and doc["info"] == BEFORE["info"]
    assert set(doc) - set(BEFORE) <= {"tags"}


def test_the_document_lists_every_route_of_the_api_and_the_probes_and_nothing_else(app, doc):
    """It is derived from the routes: every method of every route of the two blueprints, /metrics
    aside (the operator's), is an operation, and there is no operation without its route."""
    routes = {
        (rule.rule.replace("<slug:site>", "{site}").replace("<int:comment_id>", "{comment_id}")
         .replace("<int:ban_id>", "{ban_id}").replace("<queue>", "{queue}")
         .replace("<int:webhook_id>", "{webhook_id}"), method.lower())
        for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in ("api", "ops")
        and rule.rule != "/metrics" for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == set(_operations(doc))


def test_the_document_is_built_once_per_app_and_printed_the_same(client, runner):
    first = client.get("/api/v1/openapi.json").get_data()
    assert client.get("/api/v1/openapi.json").get_data() == first
    printed = runner.invoke(args=["openapi", "print"])
    assert printed.exit_code == 0 and json.loads(printed.output) == json.loads(first)


def test_the_printed_document_is_whole_before_anyone_asked_for_it(runner):
    printed = runner.invoke(args=["openapi", "print"])
    added_paths = {path for path, _ in ADDED} - set(BEFORE["paths"])
    assert printed.exit_code == 0 and len(json.loads(printed.output)["paths"]) == len(BEFORE["paths"]) + len(added_paths)


def test_the_added_operations_state_their_security_and_errors(doc):
    """Each webhook operation needs the site key (401), answers 404 for another site's, and 422
    where it reads input."""
    ops = _operations(doc)
    for key in ADDED:
        op = ops[key]
        assert op["security"] == [{"siteKey": []}], key
        assert {"401", "404"} <= set(op["responses"]), key
        assert op["summary"], key
    assert {"201", "409", "422"} <= set(ops[(WEBHOOKS, "post")]["responses"])
    assert "422" in ops[(f"{WEBHOOK}/deliveries", "get")]["responses"]
    assert set(ops[(WEBHOOK, "delete")]["responses"]) >= {"204"}


# --- the contracts the views keep, now that flask-smorest parses their input -------------------------

def _error(r, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    body = r.get_json()
    assert list(body) == ["error"] and body["error"]["code"] == code, body
    return body["error"]


def test_a_parsed_body_is_refused_in_our_shape_with_field_codes(client, site, key):
    r = client.put("/api/v1/sites/news/settings", headers=auth(key), json={"link_limit": "two", "colour": "red"})
    fields = _error(r, 422, "validation_failed")["fields"]
    assert fields == {"link_limit": [{"code": "invalid_type", "message": "Must be a whole number."}],
                      "colour": [{"code": "unknown_field", "message": "This field is not accepted."}]}


def test_a_parsed_query_is_refused_in_our_shape(client, site, key):
    fields = _error(client.get("/api/v1/sites/news/bans?limit=0&cursor=x", headers=auth(key)),
                    422, "validation_failed")["fields"]
    assert {e["code"] for e in fields["limit"]} == {"out_of_range"} and fields["cursor"][0]["code"] == "invalid_cursor"
    assert client.get("/api/v1/sites/news/bans?limit=2&other=1", headers=auth(key)).status_code == 200


@pytest.mark.parametrize(("data", "content_type", "status", "code"), [
    ("{}", "text/plain", 415, "unsupported_media_type"),
    (b"\xff{}", "application/json", 400, "invalid_encoding"),
    ("{", "application/json", 400, "malformed_json"),
    ("[" * 40 + "]" * 40, "application/json", 400, "json_too_deep"),
    ('{"revision": 1, "note": "\\ud800"}', "application/json", 400, "invalid_characters"),
])
def test_our_json_reading_runs_before_the_schema(client, site, key, data, content_type, status, code):
    r = client.post("/api/v1/sites/news/comments/1/reports/dismiss", headers=auth(key), data=data,
                    content_type=content_type)
    _error(r, status, code)


def test_who_may_ask_is_checked_before_the_input_is_read(client, site, key):
    """The order of the answers is the one before smorest: auth, the site and the origin, the queue
    name, then the body."""
    bad = {"data": "{", "content_type": "application/json"}
    _error(client.put("/api/v1/sites/news/settings", **bad), 401, "unauthorized")
    _error(client.post("/api/v1/sites/news/queues/everything/claim", headers=auth(key), **bad), 404, "queue_not_found")
    _error(client.post("/api/v1/sites/nope/comments/own", **bad), 404, "site_not_found")
    _error(client.post("/api/v1/sites/news/comments/own", headers={"Origin": "https://evil.example"}, **bad),
           403, "origin_not_allowed")
    _error(client.post("/api/v1/sites/nope/comments/1/reports", json={"reason": "nonsense"}), 404, "site_not_found")


def test_unknown_paths_and_methods_under_the_api_keep_our_shape(client, site):
    _error(client.get("/api/v1/nothing-here"), 404, "not_found")
    r = client.delete("/api/v1/sites/news/counts")
    assert set(r.headers["Allow"].split(", ")) >= {"GET"}
    _error(r, 405, "method_not_allowed")
    _error(client.get("/api/v1/sites/news/comments/99999999999"), 404, "not_found")


def test_a_dumped_answer_is_the_schema_dump(client, site, key):
    created = post(client).get_json()
    r = client.patch(f"/api/v1/sites/news/comments/{created['comment']['id']}", json={"body": "Edited."},
                     headers={"X-Edit-Token": created["edit_token"], "Origin": ORIGIN})
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert set(r.get_json()) == {"id", "thread", "parent_id", "author", "body_html", "status", "created_at"}
    payload = comment_payload()
    r = client.post("/api/v1/sites/news/comments", json=payload, headers={"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/sites/news/comments", json=payload, headers={"Idempotency-Key": "k-1"})
    assert (r.status_code, again.status_code) == (201, 201) and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["edit_token"] == r.get_json()["edit_token"] and "Idempotent-Replayed" not in r.headers


def test_no_request_builds_a_schema(client, site, key, monkeypatch):
    """Schemas are built once (a schema class given to @bp.arguments too: webargs would build it on
    every request, and marshmallow copies every field doing it); marshmallow's nested schemas are
    built on first use, so each request is sent twice and only the second counts."""
    created = post(client).get_json()
    cid, token, h = created["comment"]["id"], created["edit_token"], auth(key)
    requests = [
        lambda: client.get("/api/v1/sites/news/comments?thread=article-42"),
        lambda: client.get("/api/v1/sites/news/counts?thread=article-42&thread=other"),
        lambda: post(client),
        lambda: client.post("/api/v1/sites/news/comments/own", json={"comments": [{"id": cid, "edit_token": token}]}),
        lambda: client.patch(f"/api/v1/sites/news/comments/{cid}", json={"body": "Edited."},
                             headers={"X-Edit-Token": token}),
        lambda: client.post(f"/api/v1/sites/news/comments/{cid}/reports", json={"reason": "spam"}),
        lambda: client.put("/api/v1/sites/news/settings", json={"link_limit": 2}, headers=h),
        lambda: client.put("/api/v1/sites/news/settings", json={"link_limit": "two"}, headers=h),
        lambda: client.get("/api/v1/sites/news/queues/unmoderated?limit=5", headers=h),
        lambda: client.post("/api/v1/sites/news/queues/unmoderated/claim", json={"limit": 2}, headers=h),
        lambda: client.post("/api/v1/sites/news/queues/unmoderated/release", json={"ids": [cid]}, headers=h),
        lambda: client.post("/api/v1/sites/news/decisions", headers=h,
                            json={"decisions": [{"id": cid, "action": "approve", "revision": 1}]}),
        lambda: client.post(f"/api/v1/sites/news/comments/{cid}/reports/dismiss", json={"revision": 1}, headers=h),
        lambda: client.get("/api/v1/sites/news/bans", headers=h),
        lambda: client.post("/api/v1/sites/news/privacy/export", json={"email": "x@example.org"}, headers=h),
    ]
    for send in requests:
        assert send().status_code < 500
    built = []
    original = Schema.__init__
    monkeypatch.setattr(Schema, "__init__", lambda self, *a, **k: (built.append(type(self).__name__),
                                                                    original(self, *a, **k))[1])
    for send in requests:
        assert send().status_code < 500
    assert built == []
