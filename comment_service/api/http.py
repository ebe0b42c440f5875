"""Request helpers shared by the API views: strict JSON bodies."""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import request

from comment_service.errors import ApiError, FieldError
from comment_service.moderation.text import has_lone_surrogate

# No request of the API nests deeper than 3 levels ({"decisions": [{...}]} is 3); Python's parser
# recurses once per level and fails at about 1,000 (RecursionError). The limit is checked before
# parsing, by a linear scan that needs no recursion.
JSON_MAX_DEPTH = 32
# A JSON string (escapes included) or one bracket: brackets inside strings are skipped with them.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def nesting_exceeds(text: str, limit: int = JSON_MAX_DEPTH) -> bool:
    """True when a JSON text opens more than `limit` arrays or objects inside one another."""
    if text.count("[") + text.count("{") <= limit:  # the usual body: nothing to scan
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > limit:
                return True
        elif token == "]" or token == "}":
            depth = max(0, depth - 1)
    return False


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
    """The request's JSON document: 415 if not JSON, 400 if not UTF-8, nested too deep, not valid JSON
    or not text."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send JSON with Content-Type: application/json.")
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH this raises 413
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "The request body is not valid UTF-8.") from None
    too_deep = ApiError(
        400, "json_too_deep", f"The request body nests arrays and objects more than {JSON_MAX_DEPTH} levels deep."
    )
    if nesting_exceeds(text):
        raise too_deep
    try:
        data = json.loads(text)
    except RecursionError:  # not reachable under the limit; kept so no nesting can ever be a 500
        raise too_deep from None
    except ValueError:
        raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from None
    bad: dict[str, list[FieldError]] = {}
    _bad_strings(data, "", bad)
    if bad:
        raise ApiError(400, "invalid_characters", "Some fields hold characters that are not valid text.", bad)
    return data


_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def header_text(value: str) -> str:
    """The text a client meant in a header value: UTF-8, or percent-encoded UTF-8.

    WSGI hands header bytes over decoded as Latin-1 (PEP 3333); they are encoded back and read as
    UTF-8, so محمد arrives as محمد and not as mojibake. A value that is all ASCII and holds a %
    followed by two hex digits is read as percent-encoded UTF-8 (RFC 3986 2.1; a literal % is then
    %25). Raises UnicodeError when the bytes are not UTF-8.
    """
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # already text (a test client, or a server that decoded UTF-8 itself)
        text = value
    else:
        text = raw.decode("utf-8")
    if text.isascii() and _PERCENT_ESCAPE.search(text):
        text = unquote_to_bytes(text).decode("utf-8")
    return text

