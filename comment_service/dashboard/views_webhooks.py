"""A site's webhooks, under its settings and for the same people (site admins, as the API keys):
add one (its signing secret shown this once), the list, and for each its delivery log, newest
first, with "send a test", "rotate the secret" (the new one shown this once) and "delete".

The views call the services the API calls (services/webhooks.py) and validate a new webhook with
the API's own schema (forms.webhook_from_form), so both accept the same addresses and events with
the same error codes. Every change is a POST with the CSRF token; a secret is only ever on the page
answering the POST that made it (never in the list, never on a GET).
"""
from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from comment_service.dashboard import i18n
from comment_service.dashboard.auth import site_access
from comment_service.dashboard.blueprint import bp, t
from comment_service.dashboard.forms import delivery_query, webhook_errors, webhook_from_form
from comment_service.models import Site, Webhook
from comment_service.moderation.errors import Conflict, Invalid
from comment_service.moderation.events import EVENT_TYPES
from comment_service.schemas.webhooks import DELIVERY_STATUSES
from comment_service.services import webhooks

PAGE = 50  # deliveries on a page of the log


def _overlap() -> str:
    """How long an old secret keeps signing after a rotation, in words."""
    return i18n.duration(g.lang, webhooks.ROTATION_OVERLAP.total_seconds())


@bp.route("/sites/<slug:site>/settings/webhooks", methods=["GET", "POST"], endpoint="webhooks")
@site_access(admin=True)
def webhook_list(site: Site) -> ResponseReturnValue:
    """The site's webhooks and the form to add one; added, the new webhook's page shows its secret once."""
    if request.method == "GET":
        return _list_page(site, {}, {})
    try:
        data = webhook_from_form(request.form)
    except ValidationError as err:
        return _list_page(site, request.form, webhook_errors(err.messages)), 422
    try:
        webhook, secret = webhooks.create_webhook(site, data["url"], data["events"], data["description"])
    except Invalid as err:  # a private address (in production)
        errors = webhook_errors(err.fields) if err.fields else {"_request": [{"code": err.code,
                                                                             "message": err.message}]}
        return _list_page(site, request.form, errors), 422
    except Conflict as err:  # the most webhooks a site may have
        message = t(f"error_{err.code}", max=webhooks.MAX_PER_SITE)
        return _list_page(site, request.form, {"_request": [{"code": err.code, "message": message}]}), 409
    return _webhook_page(site, webhook, secret=secret, created=True)


def _list_page(site: Site, form: Any, errors: dict) -> str:
    return render_template("dashboard/webhooks.html", site=site, hooks=webhooks.list_webhooks(site), form=form,
                           errors=errors, event_types=EVENT_TYPES, most=webhooks.MAX_PER_SITE)


@bp.get("/sites/<slug:site>/settings/webhooks/<int:webhook_id>", endpoint="webhook")
@site_access(admin=True)
def webhook_page(site: Site, webhook_id: int) -> ResponseReturnValue:
    """One webhook: what it sends where, its actions, and a page of its delivery log (?before=, ?status=)."""
    return _webhook_page(site, webhooks.get_webhook(site, webhook_id))


def _webhook_page(site: Site, webhook: Webhook, secret: str | None = None, created: bool = False) -> str:
    query = delivery_query(request.args, PAGE)
    deliveries, more = webhooks.list_deliveries(site, webhook.id, query["before"], PAGE, query["status"])
    return render_template("dashboard/webhook.html", site=site, webhook=webhook, deliveries=deliveries, more=more,
                           status=query["status"], statuses=DELIVERY_STATUSES, secret=secret, created=created,
                           overlap=_overlap())


@bp.post("/sites/<slug:site>/settings/webhooks/<int:webhook_id>/rotate-secret", endpoint="webhook_rotate")
@site_access(admin=True)
def webhook_rotate(site: Site, webhook_id: int) -> ResponseReturnValue:
    """A new secret, shown on the page this answers and nowhere else; the old one signs too for a day."""
    webhook, secret = webhooks.rotate_secret(site, webhook_id)
    return _webhook_page(site, webhook, secret=secret)


@bp.post("/sites/<slug:site>/settings/webhooks/<int:webhook_id>/test", endpoint="webhook_test")
@site_access(admin=True)
def webhook_test(site: Site, webhook_id: int) -> ResponseReturnValue:
    """Queue a webhook.test message; the worker sends it and the log shows how it went."""
    webhooks.send_test(site, webhook_id)
    flash(t("webhook_test_queued"), "ok")
    return redirect(url_for("dashboard.webhook", site=site.slug, webhook_id=webhook_id))


@bp.post("/sites/<slug:site>/settings/webhooks/<int:webhook_id>/delete", endpoint="webhook_delete")
@site_access(admin=True)
def webhook_delete(site: Site, webhook_id: int) -> ResponseReturnValue:
    """Delete the webhook and its log (what is not sent yet is not sent)."""
    webhooks.delete_webhook(site, webhook_id)
    flash(t("webhook_deleted"), "ok")
    return redirect(url_for("dashboard.webhooks", site=site.slug))
