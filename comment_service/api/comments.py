"""Public comment endpoints used by the widget: submit, read a thread, count."""
from __future__ import annotations

from flask import Response, current_app, g, request

from comment_service import services
from comment_service.api import bp
from comment_service.api.cors import public_site
from comment_service.api.http import json_body
from comment_service.extensions import limiter
from comment_service.schemas import (
    OwnCommentsSchema,
    comment_create_schema,
    comment_created_schema,
    comment_list_query,
    counts_query,
    own_query_schema,
)
from comment_service.services import own


def _post_limit() -> str:
    return current_app.config["MAJLIS_POST_RATE_LIMIT"]


def _query(*names: str) -> dict[str, str]:
    return {n: v for n in names if (v := request.args.get(n)) is not None}


@bp.post("/sites/<slug:site>/comments")
# Only stored comments count: a reader fixing field errors must not be locked out.
@limiter.limit(_post_limit, deduct_when=lambda resp: resp.status_code == 201)
def create_comment(site: str):
    """Submit a comment from the reader's form."""
    site_obj = public_site(site, write=True)
    data = comment_create_schema.load(json_body())
    comment, token = services.submit_comment(site_obj, data, request.remote_addr)
    body = {
        "comment": services.public_comment(comment, data["thread"]),
        "edit_token": token,
        "editable_until": own.editable_until(site_obj, comment.created_at),
    }
    return comment_created_schema.dump(body), 201


@bp.post("/sites/<slug:site>/comments/own")
def own_comments(site: str):
    """The author's own comments, by the edit tokens their browser kept (pending ones included)."""
    site_obj = public_site(site, write=True)
    data = own_query_schema.load(json_body())
    found = own.own_comments(site_obj, [(c["id"], c["edit_token"]) for c in data["comments"]])
    return OwnCommentsSchema().dump({"comments": found})


@bp.get("/sites/<slug:site>/comments")
def list_comments(site: str):
    """Read a thread's visible comments, oldest first, a page at a time."""
    args = comment_list_query.load(_query("thread", "cursor", "limit"))
    after = int(args["cursor"]) if args["cursor"] else None
    page = services.thread_page(site, args["thread"], after, args["limit"], request.headers.get("If-None-Match"))
    g.site_origins = page.origins
    fresh = page.matches(request.headers.get("If-None-Match"))
    resp = Response(None if fresh else page.body, status=304 if fresh else 200, mimetype="application/json")
    resp.headers["ETag"] = page.etag
    resp.headers["Cache-Control"] = f"public, max-age={current_app.config['MAJLIS_READ_MAX_AGE']}"
    return resp


@bp.get("/sites/<slug:site>/counts")
def comment_counts(site: str):
    """Count the visible comments of up to 100 threads in one request."""
    site_obj = public_site(site)
    sent = request.args.getlist("thread")
    keys = counts_query.load({"thread": sent} if sent else {})["thread"]
    counts = services.thread_counts(site_obj, keys)
    # Keyed by the keys as sent: a page looks its badges up by the text in its markup, which may
    # differ from the stored key (NFC, spaces trimmed, invisible characters removed).
    return {"counts": {raw: counts[key] for raw, key in zip(sent, keys, strict=True)}}
