"""Schemas of the author edit/delete, bans and privacy endpoints."""
from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validates_schema

from comment_service.moderation import privacy
from comment_service.moderation.errors import FieldError
from comment_service.moderation.text import normalise
from comment_service.schemas.fields import (
    BODY_CHECK,
    EMAIL_MAX,
    LINE,
    TEXT,
    Email,
    Length,
    OneOf,
    OptionalText,
    Range,
    StrictBoolean,
    Text,
    raise_field,
    validated_email,
)
from comment_service.schemas.public import CURSOR_RE, check_cursor

BAN_KINDS = ["email", "domain", "ip"]
BAN_VALUE_MAX, BAN_REASON_MAX, BAN_DAYS_MAX, BAN_PAGE_MAX = 320, 500, 3650, 200
# Bans are stored as keyed digests of the same /24 or /48 prefix submissions are hashed under, so a
# wider range cannot be one ban; a narrower one (a single address) bans its whole /24 or /48.
IP_PREFIX_BITS = {4: 24, 6: 48}


class CommentEditSchema(Schema):
    """An author's new text for their comment (validated exactly like a new comment's body)."""

    class Meta:
        unknown = RAISE

    body = Text(required=True, policy=TEXT, multiline=True, validate=BODY_CHECK)


def normalise_email(value: str) -> str:
    """An email as submissions store it (validated_email); a coded field error otherwise."""
    try:
        return validated_email(value).normalized
    except EmailNotValidError:
        raise ValidationError(FieldError("invalid_email", "Enter a valid email address.")) from None


def normalise_domain(value: str) -> str:
    """An email domain in the form email-validator gives submissions (lowercase, Unicode IDN)."""
    domain = value.removeprefix("@")
    if not domain or "@" in domain:
        raise_field("invalid_domain", "Enter an email domain such as example.org.")
    try:
        return validated_email("x@" + domain).domain
    except EmailNotValidError:
        raise ValidationError(FieldError("invalid_domain", "Enter an email domain such as example.org.")) from None


def normalise_ip(value: str) -> str:
    """An IPv4/IPv6 address or prefix as the /24 or /48 prefix bans are stored under."""
    if "%" in value:  # a zone id names an interface of the sender's machine, never a client
        raise_field("invalid_ip", "Enter an IP address or prefix such as 203.0.113.7 or 2001:db8::/48.")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValidationError(
            FieldError("invalid_ip", "Enter an IP address or prefix such as 203.0.113.7 or 2001:db8::/48.")
        ) from None
    address, bits = network.network_address, network.prefixlen
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address, bits = address.ipv4_mapped, bits - 96
    if bits < IP_PREFIX_BITS[address.version]:
        raise_field(
            "prefix_too_wide",
            f"Ban at most a /{IP_PREFIX_BITS[4]} (IPv4) or /{IP_PREFIX_BITS[6]} (IPv6) at a time.",
        )
    prefix = privacy.ip_prefix(str(address))
    assert prefix is not None  # a valid address always has a prefix
    return prefix


NORMALISE_BAN_VALUE = {"email": normalise_email, "domain": normalise_domain, "ip": normalise_ip}


class FutureDateTime(fields.DateTime):
    """An ISO 8601 date-time in the future; without an offset it is read as UTC."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        try:
            when = super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            raise ValidationError(FieldError("invalid_datetime", "Give an ISO 8601 date and time.")) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        try:
            when = when.astimezone(UTC)
        except OverflowError:  # year 9999 with a negative offset
            raise_field("out_of_range", "This date is out of range.")
        if when <= datetime.now(UTC):
            raise_field("in_the_past", "Give a time in the future.")
        return when


class BanCreateSchema(Schema):
    """A new ban: what to ban, for how long, and whether to reject what the author already posted."""

    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=OneOf(BAN_KINDS), metadata={
        "description": "`email` (one address), `domain` (every address at an email domain) or `ip` "
                       "(an address or prefix; the whole /24 or /48 around it is banned)."})
    value = fields.String(required=True, validate=Length(1, BAN_VALUE_MAX), metadata={
        "description": "The email, domain (example.org) or IP address/prefix (203.0.113.7, 2001:db8::/48)."})
    reason = OptionalText(allow_none=True, load_default=None, policy=LINE, validate=Length(max=BAN_REASON_MAX))
    expires_at = FutureDateTime(allow_none=True, load_default=None, metadata={
        "description": "When the ban ends (future; UTC if no offset). Leave out both expiries for a permanent ban."})
    expires_in_days = fields.Integer(
        strict=True, allow_none=True, load_default=None, validate=Range(1, BAN_DAYS_MAX),
        metadata={"description": "The ban ends this many days from now (instead of expires_at)."},
    )
    reject_existing = StrictBoolean(load_default=False, metadata={
        "description": "Also reject the author's pending and published comments (each with an audit row)."})

    @validates_schema(skip_on_field_errors=False)
    def _value_for_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[FieldError]] = {}
        if data.get("expires_at") is not None and data.get("expires_in_days") is not None:
            errors["expires_in_days"] = [
                FieldError("mutually_exclusive", "Give expires_at or expires_in_days, not both.")
            ]
        kind, value = data.get("kind"), data.get("value")
        if kind in NORMALISE_BAN_VALUE and value:
            try:
                data["value"] = NORMALISE_BAN_VALUE[kind](normalise(value).strip())
            except ValidationError as err:
                errors["value"] = err.messages
        if errors:
            raise ValidationError(errors)


class BanSchema(Schema):
    """A ban as the site sees it (dumps a Ban): never the banned value itself, only a label safe to show."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=OneOf(BAN_KINDS))
    label = fields.String(required=True, metadata={
        "description": "The domain or IP prefix as banned; an email masked (l***@example.org)."})
    reason = fields.String(required=True, allow_none=True)
    expires_at = fields.DateTime(required=True, allow_none=True)
    expired = fields.Boolean(required=True)
    created_by = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class BanCreatedSchema(Schema):
    """Answer to a new ban."""

    ban = fields.Nested(BanSchema, required=True)
    rejected_comments = fields.Integer(required=True, metadata={
        "description": "How many of the author's comments were rejected (reject_existing)."})


class BanListQuery(Schema):
    """A page of a site's bans, newest first."""

    class Meta:
        unknown = EXCLUDE

    cursor = fields.String(load_default=None, validate=check_cursor, metadata={"pattern": CURSOR_RE})
    limit = fields.Integer(load_default=100, validate=Range(1, BAN_PAGE_MAX))


class BanPageSchema(Schema):
    """A page of bans."""

    bans = fields.List(fields.Nested(BanSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class PrivacyRequestSchema(Schema):
    """Whose data: the email, normalised exactly like a submission's."""

    class Meta:
        unknown = RAISE

    email = Email(required=True, metadata={"format": "email", "maxLength": EMAIL_MAX})


class ExportedThreadSchema(Schema):
    """The article a comment is under."""

    key = fields.String(required=True)
    title = fields.String(required=True, allow_none=True)
    url = fields.String(required=True, allow_none=True)


class ExportedCommentSchema(Schema):
    """One of the author's comments, as stored (any status): dumps a Comment with its thread."""

    id = fields.Integer(required=True)
    thread = fields.Nested(ExportedThreadSchema, required=True)
    parent_id = fields.Integer(required=True, allow_none=True)
    name = fields.String(required=True, attribute="author_name")
    url = fields.String(required=True, allow_none=True, attribute="author_url")
    body = fields.String(required=True, attribute="body_source",
                         metadata={"description": "The text as the author wrote it."})
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    edited_at = fields.DateTime(required=True, allow_none=True)


class PrivacyExportSchema(Schema):
    """Everything stored about an author's comments on this site, oldest first."""

    comments = fields.List(fields.Nested(ExportedCommentSchema), required=True)


class PrivacyErasedSchema(Schema):
    """Answer to an erase request."""

    erased = fields.Integer(
        required=True, metadata={"description": "How many comments had their personal data removed."}
    )


comment_edit_schema = CommentEditSchema()
ban_create_schema = BanCreateSchema()
ban_created_schema = BanCreatedSchema()
ban_list_query = BanListQuery()
ban_page_schema = BanPageSchema()
privacy_request_schema = PrivacyRequestSchema()
privacy_export_schema = PrivacyExportSchema()
privacy_erased_schema = PrivacyErasedSchema()

__all__ = [
    "BAN_KINDS",
    "BanCreateSchema",
    "BanCreatedSchema",
    "BanListQuery",
    "BanPageSchema",
    "BanSchema",
    "CommentEditSchema",
    "ExportedCommentSchema",
    "ExportedThreadSchema",
    "FutureDateTime",
    "PrivacyErasedSchema",
    "PrivacyExportSchema",
    "PrivacyRequestSchema",
    "ban_create_schema",
    "ban_created_schema",
    "ban_list_query",
    "ban_page_schema",
    "comment_edit_schema",
    "privacy_erased_schema",
    "privacy_export_schema",
    "privacy_request_schema",
]
