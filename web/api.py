"""The JSON API under /api. Reads are open like the UI; writes take the bearer token (web/auth.py).
Its contract is web/openapi.py, served at /api/openapi.json."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, request
from quinto.web import snoozes as snoozes_
from quinto.web.auth import require_token
from quinto.web.context import STATUSES, audited_tables, check_files, project_or_none, project_problem, store
from quinto.web.openapi import MAX_ID, document

from quinto.results import jsonable
from quinto.scheduler import submit
from quinto.scheduler.queue import UnknownTable

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_LIMIT = 1000


def _int_arg(name: str, default: int, low: int = 1, high: int = MAX_LIMIT) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"`{name}` is a whole number, not {raw!r}")
    if not low <= value <= high:
        abort(400, f"`{name}` is between {low} and {high}")
    return value


def _status_arg() -> str | None:
    raw = request.args.getlist("status")
    if not raw:
        return None
    if len(raw) > 1 or raw[0] not in STATUSES:
        abort(400, f"`status` is one of {', '.join(STATUSES)}")
    return raw[0]


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in r.items()} for r in rows]


def run_document(run_id: int) -> dict[str, Any] | None:
    """The run as the scheduler reports it (status, verdict, exit code, outcomes) and its SQL."""
    if run_id > MAX_ID:
        return None
    doc = store().run_result(run_id)
    if doc is not None:
        doc["statements"] = _rows(store().statements_of_run(run_id))
    return doc


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    return document()


@bp.get("/tables")
def tables() -> dict[str, Any]:
    args = request.args
    _, shown = audited_tables(_status_arg(), args.get("owner"), args.get("connection"), args.get("q"))
    return {"tables": _rows(shown)}


@bp.get("/tables/<path:table>/partitions")
def partitions(table: str) -> dict[str, Any]:
    rows = store().partitions(table, last=_int_arg("last", 90))
    if not rows and store().table_summary(table) is None:
        abort(404, f"no audits stored for table {table}")
    status = _status_arg()
    rows = [r for r in rows if not status or r["status"] == status]
    return {"table": table, "partitions": _rows(rows)}


@bp.get("/tables/<path:table>/partitions/<path:partition>")
def partition(table: str, partition: str) -> dict[str, Any]:
    rows = store().current_outcomes(table, partition)
    if not rows:
        abort(404, f"no audit stored for {table} partition {partition}")
    for r in rows:
        r["samples"] = json.loads(r["samples"]) if r["samples"] else None
    marks = store().marks(table, [partition])
    return {"table": table, "partition": partition, "mark": marks.get(partition), "outcomes": _rows(rows)}


@bp.get("/tables/<path:table>/metrics")
def metrics(table: str) -> dict[str, Any]:
    names = store().metrics(table)
    if not names and store().table_summary(table) is None:
        abort(404, f"no audits stored for table {table}")
    return {"table": table, "metrics": names}


@bp.get("/tables/<path:table>/metrics/<path:metric>/history")
def metric_history(table: str, metric: str) -> dict[str, Any]:
    points = store().metric_history(table, metric, last=_int_arg("last", 365, high=100_000))
    if not points:
        abort(404, f"no values stored for metric {metric!r} of table {table}")
    return {
        "table": table,
        "metric": metric,
        "points": [{"partition": p["partition_value"], "value": p["value"], "run_id": p["run_id"]} for p in points],
    }


@bp.get("/failing")
def failing() -> dict[str, Any]:
    parts = store().failing_partitions(limit=_int_arg("limit", 100), table=request.args.get("table") or None)
    return {"partitions": [{**{k: jsonable(v) for k, v in p.items()}, "failures": _rows(p["failures"])} for p in parts]}


@bp.get("/runs")
def runs() -> dict[str, Any]:
    before = request.args.get("before")
    rows = store().recent_runs(
        limit=_int_arg("limit", 50),
        table=request.args.get("table") or None,
        status=_status_arg(),
        before=_int_arg("before", 0, low=0, high=MAX_ID) if before is not None else None,
    )
    return {"runs": _rows(rows)}


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> dict[str, Any]:
    doc = run_document(run_id)
    if doc is None:
        abort(404, f"no run {run_id}")
    return doc


@bp.post("/partitions/<table>/<path:partition>/mark")
@require_token
def mark(table: str, partition: str) -> tuple[dict[str, Any], int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'send a JSON object: {"mark": "good" | "bad", "reason": "..."}')
    verdict_ = body.get("mark")
    reason, by = body.get("reason"), body.get("by")
    if verdict_ not in ("good", "bad"):
        abort(400, '`mark` is "good" or "bad"')
    if reason is not None and not isinstance(reason, str) or by is not None and not isinstance(by, str):
        abort(400, "`reason` and `by` are text")
    if not store().current_outcomes(table, partition):
        abort(404, f"no audit stored for {table} partition {partition}")
    store().mark(table, partition, verdict_, reason, by or "api")
    return {"table": table, "partition": partition, "mark": verdict_, "reason": reason}, 200


@bp.get("/snoozes")
def snoozes() -> dict[str, Any]:
    return {"snoozes": _rows(store().active_snoozes(table=request.args.get("table") or None))}


@bp.post("/snoozes")
@require_token
def add_snooze() -> tuple[dict[str, Any], int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'send a JSON object: {"table": "...", "for": "2h", "reason": "..."}')
    by = body.get("by")
    return snoozes_.add_snooze(body, by if isinstance(by, str) and by else "api"), 201


@bp.delete("/snoozes")
@require_token
def end_snoozes() -> dict[str, Any]:
    table = request.args.get("table")
    if not table:
        abort(400, "`table` names the table whose snooze ends")
    return {"ended": store().unsnooze(table, check=request.args.get("check") or None, by="api")}


AUDIT_FIELDS = ("table", "partition", "force")


@bp.post("/audits")
@require_token
def post_audit() -> tuple[dict[str, Any], int]:
    """{"table": "dw.fact_playback", "partition": "ds=2026-11-27", "force": false} → 202 with the run
    id; `quinto scheduler` runs it and GET /api/runs/<id> gives the verdict. An HTTP request is
    always audited (the ETL job has just rewritten the partition); `force` also skips joining an
    audit of the partition that is already running."""
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'the body is a JSON object like {"table": "dw.t", "partition": "ds=2026-11-27"}')
    unknown = sorted(set(body) - set(AUDIT_FIELDS))
    if unknown:
        abort(400, f"unknown field(s): {', '.join(unknown)}; the fields are {', '.join(AUDIT_FIELDS)}")
    table, force = body.get("table"), body.get("force", False)
    if not isinstance(table, str) or not table:
        abort(400, "`table` is required: the table to audit, e.g. dw.fact_playback")
    if not isinstance(force, bool):
        abort(400, "`force` is true or false")
    project = project_or_none()
    if project is None:
        problem = project_problem()
        if problem:
            abort(500, f"the server's project file has problems: {problem}")
        abort(404, f"no checks declared for table '{table}': this server reads a store, without check files")
    try:
        run_id = submit(
            project, store(), table, body.get("partition"), force=force, trigger="http", checks=check_files()
        )
    except UnknownTable as exc:  # no check file declares the table: the resource is not there
        abort(404, exc.message)
    return {"run_id": run_id, "status": "QUEUED", "url": f"/api/runs/{run_id}"}, 202
