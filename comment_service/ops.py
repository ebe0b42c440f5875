"""Liveness and readiness probes for the load balancer and the orchestrator."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint

from comment_service.extensions import db

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """The process is up and answering."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The database answers; 503 otherwise, so traffic goes elsewhere."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        db.session.rollback()
        log.warning("readiness check: database unreachable")
        return {"status": "unavailable"}, 503
    return {"status": "ok"}
