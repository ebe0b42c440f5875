"""One JSON error shape for every failure: {"error": {"code", "message", "fields"?}}."""
from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Flask, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from comment_service.extensions import db, limiter

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
}


class FieldError(str):
    """A field message that carries its stable code (marshmallow treats it as a plain string)."""

    code: str

    def __new__(cls, code: str, message: str) -> FieldError:
        obj = super().__new__(cls, message)
        obj.code = code
        return obj


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


def register_errorhandlers(app: Flask) -> None:
    """Answer every error, expected or not, in the one JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        db.session.rollback()  # a refused use case leaves nothing half-done in the session
        fields = field_errors(err.fields) if err.fields else None
        return error_response(err.status, err.code, err.message, fields, err.headers)

    @app.errorhandler(ValidationError)
    def _validation_error(err: ValidationError):
        return error_response(
            422, "validation_failed", "Some fields need attention.", field_errors(err.messages)
        )

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
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
        db.session.rollback()
        # The engine hides SQL parameters, so this traceback holds no email or body.
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
