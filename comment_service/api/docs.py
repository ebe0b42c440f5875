"""The OpenAPI document of the public API, and the endpoint that serves the whole document."""
from __future__ import annotations

from flask import current_app

from comment_service import schemas
from comment_service.api import bp
from comment_service.api.openapi import (
    CACHE_HEADERS,
    ERROR_TEXT,
    SITE,
    build_spec,
    component,
    document,
    errors,
    json_content,
)
from comment_service.services import idempotency

for name, schema in [
    ("CommentCreate", schemas.CommentCreateSchema),
    ("Comment", schemas.CommentSchema),
    ("CommentCreated", schemas.CommentCreatedSchema),
    ("OwnQuery", schemas.OwnQuerySchema),
    ("OwnComments", schemas.OwnCommentsSchema),
    ("CommentPage", schemas.CommentPageSchema),
    ("Counts", schemas.CountsSchema),
    ("Error", schemas.ErrorSchema),
    ("Health", schemas.HealthSchema),
    ("Readiness", schemas.ReadinessSchema),
]:
    component(name, schema)

IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER, "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.KEY_MAX, "pattern": idempotency.KEY_PATTERN},
    "description": "One per submission (a UUID, say), sent again with the same body when retrying it: within "
                   "24 hours a retry answers the comment the first attempt stored instead of storing another. "
                   "1-200 printable ASCII characters.",
}

document(
    path="/api/v1/sites/{site}/comments",
    parameters=[SITE],
    operations={
        "get": {
            "summary": "Read a thread's visible comments, oldest first.",
            "operationId": "listComments",
            "parameters": [
                {"in": "query", "schema": schemas.CommentListQuery},
                {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "A page of comments.", "headers": CACHE_HEADERS, **json_content("CommentPage")},
                "304": {"description": "Unchanged since the ETag you sent.", "headers": CACHE_HEADERS},
                **errors(404, 422),
            },
        },
        "post": {
            "summary": "Submit a comment.",
            "operationId": "createComment",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, **json_content("CommentCreate")},
            "responses": {
                "201": {
                    "description": "Stored; `status` says whether it is visible yet. A retry with the same "
                                   "Idempotency-Key gets the same answer (the comment as it is now, the same "
                                   "edit token) and stores nothing.",
                    "headers": {"Idempotent-Replayed": {
                        "required": False, "schema": {"type": "string", "enum": ["true"]},
                        "description": "Present on the answer to a retry: an earlier request stored this comment.",
                    }},
                    **json_content("CommentCreated"),
                },
                **errors(
                    400, 403, 404, 409, 413, 415, 422, 429,
                    e400=ERROR_TEXT[400] + " A malformed Idempotency-Key (`invalid_idempotency_key`).",
                    e409="The submission this Idempotency-Key stored has been deleted since (`submission_withdrawn`), "
                         "or another request with the key is being stored (`conflict`).",
                    e422=ERROR_TEXT[422] + " The Idempotency-Key was used for another submission "
                         "(`idempotency_key_reused`).",
                ),
            },
        },
    },
)
document(
    path="/api/v1/sites/{site}/comments/own",
    parameters=[SITE],
    operations={
        "post": {
            "summary": "An author's own comments, by the edit tokens their browser kept (pending ones included).",
            "operationId": "ownComments",
            "requestBody": {"required": True, **json_content("OwnQuery")},
            "responses": {
                "200": {"description": "The comments whose token matched; others are left out.",
                        **json_content("OwnComments")},
                **errors(400, 403, 404, 413, 415, 422),
            },
        },
    },
)
document(
    path="/api/v1/sites/{site}/counts",
    parameters=[SITE],
    operations={
        "get": {
            "summary": "Count visible comments for up to 100 threads.",
            "description": (
                "Up to 100 keys and 7,500 bytes of URL (path and query, percent-encoded) per request: "
                "the production set-up's request line holds 8 KB, and 100 Arabic slugs of 40 letters "
                "take 24 KB. count.js splits its keys into batches within both limits. The answer maps "
                "each key as sent to its count (unknown threads count 0)."
            ),
            "operationId": "countComments",
            "parameters": [
                {
                    "name": "thread", "in": "query", "required": True, "style": "form", "explode": True,
                    "schema": {
                        "type": "array", "minItems": 1, "maxItems": schemas.COUNTS_MAX,
                        "items": {"type": "string", "minLength": 1, "maxLength": schemas.THREAD_KEY_MAX},
                    },
                }
            ],
            "responses": {
                "200": {"description": "Counts by thread key.", **json_content("Counts")}, **errors(404, 422)
            },
        }
    },
)
for path, summary, schema, codes in [
    ("/healthz", "The process is up.", "Health", {"200": "Up."}),
    ("/readyz", "The database answers; each dependency's state.", "Readiness", {
        "200": "Ready (`ok`), or `degraded`: the rate-limit store is unreachable, so limits are counted per "
               "process until it answers.",
        "503": "Database unreachable (`unavailable`).",
    }),
]:
    document(
        path=path,
        operations={"get": {
            "summary": summary,
            "responses": {c: {"description": d, **json_content(schema)} for c, d in codes.items()},
        }},
    )
document(
    path="/api/v1/openapi.json",
    operations={"get": {
        "summary": "This document.",
        "responses": {"200": {"description": "OpenAPI 3 document.", **json_content({"type": "object"})}},
    }},
)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document of this API."""
    doc = current_app.extensions.get("majlis_openapi")
    if doc is None:
        doc = current_app.extensions["majlis_openapi"] = build_spec()
    return doc
