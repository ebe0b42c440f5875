"""One JSON error shape for every failure: {"error": {"code", "message", "fields"?}}."""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Request

from comment_service import database
from comment_service.extensions import limiter
from comment_service.moderation.errors import Conflict, DomainError, FieldError, Forbidden, Invalid, NotFound
from comment_service.security_headers import headers_for, secure

log = logging.getLogger(__name__)

# marshmallow's built-in messages, each given a stable code and our wording. Our own validators
# raise FieldError, which carries its code; anything not listed here is reported as "invalid".
BUILTIN_CODES = {
    "Missing data for required field.": ("required", "This field is required."),
    "Field may not be null.": ("null", "This field may not be null."),
    "Not a valid string.": ("invalid_type", "Must be text."),
    "Not a valid integer.": ("invalid_type", "Must be a whole number."),
    "Not a valid boolean.": ("invalid_type", "Must be true or false."),
    "Not a valid list.": ("invalid_type", "Must be a list."),
    "Invalid input type.": ("invalid_type", "Must be a JSON object."),
    "Unknown field.": ("unknown_field", "This field is not accepted."),
}

HTTP_CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "You may not do this."),
    404: ("not_found", "Nothing is here."),
    405: ("method_not_allowed", "This method is not allowed here."),
    409: ("conflict", "This conflicts with the current state."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send JSON with Content-Type: application/json."),
    429: ("rate_limited", "Too many requests; try again later."),
    500: ("internal_error", "Something went wrong on our side."),
    503: ("unavailable", "The service is unavailable; try again in a moment."),
}
# The one place a domain failure becomes an HTTP status.
DOMAIN_STATUS: dict[type[DomainError], int] = {Invalid: 422, NotFound: 404, Forbidden: 403, Conflict: 409}
DATABASE_UNAVAILABLE = ("database_unavailable", "The service cannot reach its database; try again in a moment.")


class ApiError(Exception):
    """An expected failure with an HTTP status, a stable code and optional per-field errors."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, list[FieldError]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields
        self.headers = headers or {}


def status_of(err: DomainError) -> int:
    """The HTTP status of a domain failure (DOMAIN_STATUS)."""
    return next(code for kind, code in DOMAIN_STATUS.items() if isinstance(err, kind))


def bulk_item(outcome: Any) -> dict[str, Any]:
    """One item of a bulk decision's answer (BulkResultItemSchema) from a services.moderation.BulkOutcome:
    what became of it, or why not, with the HTTP status each would have had alone."""
    err = outcome.error
    if err is None:
        return {"id": outcome.id, "ok": True, "status_code": 200, "status": outcome.status,
                "revision": outcome.revision}
    return {"id": outcome.id, "ok": False, "status_code": status_of(err),
            "error": {"code": err.code, "message": err.message}}


def from_domain(err: DomainError) -> ApiError:
    """The HTTP answer of a domain failure (DOMAIN_STATUS; Retry-After when the error names one)."""
    status = status_of(err)
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    return ApiError(status, err.code, err.message, err.fields, headers)


def field_errors(messages: Any, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    """Flatten marshmallow's nested messages into {"field": [{"code", "message"}]}."""
    out: dict[str, list[dict[str, str]]] = {}
    if isinstance(messages, dict):
        for name, sub in messages.items():
            key = "_request" if name == "_schema" else str(name)
            for field, errs in field_errors(sub, f"{prefix}{key}.").items():
                out.setdefault(field, []).extend(errs)
        return out
    field = prefix.rstrip(".") or "_request"
    items = messages if isinstance(messages, list) else [messages]
    for item in items:
        if isinstance(item, dict):
            for f, errs in field_errors(item, prefix).items():
                out.setdefault(f, []).extend(errs)
            continue
        text = str(item)
        code = getattr(item, "code", None)
        if code is None:
            code, text = BUILTIN_CODES.get(text, ("invalid", text))
        out.setdefault(field, []).append({"code": code, "message": text})
    return out


def error_response(status: int, code: str, message: str, fields: Any = None, headers: Any = None):
    """Build the JSON error response."""
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    resp = jsonify({"error": body})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def retry_after() -> int:
    """Seconds until the limit that refused this request lets the client in again."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def unexpected(err: BaseException, logged: bool = False) -> tuple[int, str, str, dict[str, str]]:
    """How an exception no handler expected is answered: (status, code, message, headers). Never raises.

    The database being unavailable is 503 `database_unavailable` with Retry-After (a read runs
    once more first, see database.RetryReads); anything else is 500 `internal_error`, logged
    unless Flask `logged` it already.
    """
    database.safe_rollback()
    if database.is_unavailable(err):
        retried = database.retry_read()
        # A dropped connection is expected now and then; another fault deserves its traceback.
        log.warning("database unavailable (%s)%s", type(err).__name__, "" if retried else ": answered 503",
                    exc_info=None if database.is_disconnect(err) else err)
        code, message = DATABASE_UNAVAILABLE
        return 503, code, message, {"Retry-After": str(database.RETRY_AFTER_SECONDS)}
    if not logged:  # the engine hides SQL parameters, so the traceback holds no email or body
        log.error("unhandled error", exc_info=err)
    code, message = HTTP_CODES[500]
    return 500, code, message, {}


def register_errorhandlers(app: Flask) -> None:
    """Answer every error, expected or not, in the one JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        database.safe_rollback()  # a refused use case leaves nothing half-done in the session
        fields = field_errors(err.fields) if err.fields else None
        return error_response(err.status, err.code, err.message, fields, err.headers)

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError):
        return _api_error(from_domain(err))

    @app.errorhandler(ValidationError)
    def _validation_error(err: ValidationError):
        return error_response(
            422, "validation_failed", "Some fields need attention.", field_errors(err.messages)
        )

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        if isinstance(err, InternalServerError) and err.original_exception is not None:
            # Flask's last resort: an after_request function or an error handler failed (Flask
            # logged it already).
            status, code, message, headers = unexpected(err.original_exception, logged=True)
            return secure(error_response(status, code, message, headers=headers))
        status = err.code or 500
        code, message = HTTP_CODES.get(status, ("http_error", err.name))
        resp = error_response(status, code, message)
        if status == 429:
            resp.headers["Retry-After"] = str(retry_after())
        if err.response is not None:  # e.g. Retry-After, Allow
            for k in ("Retry-After", "Allow"):
                if k in err.response.headers:
                    resp.headers[k] = err.response.headers[k]
        elif status == 405 and hasattr(err, "valid_methods") and err.valid_methods:
            resp.headers["Allow"] = ", ".join(err.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        status, code, message, headers = unexpected(err)
        return error_response(status, code, message, headers=headers)


class LastResort:
    """WSGI middleware around the app: an exception that escapes Flask itself (its last error
    handler failed, a teardown function raised) is answered 500 in the JSON shape, or, for a
    request under a prefix of `html` that does not prefer JSON, with that prefix's
    `page(status, code, request)`: never with the server's bare HTML page. It needs no app context."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], app: Flask,
                 html: dict[str, Callable[[int, str, Request], tuple[str, dict[str, str]]]] | None = None) -> None:
        self.wsgi_app, self.app, self.html = wsgi_app, app, html or {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # The app's status and headers are held until it returns: an exception after Flask built
        # its answer (in a teardown) may still replace them.
        started: list[Any] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            started[:] = [status, headers, exc_info]
            return lambda data: None  # Flask never writes through this

        try:
            body = self.wsgi_app(environ, hold)
            start_response(*started)
            return body
        except Exception:
            propagate = self.app.config.get("PROPAGATE_EXCEPTIONS")
            if propagate or (propagate is None and (self.app.testing or self.app.debug)):
                raise
            log.exception("unhandled error outside the app's error handlers")
            code, message = HTTP_CODES[500]
            body, headers = json.dumps({"error": {"code": code, "message": message}}), {
                "Content-Type": "application/json", "Cache-Control": "no-store"}
            try:
                req = Request(environ)
                # No after_request runs for this answer: take the security headers from their home.
                headers.update(headers_for(req.path, None, self.app.config.get("MAJLIS_HSTS_SECONDS", 0)))
                for prefix, page in self.html.items():
                    if req.path.startswith(prefix) and req.accept_mimetypes.best_match(
                            ["text/html", "application/json"]) != "application/json":
                        body, page_headers = page(500, code, req)
                        headers = {**headers, **page_headers}
                        break
            except Exception:
                log.exception("could not build the error page; answering JSON")
            data = body.encode()
            start_response("500 INTERNAL SERVER ERROR", [*headers.items(), ("Content-Length", str(len(data)))])
            return [data]
