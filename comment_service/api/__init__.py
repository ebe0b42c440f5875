"""The REST API blueprint, /api/v1."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from comment_service.api import comments, cors, docs  # noqa: E402,F401  (routes register on import)
