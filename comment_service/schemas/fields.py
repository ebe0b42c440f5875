"""Field types and validators shared by every schema; each failure carries a stable code."""
from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from marshmallow import ValidationError, fields, validate

from comment_service.moderation.errors import FieldError
from comment_service.moderation.sanitize import sanitize_body, text_of
from comment_service.moderation.text import (
    LINE,
    NAME,
    TEXT,
    URL,
    TextPolicy,
    TextRefused,
    clean_text,
    has_visible_text,
    normalise,
)
from comment_service.moderation.urls import UrlRefused, normalise_origin, normalise_web_url

NAME_MAX, BODY_MAX, THREAD_KEY_MAX, TITLE_MAX, URL_MAX, EMAIL_MAX = 100, 5000, 255, 300, 500, 320
THREAD_URL_MAX = 2000  # URL lengths count the stored, percent-encoded form (the columns' sizes)
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
    """A plain-text string, cleaned by its text policy (moderation/text.py: NFC, trimmed, invisible
    characters refused, removed or kept as the policy's table says)."""

    def __init__(self, *, policy: TextPolicy = NAME, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy, self.multiline = policy, multiline

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        try:
            return clean_text(super()._deserialize(value, attr, data, **kwargs), self.policy, self.multiline)
        except TextRefused as refused:
            raise ValidationError(FieldError(refused.code, refused.message)) from None


class BodyLength(Length):
    """A body's length (checked first: bleach slows sharply on huge input), then that it shows
    something once sanitised: `<svg onload=...>` alone becomes an empty paragraph."""

    def __call__(self, value: Any) -> Any:
        super().__call__(value)
        if not has_visible_text(text_of(sanitize_body(value))):
            raise_field("no_visible_text", "Write some text: markup alone shows nothing.")
        return value


BODY_CHECK = BodyLength(1, BODY_MAX)


class OptionalText(Text):
    """Optional text where an empty string means absent."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text or None


class WebUrl(OptionalText):
    """An author's or article's http(s) address, stored normalised (moderation/urls.py): lowercase
    scheme and host, IDNA host (punycode when it mixes scripts), percent-encoded path; empty is none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(policy=URL, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        try:
            return normalise_web_url(text)
        except UrlRefused:
            raise ValidationError(
                FieldError("invalid_url", "Enter a web address starting with http:// or https://.")
            ) from None


class Origin(fields.String):
    """A site's origin, scheme://host[:port], stored as browsers send it in Origin (ASCII host)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        try:
            return normalise_origin(normalise(super()._deserialize(value, attr, data, **kwargs)).strip())
        except UrlRefused:
            raise ValidationError(
                FieldError("invalid_origin", "Give an origin like https://news.example (no path).")
            ) from None


# RFC 5321 4.5.3.1.1: a local part is at most 64 octets (email-validator counts characters, and
# only in strict mode). RFC 1123 2.1 and ICANN: a top-level domain is letters, two at least (or an
# IDN's xn-- form), never numeric.
LOCAL_PART_MAX_OCTETS = 64
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def validated_email(address: str) -> ValidatedEmail:
    """email-validator's answer (syntax only, no DNS, internationalised addresses allowed) with the
    two RFC limits it leaves open; EmailNotValidError otherwise. Every email and domain check uses it."""
    result = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    if len(result.local_part.encode("utf-8")) > LOCAL_PART_MAX_OCTETS:
        raise EmailNotValidError("local part over 64 octets")
    if not _TLD.match(result.ascii_domain.rpartition(".")[2].lower()):
        raise EmailNotValidError("top-level domain is not two or more letters")
    return result


class Email(fields.String):
    """An email address checked by validated_email and normalised."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = normalise(super()._deserialize(value, attr, data, **kwargs)).strip()
        if not text:
            raise_field("required", "This field is required.")
        if len(text) > EMAIL_MAX:
            raise_field("too_long", f"Must be at most {EMAIL_MAX} characters.")
        try:
            result = validated_email(text)
        except EmailNotValidError:
            # The library's own message can quote the address; ours never does.
            raise_field("invalid_email", "Enter a valid email address.")
        return result.normalized


class Count(validate.Length):
    """How many items a list holds, with stable codes; a subclass so apispec documents min/maxItems."""

    def __call__(self, value: Any) -> Any:
        n = len(value)
        if self.min is not None and n < self.min:
            raise_field("too_few", f"Give at least {self.min}.")
        if self.max is not None and n > self.max:
            raise_field("too_many", f"Give at most {self.max}.")
        return value


class StrictBoolean(fields.Boolean):
    """JSON true or false, nothing else (marshmallow's truthy={True} lets 1 and 0 in: 0 == False)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise_field("invalid_type", "Must be true or false.")
        return value


__all__ = [
    "BODY_MAX",
    "BODY_CHECK",
    "Count",
    "StrictBoolean",
    "validated_email",
    "LINE",
    "NAME",
    "TEXT",
    "URL",
    "COUNTS_MAX",
    "EMAIL_MAX",
    "Email",
    "ID_MAX",
    "LIMIT_MAX",
    "Length",
    "OneOf",
    "NAME_MAX",
    "OptionalText",
    "Origin",
    "Range",
    "Regexp",
    "THREAD_KEY_MAX",
    "THREAD_URL_MAX",
    "TITLE_MAX",
    "Text",
    "URL_MAX",
    "WebUrl",
    "raise_field",
]
