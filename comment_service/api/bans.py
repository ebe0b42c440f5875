"""A site's bans: list, create, lift (site API key)."""
from __future__ import annotations

from flask import g, request

from comment_service import schemas
from comment_service.api import bp
from comment_service.api.http import json_body
from comment_service.api.openapi import SITE, component, document, errors, json_content
from comment_service.auth import require_site_key
from comment_service.models import Site
from comment_service.services import ban_admin


@bp.get("/sites/<slug:site>/bans")
@require_site_key
def list_bans(site: Site):
    """The site's bans, active and expired, newest first."""
    args = schemas.ban_list_query.load({n: v for n in ("cursor", "limit") if (v := request.args.get(n)) is not None})
    bans, more = ban_admin.list_bans(site, int(args["cursor"]) if args["cursor"] else None, args["limit"])
    return schemas.ban_page_schema.dump({"bans": bans, "next_cursor": str(more) if more else None})


@bp.post("/sites/<slug:site>/bans")
@require_site_key
def create_ban(site: Site):
    """Ban an email, an email domain or an IP prefix, maybe rejecting what the author already posted."""
    data = schemas.ban_create_schema.load(json_body())
    ban, rejected = ban_admin.create_ban(
        site, data["kind"], data["value"], reason=data["reason"], expires_at=data["expires_at"],
        expires_in_days=data["expires_in_days"], reject_existing=data["reject_existing"], actor=g.actor,
    )
    body = {"ban": ban, "rejected_comments": rejected}
    return schemas.ban_created_schema.dump(body), 201


@bp.delete("/sites/<slug:site>/bans/<int:ban_id>")
@require_site_key
def delete_ban(site: Site, ban_id: int):
    """Lift a ban."""
    ban_admin.lift_ban(site, ban_id)
    return "", 204


KEY = [{"siteKey": []}]
BAN_ID = {"name": "ban_id", "in": "path", "required": True,
          "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
NOT_FOUND = "No such site or ban (another site's bans are indistinguishable from none)."

for name, schema in [
    ("Ban", schemas.BanSchema), ("BanCreate", schemas.BanCreateSchema),
    ("BanCreated", schemas.BanCreatedSchema), ("BanPage", schemas.BanPageSchema),
]:
    component(name, schema)

document(
    path="/api/v1/sites/{site}/bans",
    parameters=[SITE],
    operations={
        "get": {
            "summary": "The site's bans, active and expired (flagged), newest first.",
            "operationId": "listBans",
            "security": KEY,
            "parameters": [{"in": "query", "schema": schemas.BanListQuery}],
            "responses": {"200": {"description": "A page of bans.", **json_content("BanPage")},
                          **errors(401, 404, 422, e404=NOT_FOUND)},
        },
        "post": {
            "summary": "Ban an email, an email domain or an IP prefix (/24 or /48).",
            "description": "Only a keyed digest of the value is stored, with a label safe to show. "
                           "`reject_existing` also rejects the author's pending and published comments.",
            "operationId": "createBan",
            "security": KEY,
            "requestBody": {"required": True, **json_content("BanCreate")},
            "responses": {
                "201": {"description": "Banned.", **json_content("BanCreated")},
                **errors(400, 401, 404, 409, 413, 415, 422, e404=NOT_FOUND,
                         e409="This value is already banned (an active ban), or a covered comment changed meanwhile."),
            },
        },
    },
)
document(
    path="/api/v1/sites/{site}/bans/{ban_id}",
    parameters=[SITE, BAN_ID],
    operations={
        "delete": {
            "summary": "Lift a ban.",
            "operationId": "deleteBan",
            "security": KEY,
            "responses": {"204": {"description": "Lifted."}, **errors(401, 404, e404=NOT_FOUND)},
        },
    },
)
