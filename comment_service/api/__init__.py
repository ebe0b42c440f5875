"""The REST API, /api/v1: one Blueprint, `bp` ("api", so every endpoint is `api.<view>`), whose
routes and their contracts are declared in the modules imported here; create_app registers it
with the OpenAPI document (contracts.Api)."""
from __future__ import annotations

from comment_service.api import authoring, bans, comments, cors, docs, moderation, privacy, webhooks
from comment_service.api.blueprint import bp

# The modules that declare routes (and request hooks) on `bp`.
MODULES = (comments, authoring, moderation, bans, privacy, webhooks, cors, docs)

__all__ = ["MODULES", "bp"]
