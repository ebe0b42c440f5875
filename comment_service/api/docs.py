"""The endpoint that serves the OpenAPI document, built from the declarations on the views."""
from __future__ import annotations

from comment_service import contracts
from comment_service.api.blueprint import bp


@bp.get("/openapi.json")
@bp.alt_response(200, schema={"type": "object"}, description="OpenAPI 3 document.", success=True)
def openapi():
    """This document."""
    return contracts.document()
