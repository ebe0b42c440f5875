"""An author's privacy requests, made by the site on their behalf: export and erase (site API key)."""
from __future__ import annotations

from flask import g

from comment_service import schemas
from comment_service.api.blueprint import bp, site_key
from comment_service.models import Site
from comment_service.services import privacy_requests

NOT_FOUND = "No such site (a key of another site gets this too)."


@bp.post("/sites/<slug:site>/privacy/export")
@bp.errors(400, 404, 413, 415, 422, e404=NOT_FOUND)
@bp.doc(operationId="privacyExport")
@site_key
@bp.arguments(schemas.PrivacyRequestSchema)
@bp.response(200, schemas.PrivacyExportSchema, description="Done.")
def privacy_export(data: dict, site: Site):
    """Export an author's comments on this site.

    Every comment stored with this email (normalised like a submission's), any status, oldest first.
    """
    return {"comments": privacy_requests.export_author(site, data["email"])}


@bp.post("/sites/<slug:site>/privacy/erase")
@bp.errors(400, 404, 409, 413, 415, 422, e404=NOT_FOUND,
           e409="One of the comments changed while the request ran; send it again.")
@bp.doc(operationId="privacyErase")
@site_key
@bp.arguments(schemas.PrivacyRequestSchema)
@bp.response(200, schemas.PrivacyErasedSchema, description="Done.")
def privacy_erase(data: dict, site: Site):
    """Erase an author's personal data on this site.

    Name, email, URL, IP digest, avatar and text are removed from every comment stored with this email; each
    becomes `deleted` (a tombstone where replies depend on it), with an audit row.
    """
    return {"erased": privacy_requests.erase_author(site, data["email"], g.actor)}
