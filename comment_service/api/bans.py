"""A site's bans: list, create, lift (site API key)."""
from __future__ import annotations

from flask import g

from comment_service import schemas
from comment_service.api.blueprint import bp, site_key
from comment_service.models import Site
from comment_service.services import ban_admin

NOT_FOUND = "No such site or ban (another site's bans are indistinguishable from none)."


@bp.get("/sites/<slug:site>/bans")
@bp.errors(404, 422, e404=NOT_FOUND)
@bp.doc(operationId="listBans")
@site_key
@bp.arguments(schemas.BanListQuery, location="query")
@bp.response(200, schemas.BanPageSchema, description="A page of bans.")
def list_bans(args: dict, site: Site):
    """The site's bans, active and expired (flagged), newest first."""
    bans, more = ban_admin.list_bans(site, int(args["cursor"]) if args["cursor"] else None, args["limit"])
    return {"bans": bans, "next_cursor": str(more) if more else None}


@bp.post("/sites/<slug:site>/bans")
@bp.errors(400, 404, 409, 413, 415, 422, e404=NOT_FOUND,
           e409="This value is already banned (an active ban), or a covered comment changed meanwhile.")
@bp.doc(operationId="createBan")
@site_key
@bp.arguments(schemas.BanCreateSchema)
@bp.response(201, schemas.BanCreatedSchema, description="Banned.")
def create_ban(data: dict, site: Site):
    """Ban an email, an email domain or an IP prefix (/24 or /48).

    Only a keyed digest of the value is stored, with a label safe to show. `reject_existing` also rejects the
    author's pending and published comments.
    """
    ban, rejected = ban_admin.create_ban(
        site, data["kind"], data["value"], reason=data["reason"], expires_at=data["expires_at"],
        expires_in_days=data["expires_in_days"], reject_existing=data["reject_existing"], actor=g.actor,
    )
    return {"ban": ban, "rejected_comments": rejected}, 201


@bp.delete("/sites/<slug:site>/bans/<int:ban_id>")
@bp.alt_response(204, description="Lifted.", success=True)
@bp.errors(404, e404=NOT_FOUND)
@bp.doc(operationId="deleteBan")
@site_key
def delete_ban(site: Site, ban_id: int):
    """Lift a ban."""
    ban_admin.lift_ban(site, ban_id)
    return "", 204
