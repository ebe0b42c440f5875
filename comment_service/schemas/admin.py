"""Schemas of the author edit/delete, bans and privacy endpoints."""
from __future__ import annotations

from marshmallow import RAISE, Schema

from comment_service.schemas.fields import BODY_MAX, Length, Text


class CommentEditSchema(Schema):
    """An author's new text for their comment (validated exactly like a new comment's body)."""

    class Meta:
        unknown = RAISE

    body = Text(required=True, multiline=True, bidi="strip", validate=Length(1, BODY_MAX))


comment_edit_schema = CommentEditSchema()

__all__ = [
    "CommentEditSchema",
    "comment_edit_schema",
]
