"""Schemas of the public (widget) API: submit, read, count; errors and probes."""
from __future__ import annotations

import re

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from comment_service.moderation.status import Status
from comment_service.schemas.fields import (
    BODY_CHECK,
    COUNTS_MAX,
    EMAIL_MAX,
    ID_MAX,
    LIMIT_MAX,
    LINE,
    NAME,
    NAME_MAX,
    TEXT,
    THREAD_KEY_MAX,
    THREAD_URL_MAX,
    TITLE_MAX,
    URL_MAX,
    Count,
    Email,
    Length,
    OptionalText,
    Range,
    Text,
    WebUrl,
    raise_field,
)

CURSOR_RE = r"^[0-9]{1,10}$"  # ASCII only: see check_cursor
# What readers may be told a comment's status is (rejected and spam look pending to their author;
# deleted is a tombstone's).
PUBLIC_STATUSES = (Status.PENDING, Status.PUBLISHED, Status.APPROVED, Status.DELETED)


WEB_URL_DOC = {
    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://", "description": "An http(s) address with a host; empty means none."
}


class CommentCreateSchema(Schema):
    """What a reader submits from the comment form."""

    class Meta:
        unknown = RAISE

    thread = Text(
        required=True, policy=NAME, validate=Length(1, THREAD_KEY_MAX),
        metadata={"description": "The article's key: its id or path on the site."},
    )
    thread_title = OptionalText(allow_none=True, load_default=None, policy=LINE, validate=Length(max=TITLE_MAX))
    thread_url = WebUrl(allow_none=True, load_default=None, validate=Length(max=THREAD_URL_MAX), metadata=WEB_URL_DOC)
    parent_id = fields.Integer(strict=True, allow_none=True, load_default=None, validate=Range(1, ID_MAX))
    author_name = Text(required=True, policy=NAME, validate=Length(1, NAME_MAX))
    author_email = Email(required=True, metadata={"format": "email", "maxLength": EMAIL_MAX})
    author_url = WebUrl(allow_none=True, load_default=None, validate=Length(max=URL_MAX), metadata=WEB_URL_DOC)
    body = Text(required=True, policy=TEXT, multiline=True, validate=BODY_CHECK)
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
    """A comment as readers see it; in a thread page, a hidden parent of a listed reply is a tombstone:
    status "deleted", author null, empty body."""

    id = fields.Integer(required=True)
    thread = fields.String(required=True)
    parent_id = fields.Integer(allow_none=True, required=True)
    author = fields.Nested(
        AuthorSchema, required=True, allow_none=True, metadata={"description": "null for a tombstone."}
    )
    body_html = fields.String(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf([s.value for s in PUBLIC_STATUSES]),
        metadata={"description": "`deleted` only for a tombstone: a hidden comment that listed replies answer."},
    )
    created_at = fields.DateTime(required=True)


class CommentCreatedSchema(Schema):
    """Answer to a submission: the comment, the author's secret edit token and its deadline."""

    comment = fields.Nested(CommentSchema, required=True)
    edit_token = fields.String(required=True)
    editable_until = fields.DateTime(required=True, metadata={"description": "Edits and deletes close then."})


class OwnClaimSchema(Schema):
    """A comment id and the edit token the author's browser kept for it."""

    class Meta:
        unknown = RAISE

    id = fields.Integer(strict=True, required=True, validate=Range(1, ID_MAX))
    edit_token = fields.String(required=True, validate=Length(1, 100))


class OwnQuerySchema(Schema):
    """Up to 50 of an author's comments to show them (pending ones included)."""

    class Meta:
        unknown = RAISE

    comments = fields.List(fields.Nested(OwnClaimSchema), required=True, validate=Count(0, 50))


class OwnCommentSchema(Schema):
    """One of the author's own comments."""

    comment = fields.Nested(CommentSchema, required=True)
    editable_until = fields.DateTime(required=True)


class OwnCommentsSchema(Schema):
    """The author's comments that matched their tokens."""

    comments = fields.List(fields.Nested(OwnCommentSchema), required=True)


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

    thread = Text(required=True, policy=NAME, validate=Length(1, THREAD_KEY_MAX))
    cursor = fields.String(load_default=None, validate=check_cursor, metadata={"pattern": CURSOR_RE})
    limit = fields.Integer(load_default=100, validate=Range(1, LIMIT_MAX))


class CountsQuery(Schema):
    """Query of the counts endpoint: up to 100 thread keys."""

    class Meta:
        unknown = EXCLUDE

    thread = fields.List(
        Text(policy=NAME, validate=Length(1, THREAD_KEY_MAX)), required=True, validate=Count(1, COUNTS_MAX)
    )


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
    """The liveness answer."""

    status = fields.String(required=True)


class ReadinessChecksSchema(Schema):
    """Each dependency's state."""

    database = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    rate_limit_store = fields.String(
        required=True, validate=validate.OneOf(["ok", "unavailable", "disabled"]),
        metadata={"description": "While `unavailable`, rate limits are counted per process."},
    )


class ReadinessSchema(Schema):
    """The readiness answer: `ok`, `degraded` (a dependency the service can do without is down;
    still 200) or `unavailable` (503)."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded", "unavailable"]))
    checks = fields.Nested(ReadinessChecksSchema, required=True)


comment_create_schema = CommentCreateSchema()
comment_schema = CommentSchema()
comment_created_schema = CommentCreatedSchema()
own_query_schema = OwnQuerySchema()
comment_page_schema = CommentPageSchema()
comment_list_query = CommentListQuery()
counts_query = CountsQuery()

__all__ = [
    "AuthorSchema",
    "CURSOR_RE",
    "CommentCreateSchema",
    "CommentCreatedSchema",
    "OwnClaimSchema",
    "OwnCommentSchema",
    "OwnCommentsSchema",
    "OwnQuerySchema",
    "CommentListQuery",
    "CommentPageSchema",
    "CommentSchema",
    "CountsQuery",
    "CountsSchema",
    "ErrorBodySchema",
    "ErrorSchema",
    "FieldErrorSchema",
    "HealthSchema",
    "ReadinessChecksSchema",
    "ReadinessSchema",
    "ThreadSchema",
    "WEB_URL_DOC",
    "check_cursor",
    "comment_create_schema",
    "comment_created_schema",
    "own_query_schema",
    "comment_list_query",
    "comment_page_schema",
    "comment_schema",
    "counts_query",
]
