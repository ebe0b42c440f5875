"""Form fields in, service arguments out: HTML forms send strings, the API's schemas validate.

The schemas are the API's own (SettingsSchema, DecisionSchema, BulkSchema, BanCreateSchema,
WebhookCreateSchema), so the dashboard accepts exactly what the API accepts, with the same stable
error codes. A moderator's alerts (the account page) have no API: AlertsForm checks them with the
same coded validators.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema
from werkzeug.datastructures import MultiDict

from comment_service import schemas
from comment_service.errors import field_errors
from comment_service.moderation.alerts import ALERT_MODES, DIGEST, DIGEST_MINUTES
from comment_service.moderation.errors import FieldError
from comment_service.schemas.fields import OneOf, Range
from comment_service.schemas.moderation import BULK_MAX

INT_SETTINGS = ("link_limit", "edit_window_minutes", "report_threshold", "auto_close_days", "sla_minutes")
OPTIONAL_INT_SETTINGS = frozenset({"auto_close_days", "sla_minutes"})  # an empty field: none (no limit)
CHOICE_SETTINGS = ("language",)  # a <select>; a form without it leaves the setting as it is
LIST_SETTINGS = ("banned_words", "suspect_words", "allowed_origins")
BAN_DAYS = ("", "1", "7", "30", "365")
WEBHOOK_FIELDS = ("url", "events", "description")
_webhook_create = schemas.WebhookCreateSchema()
_delivery_query = schemas.DeliveryListQuery()


def whole_number(raw: str | None) -> Any:
    """A form's number: an int when it is one, else the text itself, so the schema reports invalid_type."""
    text = (raw or "").strip()
    if text.isascii() and text.lstrip("-").isdigit():
        return int(text)
    return text


def lines(raw: str | None) -> list[str]:
    """A textarea of one entry per line: trimmed, blank lines dropped."""
    return [line.strip() for line in (raw or "").splitlines() if line.strip()]


def settings_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The settings a form describes, typed for SettingsSchema (which validates them)."""
    data: dict[str, Any] = {"mode": form.get("mode", ""), "hold_first_time": form.get("hold_first_time") == "on"}
    for name in INT_SETTINGS:
        raw = form.get(name, "")
        data[name] = None if name in OPTIONAL_INT_SETTINGS and not raw.strip() else whole_number(raw)
    for name in CHOICE_SETTINGS:
        if name in form:
            data[name] = form.get(name, "")
    for name in LIST_SETTINGS:
        data[name] = lines(form.get(name))
    return data


def settings_errors(messages: Any) -> dict[str, list[dict[str, Any]]]:
    """Field errors keyed by form field; an error on a list entry names its line (1-based)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path, errors in field_errors(messages).items():
        name, _, index = path.partition(".")
        for error in errors:
            out.setdefault(name, []).append({**error, "line": int(index) + 1 if index.isdigit() else None})
    return out


def decision_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """One decision (action, revision, reason?), validated by DecisionSchema."""
    return schemas.decision_schema.load({
        "action": form.get("action", ""),
        "revision": whole_number(form.get("revision")),
        "reason": form.get("reason") or None,
    })


def bulk_from_form(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The selected items ("id:revision" each) with one action, validated by BulkSchema."""
    decisions = []
    for value in form.getlist("item")[:BULK_MAX + 1]:
        cid, _, revision = value.partition(":")
        decisions.append({"id": whole_number(cid), "revision": whole_number(revision),
                          "action": form.get("action", ""), "reason": form.get("reason") or None})
    return schemas.bulk_schema.load({"decisions": decisions})["decisions"]


def ban_from_form(form: MultiDict[str, str], email: str) -> dict[str, Any]:
    """A ban of this author's email (or its whole domain), validated by BanCreateSchema."""
    kind = "domain" if form.get("kind") == "domain" else "email"
    days = form.get("days", "")
    return schemas.ban_create_schema.load({
        "kind": kind,
        "value": email.rpartition("@")[2] if kind == "domain" else email,
        "reason": form.get("reason") or None,
        "expires_in_days": int(days) if days in BAN_DAYS and days else None,
        "reject_existing": form.get("reject_existing") == "on",
    })


def webhook_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """A new webhook (url, events: the ticked boxes, description?), validated and its URL normalised
    by WebhookCreateSchema."""
    return _webhook_create.load({"url": form.get("url", ""), "events": form.getlist("events"),
                                 "description": form.get("description") or None})


def webhook_errors(messages: Any) -> dict[str, list[dict[str, Any]]]:
    """Field errors keyed by form field (an error about one of the ticked events is the field's);
    `messages` from the schema, or a service's Invalid.fields."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path, errors in field_errors(messages).items():
        name = path.partition(".")[0]
        out.setdefault(name if name in WEBHOOK_FIELDS else "_request", []).extend(errors)
    return out


def delivery_query(args: MultiDict[str, str], page: int) -> dict[str, Any]:
    """A page of a delivery log asked for in the address (?before=<id>, ?status=), validated by the
    API's DeliveryListQuery: {"before": int | None, "status": str | None}."""
    query = _delivery_query.load({"cursor": args.get("before") or None, "status": args.get("status") or None,
                                  "limit": page})
    return {"before": int(query["cursor"]) if query["cursor"] else None, "status": query["status"]}


class AlertsForm(Schema):
    """How a moderator hears of one site's comments: `alerts` (each, digest, none) and, for a
    digest, `digest_minutes` between two (5 to 10080, a week)."""

    alerts = fields.String(required=True, validate=OneOf(ALERT_MODES))
    digest_minutes = fields.Integer(strict=True, allow_none=True, validate=Range(*DIGEST_MINUTES))

    @validates_schema
    def _digest_needs_minutes(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("alerts") == DIGEST and data.get("digest_minutes") is None:
            raise ValidationError({"digest_minutes": [FieldError(
                "required", f"Say how often: every {DIGEST_MINUTES[0]} to {DIGEST_MINUTES[1]} minutes.")]})


_alerts_form = AlertsForm()


def alerts_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """{"alerts", "digest_minutes"} from the account page's form for one site (ValidationError if
    invalid); the minutes count only with a digest, so a stale number beside "each" is ignored."""
    mode = form.get("alerts", "")
    raw = form.get("digest_minutes", "")
    minutes = whole_number(raw) if mode == DIGEST and raw.strip() else None
    return _alerts_form.load({"alerts": mode, "digest_minutes": minutes})


def alerts_errors(messages: Any) -> dict[str, list[dict[str, Any]]]:
    """Field errors keyed by the form's fields (alerts, digest_minutes)."""
    return {name.partition(".")[0]: errors for name, errors in field_errors(messages).items()}
