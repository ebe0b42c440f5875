"""Moderation API: settings, queues, claims, decisions, history, reports (site API key)."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request
from marshmallow import Schema, fields

from comment_service import schemas
from comment_service.api.blueprint import bp, site_key
from comment_service.api.cors import public
from comment_service.api.http import header_text
from comment_service.errors import ApiError, bulk_item
from comment_service.extensions import limiter
from comment_service.models import Site, utcnow
from comment_service.moderation.status import Queue
from comment_service.moderation.text import NAME, TextRefused, clean_text
from comment_service.services import moderation, queues, reports, sites
from comment_service.services.moderation import Decision

MODERATOR_HEADER = "X-Majlis-Moderator"
MODERATOR_NAME_MAX = 64
NOT_FOUND = "No such site, comment or queue (another site's objects are indistinguishable from none)."
QUEUE = {"in": "path", "name": "queue", "schema": {"type": "string", "enum": [q.value for q in Queue]}}

# Moderator comments (QueuePage, Claimed, Decided, ModeratorComment) are written by
# schemas.dump_moderator_comment, which gives the schema's JSON at a tenth of the cost: their views
# declare the schema for the document (alt_response, success=True) and return what it wrote.
_dump = schemas.dump_moderator_comment


class ModeratorHeader(Schema):
    name = fields.String(data_key=MODERATOR_HEADER, metadata={
        "minLength": 1, "maxLength": MODERATOR_NAME_MAX,
        "description": "Who, behind the key, acts: claims and decisions are theirs. UTF-8, or percent-encoded "
                       "UTF-8 (an all-ASCII value holding %XX is decoded; send a literal % as %25); cleaned like "
                       "an author's name. Present but blank: 400 `invalid_moderator`.",
    })


# The moderator's name is read by _actor() when the view needs it (after its input is validated).
names_moderator = bp.reads(ModeratorHeader, location="headers")


def _actor() -> str:
    """The key, and the person behind it when the caller says (one key may serve many moderators).

    The header carries UTF-8 or percent-encoded UTF-8 (api.http.header_text) and is cleaned like an
    author's name (moderation/text.py, policy "name"); present but blank, it is refused."""
    sent = request.headers.get(MODERATOR_HEADER)
    if sent is None:
        return g.actor
    refused = ApiError(
        400, "invalid_moderator",
        f"{MODERATOR_HEADER} must be a name of 1-{MODERATOR_NAME_MAX} characters, in UTF-8 or percent-encoded UTF-8.",
    )
    try:
        name = clean_text(header_text(sent), NAME)
    except (UnicodeError, TextRefused):
        raise refused from None
    if not 1 <= len(name) <= MODERATOR_NAME_MAX:
        raise refused
    return f"{g.actor}/{name}"


def _queue(name: str) -> Queue:
    try:
        return Queue(name)
    except ValueError:
        known = ", ".join(q.value for q in Queue)
        raise ApiError(404, "queue_not_found", f"No queue {name!r}; queues: {known}.") from None


def in_queue(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view gets the Queue named in the URL as `queue` (404 `queue_not_found` for any other
    name), before its input is read."""

    @wraps(view)
    def wrapper(*args: Any, queue: str, **kwargs: Any) -> Any:
        return view(*args, queue=_queue(queue), **kwargs)

    return wrapper


@bp.get("/sites/<slug:site>/settings")
@bp.errors(404, e404=NOT_FOUND)
@site_key
@bp.response(200, schemas.SettingsOutSchema, description="OK")
def get_settings(site: Site):
    """A site's moderation settings."""
    return sites.site_settings(site)


@bp.put("/sites/<slug:site>/settings")
@bp.errors(400, 404, 413, 415, 422, e404=NOT_FOUND)
@site_key
@bp.arguments(schemas.SettingsSchema)
@bp.response(200, schemas.SettingsOutSchema, description="OK")
def put_settings(changes: dict, site: Site):
    """Change any subset of the settings.

    Answers with all of them, defaults filled in.
    """
    return sites.update_settings(site, changes)


@bp.get("/sites/<slug:site>/queues")
@bp.errors(404, e404=NOT_FOUND)
@site_key
@bp.response(200, schemas.QueueCountsSchema, description="OK")
def queue_counts(site: Site):
    """Comments waiting in each queue, and the oldest pending item's age."""
    return queues.queue_counts(site, utcnow())


@bp.get("/sites/<slug:site>/queues/<queue>", parameters=[QUEUE])
@bp.alt_response(200, schema=schemas.QueuePageSchema, description="OK", success=True)
@bp.errors(404, 422, e404=NOT_FOUND)
@site_key
@in_queue
@bp.arguments(schemas.QueueQuery, location="query")
def queue_page(args: dict, site: Site, queue: Queue):
    """A page of a queue, oldest first.

    With everything needed to decide.
    """
    items, more = queues.queue_items(site, queue, int(args["cursor"]) if args["cursor"] else None, args["limit"])
    return {"items": [_dump(i) for i in items], "next_cursor": str(more) if more else None}


@bp.post("/sites/<slug:site>/queues/<queue>/claim", parameters=[QUEUE])
@names_moderator
@bp.alt_response(200, schema=schemas.ClaimedSchema, description="OK", success=True)
@bp.errors(400, 404, 413, 415, 422, e404=NOT_FOUND)
@site_key
@in_queue
@bp.arguments(schemas.ClaimSchema)
def claim(args: dict, site: Site, queue: Queue):
    """Lease up to `limit` items nobody else holds."""
    items = queues.claim_batch(site, queue, _actor(), args["limit"], args["lease_seconds"])
    return {"items": [_dump(i) for i in items]}


@bp.post("/sites/<slug:site>/queues/<queue>/release", parameters=[QUEUE])
@names_moderator
@bp.errors(400, 404, 413, 415, 422, e404=NOT_FOUND)
@site_key
@in_queue
@bp.arguments(schemas.ReleaseSchema)
@bp.response(200, schemas.ReleasedSchema, description="OK")
def release(args: dict, site: Site, queue: Queue):
    """Give back items you hold."""
    return {"released": queues.release_claims(site, _actor(), args["ids"])}


@bp.get("/sites/<slug:site>/comments/<int:comment_id>")
@bp.alt_response(200, schema=schemas.ModeratorCommentSchema, description="OK", success=True)
@bp.errors(404, e404=NOT_FOUND)
@site_key
def moderator_comment(site: Site, comment_id: int):
    """A comment as moderators see it."""
    return _dump(queues.moderator_item(site, comment_id))


@bp.post("/sites/<slug:site>/comments/<int:comment_id>/decision")
@names_moderator
@bp.alt_response(200, schema=schemas.DecidedSchema, description="OK", success=True)
@bp.errors(400, 404, 409, 413, 415, 422, e404=NOT_FOUND)
@site_key
@bp.arguments(schemas.DecisionSchema)
def decide(data: dict, site: Site, comment_id: int):
    """Decide on the revision you saw (409 if it changed or someone else holds it).

    Approve, reject, mark spam or not, delete or restore.
    """
    return {"comment": _dump(moderation.decide(site, comment_id, Decision.of(data), _actor()))}


@bp.post("/sites/<slug:site>/decisions")
@names_moderator
@bp.errors(400, 404, 413, 415, 422, e404=NOT_FOUND)
@site_key
@bp.arguments(schemas.BulkSchema)
@bp.response(200, schemas.BulkResultSchema, description="OK")
def decide_bulk(data: dict, site: Site):
    """Up to 100 decisions, each applied on its own."""
    outcomes = moderation.decide_many(site, [(d["id"], Decision.of(d)) for d in data["decisions"]], _actor())
    return {"results": [bulk_item(o) for o in outcomes]}


@bp.get("/sites/<slug:site>/comments/<int:comment_id>/history")
@bp.errors(404, e404=NOT_FOUND)
@site_key
@bp.response(200, schemas.HistorySchema, description="OK")
def comment_history(site: Site, comment_id: int):
    """Every recorded change of a comment, oldest first."""
    return {"history": moderation.history(site, comment_id)}


def _report_limit() -> str:
    return current_app.config["MAJLIS_REPORT_RATE_LIMIT"]


@bp.post("/sites/<slug:site>/comments/<int:comment_id>/reports")
@bp.alt_response(200, schema=schemas.ReportReceivedSchema, description="This reader had already reported it.",
                 success=True)
@bp.errors(400, 403, 404, 413, 415, 422, 429, e404="No such site, or no visible comment with this id.")
@limiter.limit(_report_limit)
@public(write=True)
@bp.arguments(schemas.ReportCreateSchema)
@bp.response(201, schemas.ReportReceivedSchema, description="Report recorded.")
def report(data: dict, site: Site, comment_id: int):
    """A reader reports a visible comment (counted once per reader)."""
    new = reports.report_comment(
        site, comment_id, data["reason"], data["note"], request.remote_addr, request.headers.get("User-Agent")
    )
    # The same answer for a repeat: a reader cannot probe whether their report was counted.
    return {"received": True}, 201 if new else 200


@bp.get("/sites/<slug:site>/comments/<int:comment_id>/reports")
@bp.errors(404, e404=NOT_FOUND)
@site_key
@bp.response(200, schemas.ReportListSchema, description="OK")
def comment_reports(site: Site, comment_id: int):
    """A comment's reports."""
    return {"reports": reports.comment_reports(site, comment_id)}


@bp.post("/sites/<slug:site>/comments/<int:comment_id>/reports/dismiss")
@names_moderator
@bp.alt_response(200, schema=schemas.DecidedSchema, description="OK", success=True)
@bp.errors(400, 404, 409, 413, 415, 422, e404=NOT_FOUND)
@site_key
@bp.arguments(schemas.DismissSchema)
def dismiss(data: dict, site: Site, comment_id: int):
    """Close a comment's open reports as unfounded.

    The comment keeps its status.
    """
    return {"comment": _dump(reports.dismiss_reports(site, comment_id, data["revision"], _actor(), data["note"]))}
