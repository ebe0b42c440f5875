"""The API's one Blueprint, "api" (so every endpoint is `api.<view>`), and how it parses inputs.

smorest parses what a view declares with `@bp.arguments`, with our own JSON reading first
(`api.http.json_body`: 415, 400 `malformed_json` / `invalid_encoding` / `json_too_deep` /
`invalid_characters`) and marshmallow's errors answered in our 422 shape by errors.py.

A view's decorators read in two parts: first its route and what it only declares (answers it
writes itself, `errors`, inputs it `reads`, `doc`), then what runs, outermost first: who may ask
(`site_key`, `cors.public`, a rate limit), the queue in the URL, the parsed input (`arguments`,
given to the view as its first argument) and the dumped answer (`response`).
"""
from __future__ import annotations

from typing import Any, NoReturn

import marshmallow as ma
from flask import Request
from webargs.flaskparser import FlaskParser

from comment_service.api.http import json_body
from comment_service.auth import require_site_key
from comment_service.contracts import SITE_KEY, Blueprint, View


class Parser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies with json_body and raising marshmallow's error as it is."""

    def load_json(self, req: Request, schema: ma.Schema) -> Any:
        return json_body()

    def handle_error(self, error: ma.ValidationError, req: Request, schema: ma.Schema, *,
                     error_status_code: int | None, error_headers: Any) -> NoReturn:
        # webargs files the messages under the location ({"json": {...}}); fields are named as sent.
        (error.messages,) = error.messages.values()  # type: ignore[misc]
        raise error


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = Parser()


bp = ApiBlueprint("api", __name__, url_prefix="/api/v1", description="The REST API.")


def site_key(view: View) -> View:
    """The view runs only with the API key of the site in the URL (auth.require_site_key: 401, or
    404 for another site's key, before any input is read), and the document says so: the
    operation's security and its 401."""
    return require_site_key(bp.errors(401)(bp.doc(security=SITE_KEY)(view)))
