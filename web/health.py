"""Operating endpoints: GET /healthz (the process answers; the store is not read), GET /readyz (the
store answers and its schema is at this Quinto's newest migration, which it brings the store to as
the first request would; 503 with the reason otherwise)
and GET /metrics (Prometheus text format: the store gauges, read at each scrape so every worker
reports the same, and this process's request counter). See `quinto.metrics`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from quinto.web.context import store

from quinto.errors import QuintoError
from quinto.metrics import CONTENT_TYPE, WebMetrics, not_ready, render, store_registry
from quinto.redact import redact

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    try:
        s = store()
        s.migrate()  # as the first request would: a new store is made ready, not waited on
        reason = not_ready(s)
    except QuintoError as exc:  # no store configured, quinto.yaml does not parse, the store is down
        reason = redact(exc.message)
    if reason is not None:
        return {"status": "unavailable", "reason": reason}, 503
    return {"status": "ok"}, 200


@bp.get("/metrics")
def metrics() -> Response:
    registry = current_app.extensions["quinto_metrics"]
    return Response(render(registry), mimetype=None, content_type=CONTENT_TYPE)


def install(app: Flask) -> None:
    """The operating endpoints, and the request counter every response goes through."""
    registry = store_registry(store, "web")
    counter = WebMetrics(registry)
    app.extensions["quinto_metrics"] = registry

    @app.after_request
    def count(resp: Response) -> Response:
        counter.requests.labels(request.method, str(resp.status_code)).inc()
        return resp

    app.register_blueprint(bp)
