"""marshmallow schemas: the only place request fields are validated, and the response shapes.

Input and output schemas are separate; instances are built once at module level. Every message a
client can get carries a stable code (see errors.FieldError and errors.BUILTIN_CODES).
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

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


def raise_field(code: str, message: str) -> None:
    """Fail the current field with a coded message."""
    from marshmallow import ValidationError

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


CURSOR_RE = r"^[0-9]{1,10}$"  # ASCII only: see check_cursor


WEB_URL_DOC = {"pattern": "^[Hh][Tt][Tt][Pp][Ss]?://", "description": "An http(s) address with a host; empty means none."}


class CommentCreateSchema(Schema):
    """What a reader submits from the comment form."""

    class Meta:
        unknown = RAISE

    thread = Text(required=True, validate=Length(1, THREAD_KEY_MAX), metadata={"description": "The article's key: its id or path on the site."})
    thread_title = OptionalText(allow_none=True, load_default=None, validate=Length(max=TITLE_MAX))
    thread_url = OptionalText(
        allow_none=True, load_default=None, validate=[Length(max=2000), check_web_url], metadata=WEB_URL_DOC
    )
    parent_id = fields.Integer(strict=True, allow_none=True, load_default=None, validate=Range(1, ID_MAX))
    author_name = Text(required=True, validate=Length(1, NAME_MAX))
    author_email = Email(required=True, metadata={"format": "email", "maxLength": EMAIL_MAX})
    author_url = OptionalText(
        allow_none=True, load_default=None, validate=[Length(max=URL_MAX), check_web_url], metadata=WEB_URL_DOC
    )
    body = Text(required=True, multiline=True, bidi="strip", validate=Length(1, BODY_MAX))
    # Honeypot: the widget hides it from people; a bot that fills it is answered like anyone else.
    company = fields.String(
        load_default=None, allow_none=True, validate=Length(max=200),
        metadata={"description": "Leave empty. Hidden from people; filled in only by bots."},
    )


class AuthorSchema(Schema):
    """Public author fields: never the email."""

    name = fields.String(required=True)
    url = fields.String(allow_none=True, required=True)
    avatar = fields.String(required=True, metadata={"description": "Per-site opaque identicon seed."})


class CommentSchema(Schema):
    """A comment as readers see it."""

    id = fields.Integer(required=True)
    thread = fields.String(required=True)
    parent_id = fields.Integer(allow_none=True, required=True)
    author = fields.Nested(AuthorSchema, required=True)
    body_html = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["pending", "published", "approved"]))
    created_at = fields.DateTime(required=True)


class CommentCreatedSchema(Schema):
    """Answer to a submission: the comment and the author's secret edit token."""

    comment = fields.Nested(CommentSchema, required=True)
    edit_token = fields.String(required=True)


class ThreadSchema(Schema):
    """Public thread fields."""

    key = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    url = fields.String(allow_none=True, required=True)
    closed = fields.Boolean(required=True)
    comment_count = fields.Integer(required=True)


class CommentPageSchema(Schema):
    """A page of a thread's visible comments."""

    thread = fields.Nested(ThreadSchema, required=True)
    comments = fields.List(fields.Nested(CommentSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def check_cursor(value: str) -> None:
    """A cursor is a comment id: ASCII digits ("²".isdigit() is true too) within the id range,
    since one past it would overflow PostgreSQL's integer."""
    if not re.fullmatch(CURSOR_RE, value, re.ASCII) or int(value) > ID_MAX:
        raise_field("invalid_cursor", "Not a valid cursor.")


class CommentListQuery(Schema):
    """Query of the public thread read."""

    class Meta:
        unknown = EXCLUDE

    thread = Text(required=True, validate=Length(1, THREAD_KEY_MAX))
    cursor = fields.String(load_default=None, validate=check_cursor, metadata={"pattern": CURSOR_RE})
    limit = fields.Integer(load_default=100, validate=Range(1, LIMIT_MAX))


class CountsQuery(Schema):
    """Query of the counts endpoint: up to 100 thread keys."""

    class Meta:
        unknown = EXCLUDE

    thread = fields.List(Text(validate=Length(1, THREAD_KEY_MAX)), required=True, validate=validate.Length(1, COUNTS_MAX))


class CountsSchema(Schema):
    """Visible comments per thread key."""

    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class FieldErrorSchema(Schema):
    """One problem with one field."""

    code = fields.String(required=True)
    message = fields.String(required=True)


class ErrorBodySchema(Schema):
    """The error object."""

    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields", keys=fields.String(), values=fields.List(fields.Nested(FieldErrorSchema))
    )


class ErrorSchema(Schema):
    """Every error response."""

    error = fields.Nested(ErrorBodySchema, required=True)


class HealthSchema(Schema):
    """Liveness and readiness answers."""

    status = fields.String(required=True)


comment_create_schema = CommentCreateSchema()
comment_schema = CommentSchema()
comment_created_schema = CommentCreatedSchema()
comment_page_schema = CommentPageSchema()
comment_list_query = CommentListQuery()
counts_query = CountsQuery()
