"""Public comment endpoints used by the widget: submit, read a thread, count."""
from __future__ import annotations

from flask import Response, current_app, g, request

from comment_service import services
from comment_service.api import bp
from comment_service.api.cors import public_site
from comment_service.api.http import json_body
from comment_service.errors import ApiError
from comment_service.extensions import limiter
from comment_service.schemas import (
    OwnCommentsSchema,
    comment_create_schema,
    comment_created_schema,
    comment_list_query,
    counts_query,
    own_query_schema,
)
from comment_service.services import idempotency, own

REPLAYED = "Idempotent-Replayed"


def _post_limit() -> str:
    return current_app.config["MAJLIS_POST_RATE_LIMIT"]


def _query(*names: str) -> dict[str, str]:
    return {n: v for n in names if (v := request.args.get(n)) is not None}


def _stored_now(resp: Response) -> bool:
    """Only comments stored by this request count: a reader fixing field errors must not be locked
    out, and a retry answered with the comment an earlier attempt stored is not a new one."""
    return resp.status_code == 201 and REPLAYED not in resp.headers


def _retry_of_recorded() -> bool:
    """A request whose Idempotency-Key already stored a comment can store nothing new: it neither
    waits for the limit nor uses it up. (Asked once per limit of the request: looked up once.)"""
    env = request.environ
    if "majlis.retry_of_recorded" not in env:
        env["majlis.retry_of_recorded"] = idempotency.recorded(
            (request.view_args or {}).get("site"), request.headers.get(idempotency.HEADER)
        )
    return bool(env["majlis.retry_of_recorded"])


def _created(submitted: services.Submitted, replayed: bool = False):
    """The 201 of a submission; a replay says so in `Idempotent-Replayed: true`."""
    return comment_created_schema.dump(submitted), 201, {REPLAYED: "true"} if replayed else {}


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key, if any; 400 when it is not 1-200 printable ASCII characters."""
    key = request.headers.get(idempotency.HEADER)
    if key is not None and not idempotency.valid_key(key):
        raise ApiError(400, "invalid_idempotency_key", f"The {idempotency.HEADER} header must be 1 to "
                       f"{idempotency.KEY_MAX} printable ASCII characters.")
    return key


@bp.post("/sites/<slug:site>/comments")
@limiter.limit(_post_limit, deduct_when=_stored_now, exempt_when=_retry_of_recorded)
def create_comment(site: str):
    """Submit a comment from the reader's form (an Idempotency-Key makes retrying it safe)."""
    site_obj = public_site(site, write=True)
    document = json_body()
    keyed = idempotency.keyed_request(site_obj, _idempotency_key(), document)
    if keyed is not None and (earlier := services.replayed(site_obj, keyed)) is not None:
        return _created(earlier, replayed=True)
    data = comment_create_schema.load(document)
    try:
        submitted = services.submit_comment(site_obj, data, request.remote_addr, keyed)
    except idempotency.AlreadyRecorded:  # a concurrent retry stored it first: answer with that one
        earlier = services.replayed(site_obj, keyed) if keyed is not None else None
        if earlier is None:  # the winner's row is committed before its insert lets ours fail
            raise ApiError(409, "conflict", "A request with this Idempotency-Key is being stored; retry.") from None
        return _created(earlier, replayed=True)
    return _created(submitted)


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
