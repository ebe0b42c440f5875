"""A site's webhooks: create, list, delete, rotate the secret, send a test, read the delivery log (site API key)."""
from __future__ import annotations

from comment_service import schemas
from comment_service.api.blueprint import bp, site_key
from comment_service.models import Site
from comment_service.services import webhooks

NOT_FOUND = "No such site or webhook (another site's webhooks are indistinguishable from none)."


@bp.get("/sites/<slug:site>/webhooks")
@bp.errors(404, e404=NOT_FOUND)
@bp.doc(operationId="listWebhooks")
@site_key
@bp.response(200, schemas.WebhookListSchema, description="The site's webhooks.")
def list_webhooks(site: Site):
    """The site's webhook endpoints, oldest first (never their secrets)."""
    return {"webhooks": webhooks.list_webhooks(site)}


@bp.post("/sites/<slug:site>/webhooks")
@bp.errors(400, 404, 409, 413, 415, 422, e404=NOT_FOUND, e409="The site has the most webhooks it may have (10).")
@bp.doc(operationId="createWebhook")
@site_key
@bp.arguments(schemas.WebhookCreateSchema)
@bp.response(201, schemas.WebhookSecretSchema, description="Created; the secret is shown this once.")
def create_webhook(data: dict, site: Site):
    """Send the chosen events to a URL, signed as Standard Webhooks does.

    Each message is a POST with `webhook-id`, `webhook-timestamp` and `webhook-signature` headers;
    verify them with the secret (any Standard Webhooks library does). A receiver answering anything but
    2xx is retried with growing waits (8 attempts over about 4.5 hours); 410 Gone disables the endpoint.
    """
    webhook, secret = webhooks.create_webhook(site, data["url"], data["events"], data["description"])
    return {"webhook": webhook, "secret": secret}, 201


@bp.patch("/sites/<slug:site>/webhooks/<int:webhook_id>")
@bp.errors(400, 404, 413, 415, 422, e404=NOT_FOUND)
@bp.doc(operationId="changeWebhook")
@site_key
@bp.arguments(schemas.WebhookChangeSchema)
@bp.response(200, schemas.WebhookSchema, description="The endpoint as changed.")
def change_webhook(data: dict, site: Site, webhook_id: int):
    """Change an endpoint's events or description, or enable it again after a 410 Gone disabled it.

    Enabled again, it gets the messages of events from then on; those it missed are not sent.
    """
    return webhooks.change_webhook(site, webhook_id, data)


@bp.delete("/sites/<slug:site>/webhooks/<int:webhook_id>")
@bp.alt_response(204, description="Deleted.", success=True)
@bp.errors(404, e404=NOT_FOUND)
@bp.doc(operationId="deleteWebhook")
@site_key
def delete_webhook(site: Site, webhook_id: int):
    """Delete an endpoint and its delivery log; messages not yet sent are not sent."""
    webhooks.delete_webhook(site, webhook_id)
    return "", 204


@bp.post("/sites/<slug:site>/webhooks/<int:webhook_id>/rotate-secret")
@bp.errors(404, e404=NOT_FOUND)
@bp.doc(operationId="rotateWebhookSecret")
@site_key
@bp.response(200, schemas.WebhookSecretSchema, description="The new secret, shown this once.")
def rotate_webhook_secret(site: Site, webhook_id: int):
    """Replace the endpoint's secret. For 24 hours messages carry two signatures, the new secret's and
    the old one's, so the receiver can switch without losing any."""
    webhook, secret = webhooks.rotate_secret(site, webhook_id)
    return {"webhook": webhook, "secret": secret}


@bp.post("/sites/<slug:site>/webhooks/<int:webhook_id>/test")
@bp.errors(404, e404=NOT_FOUND)
@bp.doc(operationId="testWebhook")
@site_key
@bp.response(202, schemas.DeliveryCreatedSchema, description="A `webhook.test` message is queued.")
def test_webhook(site: Site, webhook_id: int):
    """Queue a `webhook.test` message to the endpoint; its outcome shows in the delivery log."""
    return {"delivery": webhooks.send_test(site, webhook_id)}, 202


@bp.get("/sites/<slug:site>/webhooks/<int:webhook_id>/deliveries")
@bp.errors(404, 422, e404=NOT_FOUND)
@bp.doc(operationId="listWebhookDeliveries")
@site_key
@bp.arguments(schemas.DeliveryListQuery, location="query")
@bp.response(200, schemas.DeliveryPageSchema, description="A page of the delivery log.")
def list_webhook_deliveries(args: dict, site: Site, webhook_id: int):
    """The endpoint's messages, newest first: status, attempts, the last answer or error, the next try."""
    page, more = webhooks.list_deliveries(site, webhook_id, int(args["cursor"]) if args["cursor"] else None,
                                          args["limit"], args["status"])
    return {"deliveries": page, "next_cursor": str(more) if more else None}
