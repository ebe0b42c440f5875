"""Moderation API: settings, queues, claims, decisions, history, reports (site API key)."""
from __future__ import annotations

from flask import current_app, g, request

from comment_service import schemas
from comment_service.api import bp
from comment_service.api.cors import public_site
from comment_service.api.http import header_text, json_body
from comment_service.auth import require_site_key
from comment_service.errors import ApiError, bulk_item
from comment_service.extensions import limiter
from comment_service.models import Site, utcnow
from comment_service.moderation.status import Queue
from comment_service.moderation.text import NAME, TextRefused, clean_text
from comment_service.services import moderation, queues, reports, sites
from comment_service.services.moderation import Decision

MODERATOR_HEADER = "X-Majlis-Moderator"

# Output schemas, built once. Moderator comments (QueuePage, Claimed, Decided, ModeratorComment)
# are written by schemas.dump_moderator_comment, which gives the schema's JSON at a tenth of the cost.
_bulk_result = schemas.BulkResultSchema()
_history = schemas.HistorySchema()
_report_list = schemas.ReportListSchema()
_queue_counts = schemas.QueueCountsSchema()
_dump = schemas.dump_moderator_comment


MODERATOR_NAME_MAX = 64


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


@bp.get("/sites/<slug:site>/settings")
@require_site_key
def get_settings(site: Site):
    """A site's moderation settings, defaults filled in."""
    return schemas.settings_out_schema.dump(sites.site_settings(site))


@bp.put("/sites/<slug:site>/settings")
@require_site_key
def put_settings(site: Site):
    """Change any subset of a site's settings; answers with all of them."""
    changes = schemas.settings_schema.load(json_body())
    return schemas.settings_out_schema.dump(sites.update_settings(site, changes))


@bp.get("/sites/<slug:site>/queues")
@require_site_key
def queue_counts(site: Site):
    """How many comments wait in each queue, and the age of the oldest pending one."""
    return _queue_counts.dump(queues.queue_counts(site, utcnow()))


@bp.get("/sites/<slug:site>/queues/<queue>")
@require_site_key
def queue_page(site: Site, queue: str):
    """A page of a queue, oldest first, with everything needed to decide."""
    q = _queue(queue)
    args = schemas.queue_query.load(request.args.to_dict())
    items, more = queues.queue_items(site, q, int(args["cursor"]) if args["cursor"] else None, args["limit"])
    return {"items": [_dump(i) for i in items], "next_cursor": str(more) if more else None}


@bp.post("/sites/<slug:site>/queues/<queue>/claim")
@require_site_key
def claim(site: Site, queue: str):
    """Lease up to `limit` unclaimed items of a queue to the caller."""
    q = _queue(queue)
    args = schemas.claim_schema.load(json_body())
    items = queues.claim_batch(site, q, _actor(), args["limit"], args["lease_seconds"])
    return {"items": [_dump(i) for i in items]}


@bp.post("/sites/<slug:site>/queues/<queue>/release")
@require_site_key
def release(site: Site, queue: str):
    """Give back items the caller holds."""
    _queue(queue)
    args = schemas.release_schema.load(json_body())
    return {"released": queues.release_claims(site, _actor(), args["ids"])}


@bp.get("/sites/<slug:site>/comments/<int:comment_id>")
@require_site_key
def moderator_comment(site: Site, comment_id: int):
    """One comment as moderators see it."""
    return _dump(queues.moderator_item(site, comment_id))


@bp.post("/sites/<slug:site>/comments/<int:comment_id>/decision")
@require_site_key
def decide(site: Site, comment_id: int):
    """Approve, reject, mark spam or not, delete or restore the revision the moderator saw."""
    decision = Decision.of(schemas.decision_schema.load(json_body()))
    return {"comment": _dump(moderation.decide(site, comment_id, decision, _actor()))}


@bp.post("/sites/<slug:site>/decisions")
@require_site_key
def decide_bulk(site: Site):
    """Up to 100 decisions; each succeeds or fails on its own."""
    data = schemas.bulk_schema.load(json_body())
    outcomes = moderation.decide_many(site, [(d["id"], Decision.of(d)) for d in data["decisions"]], _actor())
    return _bulk_result.dump({"results": [bulk_item(o) for o in outcomes]})


@bp.get("/sites/<slug:site>/comments/<int:comment_id>/history")
@require_site_key
def comment_history(site: Site, comment_id: int):
    """Every recorded change of a comment, oldest first."""
    return _history.dump({"history": moderation.history(site, comment_id)})


def _report_limit() -> str:
    return current_app.config["MAJLIS_REPORT_RATE_LIMIT"]


@bp.post("/sites/<slug:site>/comments/<int:comment_id>/reports")
@limiter.limit(_report_limit)
def report(site: str, comment_id: int):
    """A reader reports a visible comment (counted once per reader)."""
    site_obj = public_site(site, write=True)
    data = schemas.report_create_schema.load(json_body())
    new = reports.report_comment(
        site_obj, comment_id, data["reason"], data["note"], request.remote_addr, request.headers.get("User-Agent")
    )
    # The same answer for a repeat: a reader cannot probe whether their report was counted.
    return {"received": True}, 201 if new else 200


@bp.get("/sites/<slug:site>/comments/<int:comment_id>/reports")
@require_site_key
def comment_reports(site: Site, comment_id: int):
    """A comment's reports."""
    return _report_list.dump({"reports": reports.comment_reports(site, comment_id)})


@bp.post("/sites/<slug:site>/comments/<int:comment_id>/reports/dismiss")
@require_site_key
def dismiss(site: Site, comment_id: int):
    """Close a comment's open reports as unfounded; it keeps its status."""
    data = schemas.dismiss_schema.load(json_body())
    return {"comment": _dump(reports.dismiss_reports(site, comment_id, data["revision"], _actor(), data["note"]))}


