"""Each endpoint's contract, stated once, on its view (flask-smorest over apispec and marshmallow).

A view declares what it takes and what it answers with `Blueprint`'s decorators: smorest's
`arguments` (parsed and validated before the view runs), `response` (dumped through the schema),
`alt_response` and `doc`, plus `reads` (an input the view reads itself, see there) and `errors`
(its error answers, all in the one Error shape). `Api` turns the declarations into the OpenAPI
document served at /api/v1/openapi.json, built on the first request for it.

Errors stay errors.py's: smorest's error handler and its default error response are switched
off, so every failure, 422s from smorest's parsing included, keeps `{"error": {code, message,
fields?}}`. Documentation-only decorators (`doc`, `alt_response`, `reads`, `errors`) leave the view
as it is: they add no call to a request (smorest's own wrap the view in a layer per decorator,
about a microsecond each, which the hot read and the counts would pay on every request).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import flask
import flask_smorest
from flask_smorest.spec.plugins import FlaskPlugin
from werkzeug.routing import Rule

from comment_service.converters import ID_MAX, SLUG_PATTERN, IdConverter, SlugConverter
from comment_service.schemas import ErrorSchema

View = Callable[..., Any]

TITLE, VERSION, OPENAPI_VERSION = "Majlis comment service", "1.0.0", "3.0.3"
INFO = {"description": "Comments, moderation and privacy for news sites. Errors share one shape."}
SITE_KEY = [{"siteKey": []}]  # an operation's security: the site's API key
SECURITY_SCHEMES = {"siteKey": {"type": "http", "scheme": "bearer", "description": "A site's API key."}}

# The schema and description of each path parameter, by the URL converter that matches it: the
# router's own rules (anything else is a 404 before a query runs).
PATH_PARAMETERS: dict[type, tuple[dict[str, Any], str | None]] = {
    SlugConverter: ({"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^{SLUG_PATTERN}$"},
                    "The site's public id (slug): lowercase letters, digits and dashes."),
    IdConverter: ({"type": "integer", "minimum": 0, "maximum": ID_MAX}, None),
}

# What each error status means unless an operation says more (errors(..., e404="...")).
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
ERROR = ErrorSchema()  # every error answer's schema, one instance for all
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}},
}


def _merged(old: Any, new: Any) -> Any:
    """`old` with `new` added: dicts merged key by key, lists joined. The containers on the way are
    new; the values in them (schema instances included) are shared, never copied."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{key: _merged(old[key], value) if key in old else value for key, value in new.items()}}
    if isinstance(old, list) and isinstance(new, list):
        return [*old, *new]
    return new


def _declare(view: View, declaration: dict[str, Any]) -> View:
    """Add a declaration to the view's (`_apidoc`, which smorest's `Blueprint.route` reads)."""
    view._apidoc = _merged(getattr(view, "_apidoc", {}), declaration)  # type: ignore[attr-defined]
    return view


def _blank() -> None:
    """What smorest's documentation decorators are applied to, to learn what they declare."""


def _documentation_only(decorator: Callable[[View], View]) -> Callable[[View], View]:
    """A smorest decorator for what it declares only: no wrapper around the view (a call on every
    request), and no copy of the view's earlier declarations (smorest deep-copies them, schema
    instances included, at every decorator: 500 copies of the Error schema, 2 MB a worker)."""
    return lambda view: _declare(view, decorator(_blank)._apidoc)  # type: ignore[attr-defined]


class Blueprint(flask_smorest.Blueprint):
    """smorest's Blueprint; its documentation decorators add nothing to a request."""

    def arguments(self, schema: Any, **kwargs: Any) -> Callable[[View], View]:
        """smorest's `arguments` (parsed and validated before the view runs, the view gets them as its
        first argument), with a schema class built once: webargs would build it on every request
        (marshmallow copies every field then: 0.2 ms on a queue page)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    @staticmethod
    def doc(**kwargs: Any) -> Callable[[View], View]:
        """smorest's `doc` (free-form OpenAPI for the operation), declaration only."""
        return _documentation_only(flask_smorest.Blueprint.doc(**kwargs))

    def alt_response(self, status_code: int, *args: Any, **kwargs: Any) -> Callable[[View], View]:
        """smorest's `alt_response` (a documented answer, not dumped), declaration only; with
        `success=True` it documents the answer of a view that writes its body itself."""
        return _documentation_only(super().alt_response(status_code, *args, **kwargs))

    @staticmethod
    def reads(schema: Any, *, location: str = "json", required: bool = True) -> Callable[[View], View]:
        """Declare an input that the view reads itself, documented as `arguments` documents one.

        For the inputs smorest must not parse before the view runs: a header with its own decoding
        (the moderator's name, an edit token, an Idempotency-Key), a body the view checks only after
        an earlier step (a replayed submission is answered before its body is validated), the hot
        thread read, and the counts, whose answer is keyed by the keys as sent. Name the schema
        instance the view loads, so that what is documented and what is checked cannot differ.
        """
        # The entry smorest's `arguments` writes (flask_smorest/arguments.py), without its 422.
        entry = {"in": location, "required": required, "schema": schema}
        return lambda view: _declare(view, {"arguments": {"parameters": [entry]}})

    def errors(self, *codes: int, **texts: str) -> Callable[[View], View]:
        """Declare a view's error answers, all in the Error shape; `e404="..."` says more than
        ERROR_TEXT for one of them."""

        def apply(view: View) -> View:
            for code in codes:
                view = self.alt_response(code, schema=ERROR, description=texts.get(f"e{code}", ERROR_TEXT[code]),
                                         headers=ERROR_HEADERS.get(code))(view)
            return view

        return apply

    def route_undocumented(self, rule: str, **options: Any) -> Callable[[View], View]:
        """A route left out of the OpenAPI document (registered as a plain Flask route)."""

        def apply(view: View) -> View:
            flask.Blueprint.add_url_rule(self, rule, options.pop("endpoint", None), view, **options)
            return view

        return apply


class PathParameters(FlaskPlugin):
    """smorest's path parameters from the URL rule, each with its converter's schema and description."""

    def rule_to_params(self, rule: Rule) -> list[dict[str, Any]]:
        params = super().rule_to_params(rule)
        for param in params:
            converter = type(rule._converters[param["name"]])
            if converter in PATH_PARAMETERS:
                schema, description = PATH_PARAMETERS[converter]
                param["schema"] = dict(schema)
                if description:
                    param["description"] = description
        return params


class Api(flask_smorest.Api):
    """The OpenAPI document of an app, from the declarations on the views of its blueprints.

    Its operations are resolved when the document is first read (the served document, `flask
    openapi print`), not at start-up: a worker that never serves it never spends the time or the
    memory (apispec resolving every schema) on it.
    """

    DEFAULT_ERROR_RESPONSE_NAME = None  # every operation declares its own error answers
    ERROR_SCHEMA = ErrorSchema

    def __init__(self, app: flask.Flask) -> None:
        self._pending: list[tuple[flask_smorest.Blueprint, str]] = []
        self._document: dict[str, Any] | None = None
        self._lock = threading.Lock()
        super().__init__(app, spec_kwargs={
            "title": TITLE, "version": VERSION, "openapi_version": OPENAPI_VERSION, "info": INFO,
            "flask_plugin": PathParameters(),
        })
        for name, scheme in SECURITY_SCHEMES.items():
            self._spec.components.security_scheme(name, scheme)
        app.extensions["majlis_api"] = self

    @property
    def spec(self) -> Any:
        """smorest's APISpec, with the operations of every registered blueprint in it."""
        if self._pending:
            with self._lock:
                for blp, name in self._pending:
                    blp.register_views_in_doc(self, self._app, self._spec, name=name, parameters=None)
                    self._spec.tag({"name": name, "description": blp.description})
                self._pending.clear()
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec = value

    def _register_error_handlers(self) -> None:
        """None: errors.py answers every error, in the one shape."""

    def _register_etag_headers(self) -> None:
        """None: the thread read makes its own ETags (services.thread_page)."""

    def _register_pagination_header(self) -> None:
        """None: pages carry `next_cursor`, not smorest's pagination header (its schema would join the document)."""

    def register_blueprint(self, blp: flask_smorest.Blueprint, **options: Any) -> None:  # type: ignore[override]
        """Serve the blueprint now; put its operations in the document when the document is read."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._pending.append((blp, name))

    def document(self) -> dict[str, Any]:
        """The OpenAPI document (built once)."""
        if self._document is None:
            self._document = self.spec.to_dict()
        return self._document


def document() -> dict[str, Any]:
    """The current app's OpenAPI document."""
    api: Api = flask.current_app.extensions["majlis_api"]
    return api.document()
