"""Request helpers shared by the API views: strict JSON bodies."""
from __future__ import annotations

import json
from typing import Any

from flask import request

from comment_service.errors import ApiError, FieldError
from comment_service.moderation.text import has_lone_surrogate


def _bad_strings(value: Any, path: str, out: dict[str, list[FieldError]]) -> None:
    """Collect fields whose strings no database can store: lone surrogates and NUL."""
    if isinstance(value, str):
        if has_lone_surrogate(value) or "\x00" in value:
            out.setdefault(path or "_request", []).append(
                FieldError("invalid_characters", "Contains characters that are not valid text.")
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            _bad_strings(k, path or "_request", out)
            _bad_strings(v, str(k) if not path else f"{path}.{k}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _bad_strings(v, f"{path}.{i}" if path else str(i), out)


def json_body() -> Any:
    """The request's JSON document: 415 if not JSON, 400 if not UTF-8 or not valid JSON or not text."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send JSON with Content-Type: application/json.")
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH this raises 413
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "The request body is not valid UTF-8.") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from None
    bad: dict[str, list[FieldError]] = {}
    _bad_strings(data, "", bad)
    if bad:
        raise ApiError(400, "invalid_characters", "Some fields hold characters that are not valid text.", bad)
    return data
