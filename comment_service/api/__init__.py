"""The REST API blueprint, /api/v1."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from comment_service.api import authoring, bans, comments, cors, docs, moderation, moderation_docs, privacy  # noqa: E402,F401,I001  (routes register on import)
