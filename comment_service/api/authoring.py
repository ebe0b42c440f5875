"""The author's own changes from the widget: edit or delete a comment with its edit token."""
from __future__ import annotations

from flask import current_app, request
from marshmallow import Schema, fields

from comment_service import schemas
from comment_service.api.blueprint import bp
from comment_service.api.cors import public
from comment_service.extensions import limiter
from comment_service.models import Site
from comment_service.services import authoring

TOKEN_HEADER = "X-Edit-Token"
AUTHOR_403 = ("Origin not allowed, a missing or wrong edit token (`invalid_edit_token`), the edit window is over "
              "(`edit_window_closed`); for an edit also a closed thread or a banned author.")
AUTHOR_404 = "No such site, or no such comment on this site."


class EditTokenHeader(Schema):
    token = fields.String(required=True, data_key=TOKEN_HEADER,
                          metadata={"description": "The `edit_token` the comment's creation answered with."})


def _edit_limit() -> str:
    return current_app.config["MAJLIS_POST_RATE_LIMIT"]


# Edits and deletes share one budget per client, counted like submissions: only changes that happen
# (a CORS preflight to the same URL never counts).
_author_limit = limiter.shared_limit(
    _edit_limit, scope="author-changes", methods=["PATCH", "DELETE"],
    deduct_when=lambda resp: resp.status_code in (200, 204),
)


@bp.patch("/sites/<slug:site>/comments/<int:comment_id>")
@bp.reads(EditTokenHeader, location="headers")  # a missing or wrong token is the service's 403
@bp.errors(400, 403, 404, 409, 413, 415, 422, 429, e403=AUTHOR_403, e404=AUTHOR_404,
           e409="The comment can no longer be edited (`not_editable`) or changed meanwhile (`edit_conflict`).")
@bp.doc(operationId="editComment")
@_author_limit
@public(write=True)
@bp.arguments(schemas.CommentEditSchema)
@bp.response(200, schemas.CommentSchema, description="The edited comment; `status` says whether it is visible.")
def edit_comment(data: dict, site: Site, comment_id: int):
    """Edit one's comment inside the site's edit window (a new revision, moderated again)."""
    token = request.headers.get(TOKEN_HEADER)
    return authoring.edit_comment(site, comment_id, token, data["body"], request.remote_addr)


@bp.delete("/sites/<slug:site>/comments/<int:comment_id>")
@bp.reads(EditTokenHeader, location="headers")
@bp.alt_response(204, description="Deleted (also when it already was).", success=True)
@bp.errors(403, 404, 409, 429, e403=AUTHOR_403, e404=AUTHOR_404, e409="The comment changed meanwhile; try again.")
@bp.doc(operationId="deleteComment")
@_author_limit
@public(write=True)
def withdraw_comment(site: Site, comment_id: int):
    """Delete one's comment inside the site's edit window (a tombstone stays if it has replies)."""
    authoring.delete_comment(site, comment_id, request.headers.get(TOKEN_HEADER))
    return "", 204
