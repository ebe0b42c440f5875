"""An author's privacy requests, made by the site on their behalf: export and erase (site API key)."""
from __future__ import annotations

from flask import g

from comment_service import schemas
from comment_service.api import bp
from comment_service.api.http import json_body
from comment_service.api.openapi import SITE, component, document, errors, json_content
from comment_service.auth import require_site_key
from comment_service.models import Site
from comment_service.services import privacy_requests


@bp.post("/sites/<slug:site>/privacy/export")
@require_site_key
def privacy_export(site: Site):
    """Everything stored about the comments of the author with this email on this site."""
    data = schemas.privacy_request_schema.load(json_body())
    return schemas.privacy_export_schema.dump({"comments": privacy_requests.export_author(site, data["email"])})


@bp.post("/sites/<slug:site>/privacy/erase")
@require_site_key
def privacy_erase(site: Site):
    """Remove the personal data of the author with this email from this site."""
    data = schemas.privacy_request_schema.load(json_body())
    return schemas.privacy_erased_schema.dump({"erased": privacy_requests.erase_author(site, data["email"], g.actor)})


for name, schema in [
    ("PrivacyRequest", schemas.PrivacyRequestSchema), ("ExportedThread", schemas.ExportedThreadSchema),
    ("ExportedComment", schemas.ExportedCommentSchema), ("PrivacyExport", schemas.PrivacyExportSchema),
    ("PrivacyErased", schemas.PrivacyErasedSchema),
]:
    component(name, schema)

NOT_FOUND = "No such site (a key of another site gets this too)."
CONFLICT = {"e409": "One of the comments changed while the request ran; send it again."}
for path, operation_id, summary, answer, description, codes in [
    ("export", "privacyExport", "Export an author's comments on this site.", "PrivacyExport",
     "Every comment stored with this email (normalised like a submission's), any status, oldest first.",
     (400, 401, 404, 413, 415, 422)),
    ("erase", "privacyErase", "Erase an author's personal data on this site.", "PrivacyErased",
     "Name, email, URL, IP digest, avatar and text are removed from every comment stored with this email; "
     "each becomes `deleted` (a tombstone where replies depend on it), with an audit row.",
     (400, 401, 404, 409, 413, 415, 422)),
]:
    document(
        path=f"/api/v1/sites/{{site}}/privacy/{path}",
        parameters=[SITE],
        operations={
            "post": {
                "summary": summary,
                "description": description,
                "operationId": operation_id,
                "security": [{"siteKey": []}],
                "requestBody": {"required": True, **json_content("PrivacyRequest")},
                "responses": {
                    "200": {"description": "Done.", **json_content(answer)},
                    **errors(*codes, e404=NOT_FOUND, **CONFLICT),
                },
            }
        },
    )
