"""A site's webhooks: the endpoints (create, list, delete, rotate the secret, test) and the delivery
of each message, signed as Standard Webhooks does (https://www.standardwebhooks.com/).

The endpoints' subscribed events are summed up on the site (Site.outbox_events), which is what the
outbox looks at inside every change (services/outbox.py). The outbox's dispatch calls `fan_out`:
one WebhookDelivery per endpoint and event type, then the job `webhooks.deliver` for each.

An attempt is claimed with a guarded UPDATE (pending, due, no live lease) that counts it and takes
a lease, and committed before the call, so a job run twice sends once and a worker that died in
the middle leaves a lease that runs out (the sweep then enqueues the delivery again). The message
is built at each attempt from the comment as it is then (an erased comment's text is never sent),
with the event's own type, status, revision and time; its webhook-id stays the same on every
attempt, for receivers that deduplicate. Delivery outcomes: 2xx delivered; 410 Gone disables the
endpoint; anything else (another status, a refused address, a timeout) is retried after the waits
of MAJLIS_WEBHOOK_RETRY_SECONDS, then failed. No message carries an email, an IP or their digests.
"""
from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from comment_service import jobs, outbound
from comment_service.database import conflict_insert
from comment_service.extensions import db
from comment_service.models import (
    Comment,
    ModerationAction,
    OutboxEvent,
    Report,
    Site,
    Thread,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from comment_service.moderation import events, privacy
from comment_service.moderation.errors import Conflict, FieldError, Invalid, NotFound
from comment_service.services import attempts, outbox

log = logging.getLogger(__name__)

MAX_PER_SITE = 10
ROTATION_OVERLAP = timedelta(hours=24)
KEEP_FINISHED = timedelta(days=30)
PENDING, DELIVERED, FAILED = attempts.PENDING, "delivered", attempts.FAILED

_D = WebhookDelivery.__table__
_NOT_FOUND = ("webhook_not_found", "No webhook with this id on this site.")


# --- the endpoints -----------------------------------------------------------------------------

def _key(salt: str) -> bytes:
    return privacy.derive_key(current_app.config["SECRET_KEY"], f"webhook:{salt}")


def secret_of(webhook: Webhook) -> str:
    """The endpoint's current signing secret, whsec_... (derived, never stored)."""
    return events.secret_text(_key(webhook.secret_salt))


def signing_keys(webhook: Webhook, now: datetime) -> list[bytes]:
    """The keys that sign now: the current one, and the previous one until its overlap ends."""
    keys = [_key(webhook.secret_salt)]
    if webhook.previous_salt and webhook.previous_until and webhook.previous_until > now:
        keys.append(_key(webhook.previous_salt))
    return keys


def check_target(url: str) -> None:
    """Refuse (422 `url`: `private_address`) a receiver on a private, loopback or link-local
    address, unless MAJLIS_WEBHOOK_ALLOW_PRIVATE. A name that does not resolve now is accepted
    (DNS may come later); every attempt checks the address it connects to again."""
    if current_app.config["MAJLIS_WEBHOOK_ALLOW_PRIVATE"]:
        return
    split = urlsplit(url)
    try:
        outbound.resolve(split.hostname or "", split.port or 443, allow_private=False)
    except outbound.Unresolvable:
        return
    except outbound.Refused:
        raise Invalid("validation_failed", "Some fields need attention.", {"url": [FieldError(
            "private_address", "Webhooks cannot be sent to private, loopback or link-local addresses.")]}) from None


def list_webhooks(site: Site) -> list[Webhook]:
    """The site's endpoints, oldest first."""
    return list(db.session.scalars(sa.select(Webhook).where(Webhook.site_id == site.id).order_by(Webhook.id)))


def get_webhook(site: Site, webhook_id: int) -> Webhook:
    """One of the site's endpoints (another site's is not found)."""
    webhook = db.session.get(Webhook, webhook_id)
    if webhook is None or webhook.site_id != site.id:
        raise NotFound(*_NOT_FOUND)
    return webhook


def _wanted(site: Site) -> set[str]:
    """The event types the site's enabled endpoints subscribe to."""
    return {t for webhook in list_webhooks(site) if webhook.disabled_at is None for t in webhook.events}


def create_webhook(site: Site, url: str, event_types: list[str], description: str | None) -> tuple[Webhook, str]:
    """A new endpoint and its secret (shown this once)."""
    if db.session.scalar(sa.select(sa.func.count()).where(Webhook.site_id == site.id)) >= MAX_PER_SITE:
        raise Conflict("too_many_webhooks", f"A site has at most {MAX_PER_SITE} webhooks; delete one first.")
    check_target(url)  # after the count: a full site does not wait for DNS
    webhook = Webhook(site_id=site.id, url=url, events=sorted(set(event_types)), description=description,
                      secret_salt=secrets.token_hex(16), created_at=utcnow())
    db.session.add(webhook)
    db.session.flush()
    outbox.keep_site_events(site)
    db.session.commit()
    return webhook, secret_of(webhook)


def change_webhook(site: Site, webhook_id: int, changes: dict[str, Any]) -> Webhook:
    """Change an endpoint's events, description or enabled state (a disabled one enabled again
    gets the messages of events from now on)."""
    webhook = get_webhook(site, webhook_id)
    if "events" in changes:
        webhook.events = sorted(set(changes["events"]))
    if "description" in changes:
        webhook.description = changes["description"]
    if "enabled" in changes:
        if changes["enabled"] and webhook.disabled_at is not None:
            webhook.disabled_at = webhook.disabled_reason = None
        elif not changes["enabled"] and webhook.disabled_at is None:
            webhook.disabled_at, webhook.disabled_reason = utcnow(), "Disabled by the site."
    db.session.flush()
    outbox.keep_site_events(site)
    db.session.commit()
    return webhook


def delete_webhook(site: Site, webhook_id: int) -> None:
    """Remove an endpoint and its delivery log (pending messages are not sent)."""
    webhook = get_webhook(site, webhook_id)
    db.session.execute(sa.delete(_D).where(_D.c.webhook_id == webhook.id))
    db.session.delete(webhook)
    db.session.flush()
    outbox.keep_site_events(site)
    db.session.commit()


def rotate_secret(site: Site, webhook_id: int) -> tuple[Webhook, str]:
    """A new secret; the old one keeps signing (beside it) for 24 hours, so receivers can switch."""
    webhook = get_webhook(site, webhook_id)
    now = utcnow()
    webhook.previous_salt, webhook.previous_until = webhook.secret_salt, now + ROTATION_OVERLAP
    webhook.secret_salt = secrets.token_hex(16)
    db.session.commit()
    return webhook, secret_of(webhook)


def send_test(site: Site, webhook_id: int) -> WebhookDelivery:
    """Queue a `webhook.test` message to the endpoint (even a disabled one: that is how to check it)."""
    webhook = get_webhook(site, webhook_id)
    now = utcnow()
    delivery = WebhookDelivery(webhook_id=webhook.id, event_id=None, message_id=f"msg_test_{secrets.token_hex(8)}",
                               type=events.TEST, status=PENDING, attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    db.session.flush()
    jobs.after_commit(db.session(), "webhooks.deliver", delivery.id)
    db.session.commit()
    return delivery


def list_deliveries(site: Site, webhook_id: int, before: int | None, limit: int,
                    status: str | None) -> tuple[list[WebhookDelivery], int | None]:
    """A page of an endpoint's delivery log, newest first, and the cursor of the next page."""
    webhook = get_webhook(site, webhook_id)
    stmt = sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    if before is not None:
        stmt = stmt.where(WebhookDelivery.id < before)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    rows = list(db.session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    more = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], more


# --- fanning an event out ------------------------------------------------------------------------

def _insert_ignoring_duplicates() -> Any:
    return conflict_insert(_D).on_conflict_do_nothing(index_elements=["webhook_id", "message_id"]).returning(_D.c.id)


def message_id(event_id: int, type_: str) -> str:
    """The webhook-id of an event's message of one type: the same to every endpoint, on every attempt."""
    return f"msg_{event_id}_{type_}"


def fan_out(claimed: list[Any], now: datetime) -> list[tuple[str, tuple[Any, ...]]]:
    """For outbox rows (id, site_id, comment_id, types) just claimed: a pending delivery per enabled endpoint of
    their site and type it subscribes to, in the caller's transaction; the jobs to enqueue after it."""
    site_ids = {row.site_id for row in claimed}
    endpoints = db.session.execute(
        sa.select(Webhook.id, Webhook.site_id, Webhook.events)
        .where(Webhook.site_id.in_(site_ids), Webhook.disabled_at.is_(None))
    ).all()
    values = [
        {"webhook_id": hook.id, "event_id": row.id, "message_id": message_id(row.id, type_), "type": type_,
         "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
        for row in claimed for hook in endpoints if hook.site_id == row.site_id
        for type_ in events.wanted(row.types, hook.events)
    ]
    if not values:
        return []
    ids = db.session.scalars(_insert_ignoring_duplicates(), values).all()
    return [("webhooks.deliver", (delivery_id,)) for delivery_id in ids]


# --- one attempt -------------------------------------------------------------------------------

def _lease() -> timedelta:
    return timedelta(seconds=2 * current_app.config["MAJLIS_WEBHOOK_TIMEOUT"] + 30)


def _claim(delivery_id: int, now: datetime) -> Any:
    """The attempt, if the delivery is pending, due and nobody's (attempts.claim); else None."""
    return attempts.claim(_D, delivery_id, now, _lease(), _D.c.webhook_id, _D.c.event_id, _D.c.message_id,
                          _D.c.type)


def _reasons(status: str, hold_reasons: list[dict[str, Any]] | None, reason_code: str | None) -> list[dict[str, str]]:
    if status == "pending" and hold_reasons:
        return [{"code": r["code"], "detail": privacy.redact(str(r.get("detail", "")))} for r in hold_reasons]
    return [{"code": reason_code, "detail": ""}] if reason_code else []


def message(site: Site, type_: str, event_id: int | None, now: datetime) -> dict[str, Any]:
    """The message body: {type, timestamp, data: {site, thread, comment, reasons?, actor?, report?}}."""
    if event_id is None:  # a test
        return {"type": type_, "timestamp": _iso(now), "data": {"site": site.slug}}
    e, c, t = OutboxEvent, Comment, Thread
    row = db.session.execute(
        sa.select(e.status, e.revision, e.created_at, c.id, c.parent_id, c.author_name, c.author_url, c.body_html,
                  c.hold_reasons, t.key, t.url, t.title, ModerationAction.actor_type, ModerationAction.actor_id,
                  ModerationAction.reason_code, Report.id.label("report_id"), Report.reason.label("report_reason"))
        .join(c, c.id == e.comment_id).join(t, t.id == c.thread_id)
        .outerjoin(ModerationAction, ModerationAction.id == e.action_id)
        .outerjoin(Report, Report.id == e.report_id)
        .where(e.id == event_id)
    ).one()
    status = row.status.value
    data: dict[str, Any] = {
        "site": site.slug,
        "thread": {"key": row.key, "url": row.url, "title": row.title},
        "comment": {"id": row.id, "status": status, "revision": row.revision, "parent_id": row.parent_id,
                    "author": {"name": row.author_name, "url": row.author_url}, "body_html": row.body_html},
    }
    reasons = _reasons(status, row.hold_reasons, row.reason_code and row.reason_code.value)
    if reasons:
        data["reasons"] = reasons
    if row.actor_type is not None:
        data["actor"] = {"type": row.actor_type.value,
                         "id": privacy.redact(row.actor_id) if row.actor_id else None}
    if row.report_id is not None:
        data["report"] = {"id": row.report_id, "reason": row.report_reason}
    return {"type": type_, "timestamp": _iso(row.created_at), "data": data}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@jobs.job("webhooks.deliver")
def deliver(delivery_id: int) -> str | None:
    """One attempt at a delivery, if it is due and no one else is making it; its outcome (None: nothing to do)."""
    now = utcnow()
    claimed = _claim(delivery_id, now)
    if claimed is None:
        db.session.rollback()
        return None
    webhook = db.session.get(Webhook, claimed.webhook_id)
    site = db.session.get(Site, webhook.site_id) if webhook is not None else None
    if webhook is None or site is None:
        db.session.commit()
        return None
    if webhook.disabled_at is not None and claimed.type != events.TEST:
        _finish(delivery_id, FAILED, None, "the endpoint is disabled")
        db.session.commit()
        return FAILED
    body = json.dumps(message(site, claimed.type, claimed.event_id, now), ensure_ascii=False,
                      separators=(",", ":")).encode()
    keys, url = signing_keys(webhook, now), webhook.url
    db.session.commit()  # the attempt is counted and leased before the call; no transaction stays open during it

    timestamp = int(utcnow().timestamp())
    config = current_app.config
    answer = outbound.post(url, body, {
        "webhook-id": claimed.message_id, "webhook-timestamp": str(timestamp),
        "webhook-signature": events.signatures(keys, claimed.message_id, timestamp, body),
    }, timeout=config["MAJLIS_WEBHOOK_TIMEOUT"], allow_private=config["MAJLIS_WEBHOOK_ALLOW_PRIVATE"])
    return _record(delivery_id, claimed.webhook_id, claimed.attempts, answer)  # webhook expired at the commit


def _finish(delivery_id: int, status: str, code: int | None, error: str | None,
            next_at: datetime | None = None) -> None:
    attempts.finish(_D, delivery_id, status, error, utcnow(), next_at, last_status_code=code)


def _record(delivery_id: int, webhook_id: int, attempt: int, answer: outbound.Answer) -> str:
    """Write an attempt's outcome: delivered, retried later, failed; a 410 disables the endpoint."""
    if answer.ok:
        _finish(delivery_id, DELIVERED, answer.status, None)
        db.session.commit()
        return DELIVERED
    if answer.status == 410:
        _finish(delivery_id, FAILED, 410, "410 Gone: the endpoint is disabled")
        webhook = db.session.get(Webhook, webhook_id)
        if webhook is not None and webhook.disabled_at is None:
            webhook.disabled_at, webhook.disabled_reason = utcnow(), "The receiver answered 410 Gone."
            outbox.keep_site_events(db.session.get(Site, webhook.site_id))
            log.warning("webhooks: endpoint %s answered 410 Gone and is disabled", webhook_id)
        db.session.commit()
        return FAILED
    next_at = attempts.failed(_D, delivery_id, attempt, current_app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"],
                              answer.error, utcnow(), last_status_code=answer.status)
    db.session.commit()
    if next_at is None:
        log.warning("webhooks: delivery %s failed after %d attempts: %s", delivery_id, attempt, answer.error)
        return FAILED
    jobs.jobs().enqueue_quietly("webhooks.deliver", delivery_id, eta=next_at)
    return PENDING


# --- what the queue missed ---------------------------------------------------------------------

def _gauges() -> list[tuple[str, Any]]:
    """/metrics: deliveries pending and failed, each counted from its partial index."""
    return [(f"webhook_deliveries:{status}", attempts.count(_D, status)) for status in (PENDING, FAILED)]


def sweep(now: datetime | None = None) -> int:
    """Enqueue deliveries that are due and nobody's (their job was lost, or their worker died), and
    forget finished ones after 30 days; returns how many were enqueued."""
    now = now or utcnow()
    due = attempts.due(_D, now, len(current_app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"]) + 1)
    attempts.forget_finished(_D, now - KEEP_FINISHED)
    outbox_table = OutboxEvent.__table__
    db.session.execute(sa.delete(outbox_table).where(
        outbox_table.c.dispatched_at < now - KEEP_FINISHED, ~sa.exists().where(_D.c.event_id == outbox_table.c.id)))
    db.session.commit()
    queue = jobs.jobs()
    for delivery_id in due:
        queue.enqueue_quietly("webhooks.deliver", delivery_id)
    return len(due)


outbox.register(outbox.Consumer("webhooks", wanted=_wanted, fan_out=fan_out, sweep=sweep, gauges=_gauges))
