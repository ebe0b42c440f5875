"""Schemas of a site's webhooks and their delivery log."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields

from comment_service.moderation.errors import FieldError
from comment_service.moderation.events import EVENT_TYPES
from comment_service.moderation.text import normalise
from comment_service.moderation.urls import UrlRefused, normalise_endpoint_url
from comment_service.schemas.fields import LINE, Length, OneOf, OptionalText, Range, StrictBoolean, raise_field
from comment_service.schemas.public import CURSOR_RE, check_cursor

WEBHOOK_URL_MAX, WEBHOOK_DESCRIPTION_MAX, DELIVERY_PAGE_MAX = 2000, 200, 200
DELIVERY_STATUSES = ["pending", "delivered", "failed"]


class EndpointUrl(fields.String):
    """A receiver's http(s) address, stored in the form the service connects to (moderation/urls.py)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = normalise(super()._deserialize(value, attr, data, **kwargs)).strip()
        if len(text) > WEBHOOK_URL_MAX:
            raise_field("too_long", f"Must be at most {WEBHOOK_URL_MAX} characters.")
        try:
            return normalise_endpoint_url(text)
        except UrlRefused:
            raise ValidationError(FieldError(
                "invalid_url", "Enter the receiver's address, starting with https:// (or http://).")) from None


def _some_events(value: list[str]) -> None:
    if not value:
        raise_field("required", "Choose at least one event.")


class WebhookCreateSchema(Schema):
    """A new endpoint: where to send, which events, and a note for whoever reads the list."""

    class Meta:
        unknown = RAISE

    url = EndpointUrl(required=True, metadata={"format": "uri", "maxLength": WEBHOOK_URL_MAX, "description":
                      "The receiver's http(s) address. Private, loopback and link-local addresses are refused "
                      "in production."})
    events = fields.List(fields.String(validate=OneOf(list(EVENT_TYPES))), required=True, validate=_some_events,
                         metadata={"description": "The event types to send (at least one)."})
    description = OptionalText(allow_none=True, load_default=None, policy=LINE,
                               validate=Length(max=WEBHOOK_DESCRIPTION_MAX))


class WebhookChangeSchema(Schema):
    """Change an endpoint: any of its events, its description, and whether it is enabled."""

    class Meta:
        unknown = RAISE

    events = fields.List(fields.String(validate=OneOf(list(EVENT_TYPES))), validate=_some_events)
    description = OptionalText(allow_none=True, policy=LINE, validate=Length(max=WEBHOOK_DESCRIPTION_MAX))
    enabled = StrictBoolean(metadata={
        "description": "true enables an endpoint a 410 Gone disabled (false disables it); messages of events from "
                       "then on are sent, not the missed ones."})


class WebhookSchema(Schema):
    """An endpoint (dumps a Webhook); never its secret."""

    id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    description = fields.String(required=True, allow_none=True)
    enabled = fields.Function(lambda w: w.disabled_at is None, required=True, metadata={
        "type": "boolean", "description": "False once the receiver answered 410 Gone."})
    disabled_at = fields.DateTime(required=True, allow_none=True)
    disabled_reason = fields.String(required=True, allow_none=True)
    previous_secret_until = fields.DateTime(attribute="previous_until", required=True, allow_none=True, metadata={
        "description": "After a rotation: until when the previous secret also signs."})
    created_at = fields.DateTime(required=True)


class WebhookListSchema(Schema):
    """A site's endpoints."""

    webhooks = fields.List(fields.Nested(WebhookSchema), required=True)


class WebhookSecretSchema(Schema):
    """An endpoint with its signing secret, shown this once."""

    webhook = fields.Nested(WebhookSchema, required=True)
    secret = fields.String(required=True, metadata={
        "description": "whsec_... : verify each message's webhook-signature with it (Standard Webhooks)."})


class DeliverySchema(Schema):
    """One message to an endpoint and its attempts (dumps a WebhookDelivery)."""

    id = fields.Integer(required=True)
    message_id = fields.String(required=True, metadata={
        "description": "The webhook-id header: the same on every attempt."})
    type = fields.String(required=True)
    status = fields.String(required=True, validate=OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer(required=True)
    last_status_code = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    next_attempt_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "Pending: the next try."})
    created_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(required=True, allow_none=True)


class DeliveryCreatedSchema(Schema):
    """A test message, queued."""

    delivery = fields.Nested(DeliverySchema, required=True)


class DeliveryListQuery(Schema):
    """A page of an endpoint's delivery log, newest first."""

    class Meta:
        unknown = EXCLUDE

    cursor = fields.String(load_default=None, validate=check_cursor, metadata={"pattern": CURSOR_RE})
    limit = fields.Integer(load_default=50, validate=Range(1, DELIVERY_PAGE_MAX))
    status = fields.String(load_default=None, validate=OneOf(DELIVERY_STATUSES))


class DeliveryPageSchema(Schema):
    """A page of deliveries."""

    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


__all__ = [
    "DeliveryCreatedSchema", "DeliveryListQuery", "DeliveryPageSchema", "DeliverySchema", "WebhookChangeSchema",
    "WebhookCreateSchema",
    "WebhookListSchema", "WebhookSchema", "WebhookSecretSchema",
]
