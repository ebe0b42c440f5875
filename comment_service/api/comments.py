"""Public comment endpoints used by the widget: submit, read a thread, count."""
from __future__ import annotations

from flask import Response, current_app, g, request
from marshmallow import Schema, ValidationError, fields

from comment_service import schemas, services
from comment_service.api.blueprint import bp
from comment_service.api.cors import public, public_site
from comment_service.api.http import json_body
from comment_service.contracts import ERROR_TEXT
from comment_service.errors import ApiError
from comment_service.extensions import limiter
from comment_service.models import Site
from comment_service.schemas import comment_create_schema, comment_list_query, counts_query
from comment_service.services import idempotency, own

REPLAYED = "Idempotent-Replayed"
# The limiter's answer to idempotency.site_and_recorded, kept for the view: whether the key stored a
# comment already, and the site it read on the way.
_RECORDED, _SITE = "majlis.retry_of_recorded", "majlis.site_of_request"
CACHE_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "Validator; send it back in If-None-Match."},
    "Cache-Control": {"schema": {"type": "string"}, "description": "Short public caching."},
}


class IdempotencyKeyHeader(Schema):
    key = fields.String(data_key=idempotency.HEADER, metadata={
        "minLength": 1, "maxLength": idempotency.KEY_MAX, "pattern": idempotency.KEY_PATTERN,
        "description": "One per submission (a UUID, say), sent again with the same body when retrying it: within "
                       "24 hours a retry answers the comment the first attempt stored instead of storing another. "
                       "1-200 printable ASCII characters.",
    })


class IfNoneMatchHeader(Schema):
    etag = fields.String(data_key="If-None-Match")


def _post_limit() -> str:
    return current_app.config["MAJLIS_POST_RATE_LIMIT"]


def _query(*names: str) -> dict[str, str]:
    return {n: v for n in names if (v := request.args.get(n)) is not None}


# The thread read's query, loaded (validated, the thread key normalised), by the query string as
# sent: loading is a pure function of it, and a hot article's readers all send the same one, so
# each is parsed and validated once per process (~40 µs of a ~180 µs request). Invalid queries
# raise as before and are not kept; long ones are not kept either (the memo stays under ~1 MB).
_LIST_QUERIES: dict[str, dict] = {}
_LIST_QUERIES_MAX, _LIST_QUERY_KEPT_CHARS = 1024, 512


def _list_query() -> dict:
    raw = request.environ.get("QUERY_STRING", "")
    loaded = _LIST_QUERIES.get(raw)
    if loaded is None:
        loaded = comment_list_query.load(_query("thread", "cursor", "limit"))
        if len(raw) <= _LIST_QUERY_KEPT_CHARS:
            if len(_LIST_QUERIES) >= _LIST_QUERIES_MAX:
                _LIST_QUERIES.clear()
            _LIST_QUERIES[raw] = loaded
    return loaded


def _stored_now(resp: Response) -> bool:
    """Only comments stored by this request count: a reader fixing field errors must not be locked
    out, and a retry answered with the comment an earlier attempt stored is not a new one."""
    return resp.status_code == 201 and REPLAYED not in resp.headers


def _retry_of_recorded() -> bool:
    """A request whose Idempotency-Key already stored a comment can store nothing new: it neither
    waits for the limit nor uses it up. (Asked once per limit of the request: looked up once.)"""
    env = request.environ
    if _RECORDED not in env:
        env[_SITE], env[_RECORDED] = idempotency.site_and_recorded(
            (request.view_args or {}).get("site"), request.headers.get(idempotency.HEADER)
        )
    return bool(env[_RECORDED])


def _may_be_recorded() -> bool:
    """False when the rate limiter asked already and this key had stored nothing: then there is
    nothing to replay (a concurrent retry that stores meanwhile is caught when the key is recorded)."""
    return request.environ.get(_RECORDED, True) is not False


def _created(submitted: services.Submitted, replayed: bool = False):
    """The 201 of a submission; a replay says so in `Idempotent-Replayed: true`."""
    return submitted, 201, {REPLAYED: "true"} if replayed else {}


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key, if any; 400 when it is not 1-200 printable ASCII characters."""
    key = request.headers.get(idempotency.HEADER)
    if key is not None and not idempotency.valid_key(key):
        raise ApiError(400, "invalid_idempotency_key", f"The {idempotency.HEADER} header must be 1 to "
                       f"{idempotency.KEY_MAX} printable ASCII characters.")
    return key


@bp.post("/sites/<slug:site>/comments")
@bp.reads(IdempotencyKeyHeader, location="headers")
@bp.reads(comment_create_schema)  # loaded below, after a replay is answered
@bp.errors(400, 403, 404, 409, 413, 415, 422, 429,
           e400=ERROR_TEXT[400] + " A malformed Idempotency-Key (`invalid_idempotency_key`).",
           e409="The submission this Idempotency-Key stored has been deleted since (`submission_withdrawn`), "
                "or another request with the key is being stored (`conflict`).",
           e422=ERROR_TEXT[422] + " The Idempotency-Key was used for another submission (`idempotency_key_reused`).")
@bp.doc(operationId="createComment")
@limiter.limit(_post_limit, deduct_when=_stored_now, exempt_when=_retry_of_recorded)
@bp.response(201, schemas.CommentCreatedSchema, headers={REPLAYED: {
    "required": False, "schema": {"type": "string", "enum": ["true"]},
    "description": "Present on the answer to a retry: an earlier request stored this comment.",
}}, description="Stored; `status` says whether it is visible yet. A retry with the same Idempotency-Key gets the "
                "same answer (the comment as it is now, the same edit token) and stores nothing.")
def create_comment(site: str):
    """Submit a comment from the reader's form (an Idempotency-Key makes retrying it safe)."""
    site_obj = public_site(site, write=True, found=request.environ.get(_SITE))
    document = json_body()
    keyed = idempotency.keyed_request(site_obj, _idempotency_key(), document)
    if keyed is not None and _may_be_recorded() and (earlier := services.replayed(site_obj, keyed)) is not None:
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
@bp.errors(400, 403, 404, 413, 415, 422)
@bp.doc(operationId="ownComments")
@public(write=True)
@bp.arguments(schemas.OwnQuerySchema)
@bp.response(200, schemas.OwnCommentsSchema, description="The comments whose token matched; others are left out.")
def own_comments(data: dict, site: Site):
    """An author's own comments, by the edit tokens their browser kept (pending ones included)."""
    found = own.own_comments(site, [(c["id"], c["edit_token"]) for c in data["comments"]])
    return {"comments": found}


# The hot read: nothing here wraps the view (every declaration is documentation only), and the
# answer is the page's body serialised once and cached (services.thread_page), never dumped here.
@bp.get("/sites/<slug:site>/comments")
@bp.reads(comment_list_query, location="query")
@bp.reads(IfNoneMatchHeader, location="headers")
@bp.alt_response(200, schema=schemas.CommentPageSchema, description="A page of comments.", headers=CACHE_HEADERS,
                 success=True)
@bp.alt_response(304, description="Unchanged since the ETag you sent.", headers=CACHE_HEADERS, success=True)
@bp.errors(404, 422)
@bp.doc(operationId="listComments")
def list_comments(site: str):
    """Read a thread's visible comments, oldest first, a page at a time."""
    args = _list_query()
    after = int(args["cursor"]) if args["cursor"] else None
    page = services.thread_page(site, args["thread"], after, args["limit"], request.headers.get("If-None-Match"))
    g.site_origins = page.origins
    fresh = page.matches(request.headers.get("If-None-Match"))
    resp = Response(None if fresh else page.body, status=304 if fresh else 200, mimetype="application/json")
    resp.headers["ETag"] = page.etag
    resp.headers["Cache-Control"] = f"public, max-age={current_app.config['MAJLIS_READ_MAX_AGE']}"
    return resp


@bp.get("/sites/<slug:site>/counts")
@bp.reads(counts_query, location="query")  # the answer is keyed by the keys as sent: read below
@bp.alt_response(200, schema=schemas.CountsSchema, description="Counts by thread key.", success=True)
@bp.errors(404, 422)
@bp.doc(operationId="countComments")
def comment_counts(site: str):
    """Count the visible comments of up to 100 threads in one request.

    Up to 100 keys and 7,500 bytes of URL (path and query, percent-encoded) per request:
    the production set-up's request line holds 8 KB, and 100 Arabic slugs of 40 letters take 24 KB.
    count.js splits its keys into batches within both limits.
    The answer maps each key as sent to its count (unknown threads count 0).
    """
    sent = request.args.getlist("thread")
    try:
        keys = counts_query.load({"thread": sent} if sent else {})["thread"]
    except ValidationError:
        public_site(site)  # an unknown site is 404 whatever the query
        raise
    # One statement for the site's origins (CORS) and the counts.
    g.site_origins, counts = services.site_counts(site, keys)
    # Keyed by the keys as sent: a page looks its badges up by the text in its markup, which may
    # differ from the stored key (NFC, spaces trimmed, invisible characters removed).
    return {"counts": {raw: counts[key] for raw, key in zip(sent, keys, strict=True)}}
