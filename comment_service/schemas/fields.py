"""Field types and validators shared by every schema; each failure carries a stable code."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields, validate

from comment_service.errors import FieldError
from comment_service.moderation.text import (
    has_bidi_control,
    has_control_char,
    normalise,
    strip_bidi_controls,
)

NAME_MAX, BODY_MAX, THREAD_KEY_MAX, TITLE_MAX, URL_MAX, EMAIL_MAX = 100, 5000, 255, 300, 500, 320
LIMIT_MAX, COUNTS_MAX = 200, 100
ID_MAX = 2**31 - 1


class Length(validate.Length):
    """Length check with stable codes; a subclass so apispec still documents min/max."""

    def __call__(self, value: Any) -> Any:
        if value is None:  # an optional field left empty
            return value
        n = len(value)
        if self.min is not None and n < self.min:
            if self.min == 1:
                raise_field("required", "This field is required.")
            raise_field("too_short", f"Must be at least {self.min} characters.")
        if self.max is not None and n > self.max:
            raise_field("too_long", f"Must be at most {self.max} characters.")
        return value


class Range(validate.Range):
    """Range check with a stable code."""

    def __call__(self, value: Any) -> Any:
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise_field("out_of_range", f"Must be between {self.min} and {self.max}.")
        return value


class Regexp(validate.Regexp):
    """Pattern check with a stable code; a subclass so apispec still documents the pattern."""

    def __init__(self, regex: str, code: str, message: str) -> None:
        super().__init__(regex)
        self.code, self.message = code, message

    def __call__(self, value: Any) -> Any:
        if self.regex.match(value) is None:
            raise_field(self.code, self.message)
        return value


class OneOf(validate.OneOf):
    """Choice check with a stable code; a subclass so apispec still documents the enum."""

    def __call__(self, value: Any) -> Any:
        if value not in self.choices:
            raise_field("invalid_choice", "Must be one of: " + ", ".join(map(str, self.choices)) + ".")
        return value


def raise_field(code: str, message: str) -> None:
    """Fail the current field with a coded message."""
    raise ValidationError(FieldError(code, message))


class Text(fields.String):
    """A plain-text string: NFC-normalised, trimmed, no control characters, bidi rules per field."""

    def __init__(self, *, multiline: bool = False, bidi: str = "refuse", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiline = multiline
        self.bidi = bidi  # "refuse" (names, URLs) or "strip" (bodies)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = normalise(super()._deserialize(value, attr, data, **kwargs)).strip()
        if has_control_char(text, allow_newlines=self.multiline):
            raise_field("invalid_characters", "Contains control characters.")
        if has_bidi_control(text):
            if self.bidi == "refuse":
                raise_field("bidi_control", "Contains invisible text-direction controls.")
            text = strip_bidi_controls(text).strip()
        return text


class OptionalText(Text):
    """Optional text where an empty string means absent."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text or None


def check_web_url(value: str | None) -> None:
    """An author or article URL: absolute http(s) with a host, no spaces."""
    if value is None:
        return
    if any(ch.isspace() for ch in value):
        raise_field("invalid_url", "Enter a web address starting with http:// or https://.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise_field("invalid_url", "Enter a web address starting with http:// or https://.")
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise_field("invalid_url", "Enter a web address starting with http:// or https://.")


class Email(fields.String):
    """An email address checked by email-validator (syntax only, no DNS) and normalised."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = normalise(super()._deserialize(value, attr, data, **kwargs)).strip()
        if not text:
            raise_field("required", "This field is required.")
        if len(text) > EMAIL_MAX:
            raise_field("too_long", f"Must be at most {EMAIL_MAX} characters.")
        try:
            result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
        except EmailNotValidError:
            # The library's own message can quote the address; ours never does.
            raise_field("invalid_email", "Enter a valid email address.")
        return result.normalized

__all__ = [
    "BODY_MAX",
    "COUNTS_MAX",
    "EMAIL_MAX",
    "Email",
    "ID_MAX",
    "LIMIT_MAX",
    "Length",
    "OneOf",
    "NAME_MAX",
    "OptionalText",
    "Range",
    "Regexp",
    "THREAD_KEY_MAX",
    "TITLE_MAX",
    "Text",
    "URL_MAX",
    "check_web_url",
    "raise_field",
]
