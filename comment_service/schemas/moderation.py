"""Schemas of the moderation API: settings, queues, claims, decisions, history, reports."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from comment_service.moderation.errors import FieldError
from comment_service.moderation.status import Action, RejectReason, ReportReason, Status
from comment_service.schemas.dump import compile_dump
from comment_service.schemas.fields import (
    ID_MAX,
    NAME,
    TEXT,
    Count,
    Length,
    OneOf,
    Origin,
    Range,
    StrictBoolean,
    Text,
)
from comment_service.schemas.public import CURSOR_RE, check_cursor

QUEUE_PAGE_MAX, CLAIM_MAX, BULK_MAX, WORDS_MAX = 100, 100, 100, 1000
MODES = ["pre", "post"]


def _word_list() -> fields.List:
    return fields.List(
        Text(policy=NAME, validate=Length(1, 100)), validate=Count(max=WORDS_MAX),
        metadata={"description": "Whole words, matched Arabic-aware; end an entry with * to match any ending."},
    )


class SettingsSchema(Schema):
    """A site's settings; PUT accepts any subset and answers with all of them."""

    class Meta:
        unknown = RAISE

    mode = fields.String(validate=OneOf(MODES))
    link_limit = fields.Integer(strict=True, validate=Range(0, 100))
    banned_words = _word_list()
    suspect_words = _word_list()
    hold_first_time = StrictBoolean()
    edit_window_minutes = fields.Integer(strict=True, validate=Range(0, 1440))
    report_threshold = fields.Integer(strict=True, validate=Range(1, 1000))
    auto_close_days = fields.Integer(strict=True, allow_none=True, validate=Range(1, 3650))
    language = fields.String(validate=OneOf(["ar", "en"]), metadata={
        "description": "The language of the emails the site's moderators get, unless they chose their own."})
    sla_minutes = fields.Integer(strict=True, allow_none=True, validate=Range(5, 10080), metadata={
        "description": "Alert the site's moderators (once per breach) when the oldest pending comment has waited "
                       "longer than this; null: never."})
    allowed_origins = fields.List(Origin(), validate=Count(max=50))


class SettingsOutSchema(SettingsSchema):
    """Every setting, as stored."""

    class Meta:
        unknown = RAISE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = True


class SlaSchema(Schema):
    """The queue against the site's time limit (sla_minutes)."""

    minutes = fields.Integer(required=True, allow_none=True, metadata={"description": "The limit; null: none."})
    breached = fields.Boolean(required=True, metadata={
        "description": "The oldest pending comment has waited longer than the limit."})
    since = fields.DateTime(required=True, allow_none=True, metadata={"description": "When the limit was passed."})


class QueueCountsSchema(Schema):
    """How many comments wait in each queue."""

    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    oldest_pending_age_seconds = fields.Integer(required=True, allow_none=True)
    sla = fields.Nested(SlaSchema, required=True)


class QueueQuery(Schema):
    """A page of a queue."""

    class Meta:
        unknown = EXCLUDE

    cursor = fields.String(load_default=None, validate=check_cursor, metadata={"pattern": CURSOR_RE})
    limit = fields.Integer(load_default=50, validate=Range(1, QUEUE_PAGE_MAX))


class ModeratorAuthorSchema(Schema):
    """The author as moderators see them: with the email."""

    name = fields.String(required=True)
    email = fields.String(required=True, allow_none=True)
    url = fields.String(required=True, allow_none=True)
    avatar = fields.String(required=True)


class ClaimInfoSchema(Schema):
    """Who holds an item and until when."""

    by = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class ThreadRefSchema(Schema):
    """The thread a comment belongs to."""

    key = fields.String(required=True)
    title = fields.String(required=True, allow_none=True)


class ModeratorCommentSchema(Schema):
    """A comment as moderators see it."""

    id = fields.Integer(required=True)
    thread = fields.Nested(ThreadRefSchema, required=True)
    parent_id = fields.Integer(required=True, allow_none=True)
    author = fields.Nested(ModeratorAuthorSchema, required=True)
    body_html = fields.String(required=True)
    body_source = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in Status]))
    revision = fields.Integer(required=True)
    reasons = fields.List(fields.Dict(), required=True, metadata={"description": "{code, detail, span?} each."})
    spam_score = fields.Float(required=True, allow_none=True)
    open_reports = fields.Integer(required=True)
    claim = fields.Nested(ClaimInfoSchema, required=True, allow_none=True)
    author_history = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    created_at = fields.DateTime(required=True)
    edited_at = fields.DateTime(required=True, allow_none=True)


# ModeratorCommentSchema().dump(item) for queue pages and claims of up to 100 items, compiled from the
# schema (schemas/dump.py): a tenth of marshmallow's cost, and no second definition of the shape.
dump_moderator_comment = compile_dump(ModeratorCommentSchema)


class QueuePageSchema(Schema):
    """A page of a queue, oldest first."""

    items = fields.List(fields.Nested(ModeratorCommentSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class ClaimSchema(Schema):
    """Ask for up to `limit` items nobody else holds, for `lease_seconds`."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(strict=True, load_default=20, validate=Range(1, CLAIM_MAX))
    lease_seconds = fields.Integer(strict=True, load_default=300, validate=Range(10, 3600))


class ReleaseSchema(Schema):
    """Give items back before their lease ends."""

    class Meta:
        unknown = RAISE

    ids = fields.List(fields.Integer(strict=True, validate=Range(1, ID_MAX)), required=True,
                      validate=Count(1, CLAIM_MAX))


class ClaimedSchema(Schema):
    """The items now leased to the caller."""

    items = fields.List(fields.Nested(ModeratorCommentSchema), required=True)


class ReleasedSchema(Schema):
    """How many items were given back."""

    released = fields.Integer(required=True)


class DecisionSchema(Schema):
    """A moderator's decision on the revision they saw."""

    class Meta:
        unknown = RAISE

    action = fields.String(required=True, validate=OneOf([a.value for a in Action]))
    revision = fields.Integer(strict=True, required=True, validate=Range(1, ID_MAX))
    reason = fields.String(
        load_default=None, allow_none=True, validate=OneOf([r.value for r in RejectReason]),
        metadata={"description": "Required with action=reject."},
    )
    note = Text(load_default=None, allow_none=True, policy=TEXT, multiline=True, validate=Length(max=1000))

    @validates_schema
    def _reject_needs_reason(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("action") == Action.REJECT.value and not data.get("reason"):
            raise ValidationError({"reason": [FieldError("required", "Say why you reject it.")]})


class BulkItemSchema(DecisionSchema):
    """One decision of a bulk request."""

    id = fields.Integer(strict=True, required=True, validate=Range(1, ID_MAX))


class BulkSchema(Schema):
    """Up to 100 decisions, each applied on its own."""

    class Meta:
        unknown = RAISE

    decisions = fields.List(fields.Nested(BulkItemSchema), required=True, validate=Count(1, BULK_MAX))


class DecidedSchema(Schema):
    """The comment after a decision."""

    comment = fields.Nested(ModeratorCommentSchema, required=True)


class BulkErrorSchema(Schema):
    """Why one item of a bulk request failed."""

    code = fields.String(required=True)
    message = fields.String(required=True)


class BulkResultItemSchema(Schema):
    """The outcome for one item."""

    id = fields.Integer(required=True)
    ok = fields.Boolean(required=True)
    status_code = fields.Integer(required=True)
    status = fields.String()
    revision = fields.Integer()
    error = fields.Nested(BulkErrorSchema)


class BulkResultSchema(Schema):
    """The outcome of every item, in request order."""

    results = fields.List(fields.Nested(BulkResultItemSchema), required=True)


class HistoryEntrySchema(Schema):
    """One recorded change (a services.changes.CommentChanged read back from the audit log)."""

    id = fields.Integer(required=True)
    revision = fields.Integer(required=True)
    actor_type = fields.String(required=True, attribute="actor")
    actor = fields.String(required=True, allow_none=True, attribute="actor_id")
    from_status = fields.String(required=True, allow_none=True)
    to_status = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True, attribute="at")


class HistorySchema(Schema):
    """Every change of a comment, oldest first."""

    history = fields.List(fields.Nested(HistoryEntrySchema), required=True)


class ReportCreateSchema(Schema):
    """A reader's report."""

    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=OneOf([r.value for r in ReportReason]))
    note = Text(load_default=None, allow_none=True, policy=TEXT, multiline=True, validate=Length(max=500))


class ReportReceivedSchema(Schema):
    """Acknowledgement of a report (the same whether it was new or a repeat)."""

    received = fields.Boolean(required=True)


class ReportSchema(Schema):
    """A report as moderators see it (reporters stay anonymous)."""

    id = fields.Integer(required=True)
    reason = fields.String(required=True)
    note = fields.String(required=True, allow_none=True)
    resolved = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class ReportListSchema(Schema):
    """A comment's reports."""

    reports = fields.List(fields.Nested(ReportSchema), required=True)


class DismissSchema(Schema):
    """Close a comment's open reports as unfounded."""

    class Meta:
        unknown = RAISE

    revision = fields.Integer(strict=True, required=True, validate=Range(1, ID_MAX))
    note = Text(load_default=None, allow_none=True, policy=TEXT, multiline=True, validate=Length(max=1000))


settings_schema = SettingsSchema()
settings_out_schema = SettingsOutSchema()
queue_query = QueueQuery()
claim_schema = ClaimSchema()
release_schema = ReleaseSchema()
decision_schema = DecisionSchema()
bulk_schema = BulkSchema()
report_create_schema = ReportCreateSchema()
dismiss_schema = DismissSchema()

__all__ = [
    "BulkItemSchema", "BulkResultSchema", "BulkSchema", "ClaimSchema", "ClaimedSchema", "DecidedSchema",
    "DecisionSchema", "DismissSchema", "HistorySchema", "ModeratorCommentSchema", "QueueCountsSchema",
    "QueuePageSchema", "QueueQuery", "ReleaseSchema", "ReleasedSchema", "ReportCreateSchema", "ReportListSchema",
    "ReportReceivedSchema", "SettingsOutSchema", "SettingsSchema", "bulk_schema", "claim_schema",
    "decision_schema", "dismiss_schema", "dump_moderator_comment", "queue_query", "release_schema",
    "report_create_schema", "settings_out_schema", "settings_schema",
]
