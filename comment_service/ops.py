"""Liveness and readiness probes for the load balancer and the orchestrator."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, current_app

from comment_service.database import safe_rollback
from comment_service.extensions import db
from comment_service.ratelimit import store_status

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """The process is up and answering."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready when the database answers (503 otherwise, so traffic goes elsewhere). The rate-limit
    store is reported too; without it the service still works, with limits counted per process,
    so it makes the answer "degraded" (200), not unready."""
    checks = {"database": "ok", "rate_limit_store": store_status(current_app)}
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        safe_rollback()  # the connection may be the thing that died
        log.warning("readiness check: database unreachable")
        checks["database"] = "unavailable"
        return {"status": "unavailable", "checks": checks}, 503
    if checks["rate_limit_store"] == "unavailable":
        return {"status": "degraded", "checks": checks}
    return {"status": "ok", "checks": checks}
