"""The author's own changes from the widget: edit or delete a comment with its edit token."""
from __future__ import annotations

from flask import current_app, request

from comment_service import schemas
from comment_service.api import bp
from comment_service.api.cors import public_site
from comment_service.api.http import json_body
from comment_service.api.openapi import SITE, component, document, errors, json_content
from comment_service.extensions import limiter
from comment_service.schemas import ID_MAX
from comment_service.services import authoring

TOKEN_HEADER = "X-Edit-Token"


def _edit_limit() -> str:
    return current_app.config["MAJLIS_POST_RATE_LIMIT"]


# Edits and deletes share one budget per client, counted like submissions: only changes that happen
# (a CORS preflight to the same URL never counts).
_author_limit = limiter.shared_limit(
    _edit_limit, scope="author-changes", methods=["PATCH", "DELETE"],
    deduct_when=lambda resp: resp.status_code in (200, 204),
)


@bp.patch("/sites/<slug:site>/comments/<int:comment_id>")
@_author_limit
def edit_comment(site: str, comment_id: int):
    """Replace one's comment text inside the edit window; it is moderated again."""
    site_obj = public_site(site, write=True)
    data = schemas.comment_edit_schema.load(json_body())
    comment = authoring.edit_comment(
        site_obj, comment_id, request.headers.get(TOKEN_HEADER), data["body"], request.remote_addr
    )
    return schemas.comment_schema.dump(comment)


@bp.delete("/sites/<slug:site>/comments/<int:comment_id>")
@_author_limit
def withdraw_comment(site: str, comment_id: int):
    """Delete one's comment inside the edit window (a tombstone stays if it has replies)."""
    authoring.delete_comment(public_site(site, write=True), comment_id, request.headers.get(TOKEN_HEADER))
    return "", 204


component("CommentEdit", schemas.CommentEditSchema)
EDIT_TOKEN = {
    "name": TOKEN_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
    "description": "The `edit_token` the comment's creation answered with.",
}
COMMENT_ID = {"name": "comment_id", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX}}
AUTHOR_403 = ("Origin not allowed, a missing or wrong edit token (`invalid_edit_token`), the edit window is over "
              "(`edit_window_closed`); for an edit also a closed thread or a banned author.")
AUTHOR_404 = "No such site, or no such comment on this site."

document(
    path="/api/v1/sites/{site}/comments/{comment_id}",
    parameters=[SITE],
    operations={
        "patch": {
            "summary": "Edit one's comment inside the site's edit window (a new revision, moderated again).",
            "operationId": "editComment",
            "parameters": [COMMENT_ID, EDIT_TOKEN],
            "requestBody": {"required": True, **json_content("CommentEdit")},
            "responses": {
                "200": {"description": "The edited comment; `status` says whether it is visible.",
                        **json_content("Comment")},
                **errors(400, 403, 404, 409, 413, 415, 422, 429, e403=AUTHOR_403, e404=AUTHOR_404,
                         e409="The comment can no longer be edited (`not_editable`) or changed meanwhile "
                              "(`edit_conflict`)."),
            },
        },
        "delete": {
            "summary": "Delete one's comment inside the site's edit window.",
            "operationId": "deleteComment",
            "parameters": [COMMENT_ID, EDIT_TOKEN],
            "responses": {
                "204": {"description": "Deleted (also when it already was)."},
                **errors(403, 404, 409, 429, e403=AUTHOR_403, e404=AUTHOR_404,
                         e409="The comment changed meanwhile; try again."),
            },
        },
    },
)
