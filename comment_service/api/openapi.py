"""Building blocks of the OpenAPI document: every API module registers its own paths here.

The document is generated from the marshmallow schemas (apispec) and served at
/api/v1/openapi.json; `document(...)` and `component(...)` are called at import time by the
modules that define the views, so each view and its description live side by side.
"""
from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from comment_service.api.converters import SLUG_PATTERN

_COMPONENTS: dict[str, type[Schema]] = {}
_PATHS: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []

SITE = {
    "name": "site", "in": "path", "required": True,
    # The URL converter's own pattern: any other id is a 404 before a query runs.
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^{SLUG_PATTERN}$"},
    "description": "The site's public id (slug): lowercase letters, digits and dashes.",
}


def json_content(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


ERROR_TEXT = {
    400: "Malformed JSON, invalid UTF-8 or characters no database can store.",
    401: "Missing or invalid API key.",
    403: "Origin not allowed, the thread is closed, or the author is banned.",
    404: "No such site.",
    409: "Conflict: a stale revision, an item claimed by someone else, or a transition that does not apply.",
    413: "Body over the size limit.",
    415: "Not JSON.",
    422: "Field errors, each with a stable code.",
    429: "Rate limited; see Retry-After.",
}


def errors(*codes: int, **texts: str) -> dict[str, Any]:
    """Documented error answers (all in the Error shape); `texts` overrides a description, e.g. e404="..."."""
    out = {
        str(c): {"description": texts.get(f"e{c}", ERROR_TEXT[c]), **json_content("Error")} for c in codes
    }
    if 429 in codes:
        out["429"]["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}}
    if 401 in codes:
        out["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return out


CACHE_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "Validator; send it back in If-None-Match."},
    "Cache-Control": {"schema": {"type": "string"}, "description": "Short public caching."},
}



def component(name: str, schema: type[Schema]) -> str:
    """Register a schema under a component name; returns the name for references."""
    _COMPONENTS[name] = schema
    return name


def document(path: str, operations: dict[str, Any], parameters: list[dict[str, Any]] | None = None) -> None:
    """Register the operations of a path (several modules may add methods to one path)."""
    _PATHS.append((path, operations, parameters or []))


def build_spec() -> dict[str, Any]:
    """Describe the API from the schemas that validate and shape it."""
    spec = APISpec(
        title="Majlis comment service",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Comments, moderation and privacy for news sites. Errors share one shape."},
    )
    spec.components.security_scheme("siteKey", {"type": "http", "scheme": "bearer", "description": "A site's API key."})
    for name, schema in _COMPONENTS.items():
        spec.components.schema(name, schema=schema)
    merged: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for path, operations, parameters in _PATHS:
        ops, params = merged.setdefault(path, ({}, []))
        ops.update(operations)
        params.extend(p for p in parameters if p not in params)
    for path, (operations, parameters) in merged.items():
        spec.path(path=path, operations=operations, parameters=parameters)
    return spec.to_dict()
