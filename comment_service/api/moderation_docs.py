"""The OpenAPI description of the moderation API (api/moderation.py)."""
from __future__ import annotations

from typing import Any

from comment_service import schemas
from comment_service.api.openapi import SITE, component, document, errors, json_content
from comment_service.services.queues import Queue

KEY = [{"siteKey": []}]
COMMENT_ID = {"name": "comment_id", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
QUEUE = {"name": "queue", "in": "path", "required": True,
         "schema": {"type": "string", "enum": [q.value for q in Queue]}}
MODERATOR = {"name": "X-Majlis-Moderator", "in": "header", "required": False,
             "schema": {"type": "string", "minLength": 1, "maxLength": 64},
             "description": "Who, behind the key, acts: claims and decisions are theirs. UTF-8, or "
                            "percent-encoded UTF-8 (an all-ASCII value holding %XX is decoded; send a "
                            "literal % as %25); cleaned like an author's name. Present but blank: 400 "
                            "`invalid_moderator`."}
NOT_FOUND = "No such site, comment or queue (another site's objects are indistinguishable from none)."

# Nested schemas first: apispec names a nested schema itself if it meets it before we do.
for name, schema in [
    ("ModeratorComment", schemas.ModeratorCommentSchema),
    ("Settings", schemas.SettingsSchema), ("SettingsOut", schemas.SettingsOutSchema),
    ("QueueCounts", schemas.QueueCountsSchema), ("QueuePage", schemas.QueuePageSchema),
    ("Claim", schemas.ClaimSchema),
    ("Claimed", schemas.ClaimedSchema), ("Release", schemas.ReleaseSchema), ("Released", schemas.ReleasedSchema),
    ("Decision", schemas.DecisionSchema), ("Decided", schemas.DecidedSchema), ("Bulk", schemas.BulkSchema),
    ("BulkResult", schemas.BulkResultSchema), ("History", schemas.HistorySchema),
    ("ReportCreate", schemas.ReportCreateSchema), ("ReportReceived", schemas.ReportReceivedSchema),
    ("ReportList", schemas.ReportListSchema), ("Dismiss", schemas.DismissSchema),
]:
    component(name, schema)


def _op(summary: str, ok: str, body: str | None = None, codes: tuple[int, ...] = (401, 404), status: str = "200",
        params: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "security": KEY, "parameters": params or [],
        "responses": {status: {"description": "OK", **json_content(ok)}, **errors(*codes, e404=NOT_FOUND)},
        **extra,
    }
    if body is not None:
        op["requestBody"] = {"required": True, **json_content(body)}
        op["responses"].update(errors(400, 413, 415, 422))
    return op


S = "/api/v1/sites/{site}"
document(f"{S}/settings", parameters=[SITE], operations={
    "get": _op("A site's moderation settings.", "SettingsOut"),
    "put": _op("Change any subset of the settings.", "SettingsOut", body="Settings"),
})
document(f"{S}/queues", parameters=[SITE], operations={
    "get": _op("Comments waiting in each queue, and the oldest pending item's age.", "QueueCounts"),
})
document(f"{S}/queues/{{queue}}", parameters=[SITE, QUEUE], operations={
    "get": _op("A page of a queue, oldest first.", "QueuePage",
               params=[{"in": "query", "schema": schemas.QueueQuery}], codes=(401, 404, 422)),
})
document(f"{S}/queues/{{queue}}/claim", parameters=[SITE, QUEUE], operations={
    "post": _op("Lease up to `limit` items nobody else holds.", "Claimed", body="Claim", params=[MODERATOR]),
})
document(f"{S}/queues/{{queue}}/release", parameters=[SITE, QUEUE], operations={
    "post": _op("Give back items you hold.", "Released", body="Release", params=[MODERATOR]),
})
document(f"{S}/comments/{{comment_id}}", parameters=[SITE, COMMENT_ID], operations={
    "get": _op("A comment as moderators see it.", "ModeratorComment"),
})
document(f"{S}/comments/{{comment_id}}/decision", parameters=[SITE, COMMENT_ID], operations={
    "post": _op("Decide on the revision you saw (409 if it changed or someone else holds it).", "Decided",
                body="Decision", codes=(401, 404, 409), params=[MODERATOR]),
})
document(f"{S}/decisions", parameters=[SITE], operations={
    "post": _op("Up to 100 decisions, each applied on its own.", "BulkResult", body="Bulk", params=[MODERATOR]),
})
document(f"{S}/comments/{{comment_id}}/history", parameters=[SITE, COMMENT_ID], operations={
    "get": _op("Every recorded change of a comment.", "History"),
})
document(f"{S}/comments/{{comment_id}}/reports", parameters=[SITE, COMMENT_ID], operations={
    "get": _op("A comment's reports.", "ReportList"),
    "post": {
        "summary": "A reader reports a visible comment (counted once per reader).",
        "requestBody": {"required": True, **json_content("ReportCreate")},
        "responses": {
            "201": {"description": "Report recorded.", **json_content("ReportReceived")},
            "200": {"description": "This reader had already reported it.", **json_content("ReportReceived")},
            **errors(400, 403, 404, 413, 415, 422, 429, e404="No such site, or no visible comment with this id."),
        },
    },
})
document(f"{S}/comments/{{comment_id}}/reports/dismiss", parameters=[SITE, COMMENT_ID], operations={
    "post": _op("Close a comment's open reports as unfounded.", "Decided", body="Dismiss", codes=(401, 404, 409),
                params=[MODERATOR]),
})
