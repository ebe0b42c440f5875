"""Queues and decisions: the pages moderators work in all day.

Opening a work queue (pending, reported, unmoderated, spam) claims its oldest items for this
moderator (services.queues.claim_batch, actor "mod:<id>"), so two moderators never see the same
item; leaving the page gives them back. Approved and rejected are browsed without claims.
Every decision carries the revision the moderator saw: a stale one is refused with a message.

The page's script (static/dashboard.js, `Accept: application/json`) gets JSON: a refusal in the one
error shape, `{"error": {"code", "message", "fields"?}}` with its 4xx status (the message in the
moderator's language), and on success `{"id", "status", "revision", "message"}` for a decision or
a dismissal, `{"results": [...], "message"}` for a bulk action (each result as the API's bulk
answer has it, a failure's `error.message` in the moderator's language) and `{"released": n}` for
a release.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from comment_service.dashboard import i18n
from comment_service.dashboard.auth import safe_next, site_access, wants_json
from comment_service.dashboard.blueprint import bp, t
from comment_service.dashboard.forms import bulk_from_form, decision_from_form, whole_number
from comment_service.dashboard.present import Card, present
from comment_service.errors import ApiError, bulk_item, error_response, field_errors, status_of
from comment_service.models import Site
from comment_service.moderation.errors import Conflict, DomainError
from comment_service.moderation.status import Queue, RejectReason, queue_actions
from comment_service.services import moderation, queues, reports, site_admin
from comment_service.services.moderation import Decision
from comment_service.services.moderators import actor_id
from comment_service.services.queues import ModeratorItem

PAGE = 20
BROWSE_ONLY = frozenset({Queue.APPROVED, Queue.REJECTED})
TABS = (Queue.PENDING, Queue.REPORTED, Queue.UNMODERATED, Queue.SPAM, Queue.APPROVED, Queue.REJECTED)


def _queue(name: str) -> Queue:
    try:
        return Queue(name)
    except ValueError:
        raise ApiError(404, "queue_not_found", "No such queue.") from None


def _actor() -> str:
    return actor_id(g.moderator)


def _back(site: Site) -> str:
    return safe_next(request.form.get("next"), url_for("dashboard.queue", site=site.slug, queue=Queue.PENDING.value))


def items_for_page(site: Site, items: list[ModeratorItem]) -> list[Card]:
    """The services' items with the article link, IP tag and reports a page shows beside them (one
    statement for the whole page)."""
    context = site_admin.item_context(site, [i.id for i in items])
    return [present(i, context.get(i.id)) for i in items]


@bp.get("/sites/<slug:site>/queues/<queue>")
@site_access()
def queue(site: Site, queue: str) -> ResponseReturnValue:
    """A queue's oldest items, claimed for this moderator, with counts and filters."""
    q = _queue(queue)
    thread = request.args.get("thread", "").strip()[:255] or None
    text = request.args.get("q", "").strip()[:200] or None
    lease = current_app.config["MAJLIS_CLAIM_LEASE_SECONDS"]
    if q in BROWSE_ONLY:
        # Decided comments are looked through, not worked: holding them would only block the API.
        items, _ = queues.queue_items(site, q, None, PAGE, thread=thread, text=text)
    else:
        items = queues.claim_batch(site, q, _actor(), PAGE, lease, thread=thread, text=text)
    counts = queues.queue_counts(site, g.now)
    leased_until = max((i.claim.expires_at for i in items if i.claim), default=None)
    return render_template(
        "dashboard/queue.html", site=site, queue=q, tabs=TABS, counts=counts, items=items_for_page(site, items),
        thread=thread or "", text=text or "", actions=queue_actions(q), reject_reasons=list(RejectReason),
        leased_until=leased_until, page_size=PAGE,
    )


def _message_for(err: DomainError) -> str:
    """A refused action in the moderator's words (stale, held by someone else, not applicable...)."""
    key = f"error_{err.code}"
    return t(key) if key in i18n.catalog(i18n.DEFAULT) else err.message


def _done(c: Any, message: str) -> ResponseReturnValue:
    """A decision or dismissal done, for the page's script."""
    return jsonify(id=c.id, status=c.status.value, revision=c.revision, message=message)


def _invalid(err: ValidationError) -> tuple[str, dict[str, Any]]:
    fields = field_errors(err.messages)
    if any(e["code"] == "required" for k, errs in fields.items() if k.endswith("reason") for e in errs):
        return t("error_reason_required"), fields
    return t("error_invalid_decision"), fields


@bp.post("/sites/<slug:site>/comments/<int:comment_id>/decision")
@site_access()
def decide(site: Site, comment_id: int) -> ResponseReturnValue:
    """Approve, reject, spam, not spam, delete or restore the revision the moderator saw."""
    try:
        data = decision_from_form(request.form)
    except ValidationError as err:
        message, fields = _invalid(err)
        if wants_json():
            return error_response(422, "validation_failed", message, fields)
        flash(message, "error")
        return redirect(_back(site))
    try:
        c = moderation.decide(site, comment_id, Decision.of(data), _actor())
    except Conflict as err:  # a 404 (no such comment on this site) is an error page, like any other
        if wants_json():
            return error_response(status_of(err), err.code, _message_for(err))
        flash(_message_for(err), "error")
        return redirect(_back(site))
    message = t(f"done_{data['action']}")
    if wants_json():
        return _done(c, message)
    flash(message, "ok")
    return redirect(_back(site))


@bp.post("/sites/<slug:site>/bulk")
@site_access()
def bulk(site: Site) -> ResponseReturnValue:
    """One action on every selected item; each succeeds or fails (and says why) on its own."""
    try:
        decisions = bulk_from_form(request.form)
    except ValidationError as err:
        message, fields = _invalid(err)
        if "decisions" in fields:
            message = t("error_nothing_selected")
        if wants_json():
            return error_response(422, "validation_failed", message, fields)
        flash(message, "error")
        return redirect(_back(site))
    outcomes = moderation.decide_many(site, [(d["id"], Decision.of(d)) for d in decisions], _actor())
    results = [bulk_item(o) for o in outcomes]
    for o, r in zip(outcomes, results, strict=True):
        if o.error is not None:  # the reason in the moderator's words
            r["error"]["message"] = _message_for(o.error)
    done = sum(r["ok"] for r in results)
    failed = len(results) - done
    summary = t(f"bulk_done_{decisions[0]['action']}", count=done)
    if failed:
        summary += " " + t("bulk_failed", count=failed)
    if wants_json():
        return jsonify(results=results, message=summary)
    flash(summary, "ok" if not failed else "error")
    for r in results:
        if not r["ok"]:
            flash(f"#{r['id']}: {r['error']['message']}", "error")
    return redirect(_back(site))


@bp.post("/sites/<slug:site>/queues/<queue>/release")
@site_access()
def release(site: Site, queue: str) -> ResponseReturnValue:
    """Give back the items of a page being left (not those a newer page of it has claimed again)."""
    _queue(queue)
    ids = [i for i in (whole_number(v) for v in request.form.getlist("id")[:PAGE * 5]) if isinstance(i, int)]
    try:
        leased_until = datetime.fromisoformat(request.form.get("leased_until", ""))
    except ValueError:
        leased_until = None
    if leased_until is None or leased_until.tzinfo is None:
        return error_response(400, "invalid_lease", "leased_until must be a date and time with its UTC offset.")
    released = queues.release_claims(site, _actor(), ids, leased_until=leased_until) if ids else 0
    return jsonify(released=released)


@bp.post("/sites/<slug:site>/comments/<int:comment_id>/dismiss")
@site_access()
def dismiss(site: Site, comment_id: int) -> ResponseReturnValue:
    """Close a comment's open reports as unfounded; it keeps its status."""
    revision = whole_number(request.form.get("revision"))
    if not isinstance(revision, int):
        raise ApiError(422, "validation_failed", "revision is required.")
    try:
        c = reports.dismiss_reports(site, comment_id, revision, _actor())
    except Conflict as err:
        if wants_json():
            return error_response(409, err.code, _message_for(err))
        flash(_message_for(err), "error")
        return redirect(_back(site))
    if wants_json():
        return _done(c, t("done_dismiss"))
    flash(t("done_dismiss"), "ok")
    return redirect(_back(site))
