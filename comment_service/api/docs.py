"""The OpenAPI document, generated from the marshmallow schemas, served at /api/v1/openapi.json."""
from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from comment_service import schemas
from comment_service.api import bp
from comment_service.api.converters import SLUG_PATTERN

SITE = {
    "name": "site", "in": "path", "required": True,
    # The URL converter's own pattern: any other id is a 404 before a query runs.
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^{SLUG_PATTERN}$"},
    "description": "The site's public id (slug): lowercase letters, digits and dashes.",
}


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON, invalid UTF-8 or characters no database can store.",
        403: "Origin not allowed, the thread is closed, or the author is banned.",
        404: "No such site.",
        413: "Body over the size limit.",
        415: "Not JSON.",
        422: "Field errors, each with a stable code.",
        429: "Rate limited; see Retry-After.",
    }
    out = {str(c): {"description": text[c], **_json("Error")} for c in codes}
    if 429 in codes:
        out["429"]["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}}
    return out


CACHE_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "Validator; send it back in If-None-Match."},
    "Cache-Control": {"schema": {"type": "string"}, "description": "Short public caching."},
}


def build_spec() -> dict[str, Any]:
    """Describe the API from the schemas that validate and shape it."""
    spec = APISpec(
        title="Majlis comment service",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Comments, moderation and privacy for news sites. Errors share one shape."},
    )
    for name, schema in [
        ("CommentCreate", schemas.CommentCreateSchema),
        ("Comment", schemas.CommentSchema),
        ("CommentCreated", schemas.CommentCreatedSchema),
        ("CommentPage", schemas.CommentPageSchema),
        ("Counts", schemas.CountsSchema),
        ("Error", schemas.ErrorSchema),
        ("Health", schemas.HealthSchema),
    ]:
        spec.components.schema(name, schema=schema)

    spec.path(
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
                    "200": {"description": "A page of comments.", "headers": CACHE_HEADERS, **_json("CommentPage")},
                    "304": {"description": "Unchanged since the ETag you sent.", "headers": CACHE_HEADERS},
                    **_errors(404, 422),
                },
            },
            "post": {
                "summary": "Submit a comment.",
                "operationId": "createComment",
                "requestBody": {"required": True, **_json("CommentCreate")},
                "responses": {
                    "201": {"description": "Stored; `status` says whether it is visible yet.", **_json("CommentCreated")},
                    **_errors(400, 403, 404, 413, 415, 422, 429),
                },
            },
        },
    )
    spec.path(
        path="/api/v1/sites/{site}/counts",
        parameters=[SITE],
        operations={
            "get": {
                "summary": "Count visible comments for up to 100 threads.",
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
                "responses": {"200": {"description": "Counts by thread key.", **_json("Counts")}, **_errors(404, 422)},
            }
        },
    )
    for path, summary, codes in [
        ("/healthz", "The process is up.", {"200": "Up."}),
        ("/readyz", "The database answers.", {"200": "Ready.", "503": "Database unreachable."}),
    ]:
        spec.path(
            path=path,
            operations={"get": {"summary": summary, "responses": {c: {"description": d, **_json("Health")} for c, d in codes.items()}}},
        )
    spec.path(
        path="/api/v1/openapi.json",
        operations={"get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI 3 document.", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    )
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document of this API."""
    doc = current_app.extensions.get("majlis_openapi")
    if doc is None:
        doc = current_app.extensions["majlis_openapi"] = build_spec()
    return doc
