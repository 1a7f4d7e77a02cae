"""The audit trigger over HTTP: an ETL job POSTs /api/audits and polls GET /api/runs/<id> for the
verdict; `quinto scheduler` runs the queued audits.

POST needs `Authorization: Bearer <token>` with the app's QUINTO_API_TOKEN (from the environment by
default; without one configured, every POST is refused)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from quinto.audit import open_store
from quinto.errors import QuintoError, SpecError, UsageError
from quinto.scheduler import submit
from quinto.scheduler.queue import UnknownTable
from quinto.spec import Project, load_project
from quinto.store import Store

audits_api = Blueprint("audits_api", __name__)


def _project() -> Project:
    if "project" not in g:
        g.project = load_project(current_app.config.get("QUINTO_CONFIG"))
    project: Project = g.project
    return project


def _store() -> Store:
    """The request's store, shared with the UI's views (closed by the app's teardown)."""
    if "store" not in g:
        url = current_app.config.get("QUINTO_STORE")
        g.store = Store(url) if url else open_store(_project())
    store: Store = g.store
    return store


def _error(message: str, status: int) -> ResponseReturnValue:
    return jsonify({"error": message}), status


def _authorized() -> bool:
    from quinto.web.auth import token_matches

    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_matches(token.strip())


@audits_api.errorhandler(QuintoError)
def _quinto_error(exc: QuintoError) -> ResponseReturnValue:
    if isinstance(exc, UnknownTable):  # no check file declares the table
        return _error(exc.message, 404)
    if isinstance(exc, UsageError):  # the request is wrong
        return _error(exc.message, 400)
    if isinstance(exc, SpecError):  # the server's quinto.yaml is wrong
        return _error(f"the server's project file has problems: {exc.message}", 500)
    return _error(exc.message, 503)  # the store is down


@audits_api.post("/api/audits")
def post_audit() -> ResponseReturnValue:
    """{"table": "dw.fact_playback", "partition": "ds=2026-11-27", "force": false} → 202 with the run id."""
    if not _authorized():
        configured = bool(current_app.config.get("QUINTO_API_TOKEN"))
        return _error("a valid bearer token is required" if configured else "the API has no token configured", 401)
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error('the body is a JSON object like {"table": "dw.t", "partition": "ds=2026-11-27"}', 400)
    unknown = sorted(set(body) - {"table", "partition", "force"})
    if unknown:
        return _error(f"unknown field(s): {', '.join(unknown)}; the fields are table, partition and force", 400)
    table, force = body.get("table"), body.get("force", False)
    if not isinstance(table, str) or not table:
        return _error("`table` is required: the table to audit, e.g. dw.fact_playback", 400)
    if not isinstance(force, bool):
        return _error("`force` is true or false", 400)
    run_id = submit(_project(), _store(), table, body.get("partition"), force=force, trigger="http")
    return jsonify({"run_id": run_id, "status": "QUEUED", "url": f"/api/runs/{run_id}"}), 202


@audits_api.get("/api/runs/<int:run_id>")
def run_result(run_id: int) -> ResponseReturnValue:
    """The run: status QUEUED / RUNNING / PASS / WARN / FAIL / ERROR, verdict, exit_code, outcomes."""
    run = _store().run_result(run_id)
    if run is None:
        return _error(f"no run {run_id}", 404)
    return jsonify(run)
