"""Liveness and readiness probes for the load balancer and the orchestrator, and metrics for Prometheus."""
from __future__ import annotations

import hmac
import logging

import sqlalchemy as sa
from flask import abort, current_app, request

from comment_service import metrics as metrics_
from comment_service import schemas
from comment_service.contracts import Blueprint
from comment_service.database import safe_rollback
from comment_service.errors import ApiError
from comment_service.extensions import db, limiter
from comment_service.models import utcnow
from comment_service.ratelimit import store_status
from comment_service.services import outbox
from comment_service.services.queues import pending_by_site

bp = Blueprint("ops", __name__, description="Probes.")
log = logging.getLogger(__name__)


def _queue_depths() -> list[tuple[str, int, int]]:
    """Each site's pending comments and oldest pending age, for the scrape; the session rolled back if that fails."""
    try:
        return pending_by_site(utcnow())
    except Exception:
        safe_rollback()
        raise


def _jobs_state() -> tuple[int, float, dict[str, int]]:
    """The outbox's backlog and the pending and failed deliveries, for the scrape (one statement)."""
    try:
        return outbox.backlog()
    except Exception:
        safe_rollback()
        raise


@bp.get("/healthz")
@bp.alt_response(200, schema=schemas.HealthSchema, description="Up.", success=True)
def healthz():
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
@bp.alt_response(200, schema=schemas.ReadinessSchema, success=True, description=(
    "Ready (`ok`), or `degraded`: the rate-limit store is unreachable, so limits are counted per process until it "
    "answers."))
@bp.alt_response(503, schema=schemas.ReadinessSchema, description="Database unreachable (`unavailable`).")
def readyz():
    """The database answers; each dependency's state.

    Ready when the database answers (503 otherwise, so traffic goes elsewhere). The rate-limit
    store is reported too; without it the service still works, with limits counted per process,
    so it makes the answer "degraded" (200), not unready.
    """
    checks = {"database": "ok", "rate_limit_store": store_status(current_app, limiter)}
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


@bp.route_undocumented("/metrics", methods=["GET"])
@limiter.exempt
def metrics():
    """Prometheus metrics (comment_service/metrics.py). Not in the OpenAPI document: it is the operator's.

    With MAJLIS_METRICS_TOKEN set, only `Authorization: Bearer <token>` (compared in constant time) is
    answered, anything else gets 401; without one, MAJLIS_METRICS_PUBLIC says whether anyone may read
    them (development) or the path does not exist (404, the production default).
    """
    token = current_app.config["MAJLIS_METRICS_TOKEN"]
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if not (scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())):
            raise ApiError(401, "unauthorized", "Send the metrics token as a Bearer token.",
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    elif not current_app.config["MAJLIS_METRICS_PUBLIC"]:
        abort(404)
    body, content_type = metrics_.scrape(request.headers.get("Accept"), _queue_depths, _jobs_state)
    return body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"}
