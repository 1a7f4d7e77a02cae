"""The JSON API under /api. Reads are open like the UI (or need a token of any scope with
`api.read_requires_token`); writes take a bearer token of scope `write`, and POST /api/audits one
of scope `audit` (web/auth.py). A write is recorded as made by the token's name: the `by` field of
earlier versions is accepted and ignored. Its contract is web/openapi.py, served at /api/openapi.json."""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from flask import Blueprint, abort, request
from quinto.web import payloads as p
from quinto.web import snoozes as snoozes_
from quinto.web.auth import actor, require_token
from quinto.web.context import (
    STATUSES,
    audited_tables,
    check_files,
    owned_tables,
    project_or_none,
    project_problem,
    store,
    table_specs,
)
from quinto.web.openapi import MAX_ID, MAX_WAIT_S, document

from quinto.incidents import check_kinds, described
from quinto.scheduler import submit
from quinto.scheduler.queue import UnknownTable
from quinto.store.incidents import IncidentConflict, IncidentNotFound
from quinto.store.records import IncidentRecord, IncidentState, MarkKind, RunStatus, json_object

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_LIMIT = 1000
PENDING_RUNS = (RunStatus.QUEUED, RunStatus.RUNNING)


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


def run_report(run_id: int) -> p.RunReport | None:
    """The run as the scheduler reports it (status, verdict, exit code, outcomes) and its SQL."""
    if run_id > MAX_ID:
        return None
    doc = store().run_result(run_id)
    if doc is None:
        return None
    outcomes = [p.RunOutcome(**o) for o in doc.pop("outcomes")]
    return p.RunReport(**doc, outcomes=outcomes, statements=store().runs.statements(run_id))


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    return document()


@bp.get("/tables")
def tables() -> dict[str, Any]:
    args = request.args
    _, shown = audited_tables(_status_arg(), args.get("owner"), args.get("connection"), args.get("q"))
    return json_object(p.Tables(shown))


@bp.get("/tables/<path:table>/partitions")
def partitions(table: str) -> dict[str, Any]:
    rows = store().results.partitions(table, last=_int_arg("last", 90))
    if not rows and store().results.table(table) is None:
        abort(404, f"no audits stored for table {table}")
    status = _status_arg()
    rows = [r for r in rows if not status or r.status == status]
    return json_object(p.Partitions(table, rows))


@bp.get("/tables/<path:table>/partitions/<path:partition>")
def partition(table: str, partition: str) -> dict[str, Any]:
    rows = store().results.current(table, partition)
    if not rows:
        abort(404, f"no audit stored for {table} partition {partition}")
    marks = store().marks.details(table, [partition])
    return json_object(p.PartitionDetail(table, partition, marks.get(partition), rows))


@bp.get("/tables/<path:table>/metrics")
def metrics(table: str) -> dict[str, Any]:
    names = store().results.metrics(table)
    if not names and store().results.table(table) is None:
        abort(404, f"no audits stored for table {table}")
    return json_object(p.Metrics(table, names))


@bp.get("/tables/<path:table>/metrics/<path:metric>/history")
def metric_history(table: str, metric: str) -> dict[str, Any]:
    points = store().results.metric_history(table, metric, last=_int_arg("last", 365, high=100_000))
    if not points:
        abort(404, f"no values stored for metric {metric!r} of table {table}")
    history = [p.HistoryPoint(pt.partition_value, pt.value, pt.run_id) for pt in points]
    return json_object(p.MetricHistory(table, metric, history))


@bp.get("/failing")
def failing() -> dict[str, Any]:
    parts = store().results.failing(limit=_int_arg("limit", 100), table=request.args.get("table") or None)
    return json_object(p.Failing(parts))


@bp.get("/runs")
def runs() -> dict[str, Any]:
    before = request.args.get("before")
    rows = store().runs.recent(
        limit=_int_arg("limit", 50),
        table=request.args.get("table") or None,
        status=_status_arg(),
        before=_int_arg("before", 0, low=0, high=MAX_ID) if before is not None else None,
    )
    return json_object(p.Runs(rows))


#: how often a held GET /api/runs/<id>?wait=N looks at the run (one read of its row by id)
WAIT_POLL_S = 0.05


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> dict[str, Any]:
    """`wait=N`: while the run is queued or running, answer when it completes or after N seconds,
    whichever comes first. A client waiting for a verdict (`quinto audit --via`) then learns it
    within WAIT_POLL_S of the audit's end, with one request per N seconds instead of a poll loop."""
    wait = _int_arg("wait", 0, low=0, high=MAX_WAIT_S)
    if wait and run_id <= MAX_ID:
        deadline = time.monotonic() + wait
        while (found := store().runs.get(run_id)) is not None and found.status in PENDING_RUNS:
            if time.monotonic() >= deadline:
                break
            time.sleep(WAIT_POLL_S)
    report = run_report(run_id)
    if report is None:
        abort(404, f"no run {run_id}")
    return json_object(report)


@bp.post("/partitions/<table>/<path:partition>/mark")
@require_token
def mark(table: str, partition: str) -> tuple[dict[str, Any], int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'send a JSON object: {"mark": "good" | "bad", "reason": "..."}')
    verdict_ = body.get("mark")
    reason, by = body.get("reason"), body.get("by")
    if verdict_ not in tuple(MarkKind):
        abort(400, '`mark` is "good" or "bad"')
    if reason is not None and not isinstance(reason, str) or by is not None and not isinstance(by, str):
        abort(400, "`reason` and `by` are text")
    if not store().results.current(table, partition):
        abort(404, f"no audit stored for {table} partition {partition}")
    # `by` is not who marked: the token's name is (a client cannot write in another's name)
    resolved = store().marks.set(table, partition, verdict_, reason, actor())
    return json_object(p.Marked(table, partition, MarkKind(verdict_), reason, actor(), resolved)), 200


@bp.get("/snoozes")
def snoozes() -> dict[str, Any]:
    return json_object(p.Snoozes(store().snoozes.active(table=request.args.get("table") or None)))


@bp.post("/snoozes")
@require_token
def add_snooze() -> tuple[dict[str, Any], int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'send a JSON object: {"table": "...", "for": "2h", "reason": "..."}')
    if body.get("by") is not None and not isinstance(body.get("by"), str):
        abort(400, "`by` is text")
    return json_object(snoozes_.add_snooze(body, actor())), 201  # `by` is ignored: the token's name is recorded


@bp.delete("/snoozes")
@require_token
def end_snoozes() -> dict[str, Any]:
    table = request.args.get("table")
    if not table:
        abort(400, "`table` names the table whose snooze ends")
    return json_object(p.Ended(store().snoozes.end(table, check=request.args.get("check") or None, by=actor())))


AUDIT_FIELDS = tuple(f.name for f in fields(p.AuditRequest))


@bp.post("/audits")
@require_token("audit")
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
            project,
            store(),
            table,
            body.get("partition"),
            force=force,
            trigger="http",
            requested_by=actor(),
            checks=check_files(),
        )
    except UnknownTable as exc:  # no check file declares the table: the resource is not there
        abort(404, exc.message)
    return json_object(p.AuditAccepted(run_id, RunStatus.QUEUED, f"/api/runs/{run_id}")), 202


@bp.get("/incidents")
def incidents() -> dict[str, Any]:
    """Open incidents (or `state`: closed, resolved, all), newest first; `table` and `owner` filter."""
    state = request.args.get("state", IncidentState.OPEN.value)
    if state not in p.INCIDENT_STATES:
        abort(400, f"`state` is one of {', '.join(p.INCIDENT_STATES)}")
    states = tuple(IncidentState) if state == "all" else (IncidentState(state),)
    owner = request.args.get("owner") or None
    found = store().incidents.find(
        table=request.args.get("table") or None,
        tables=owned_tables(owner) if owner else None,
        states=states,
        limit=_int_arg("limit", 500),
    )
    return json_object(p.Incidents(_described(found)))


def _described(found: list[IncidentRecord]) -> list[IncidentRecord]:
    """The incidents with their last value in the unit of their check (`874 rows`)."""
    return described(found, check_kinds(table_specs().values()))


def _incident_id(incident_id: int) -> int:
    if incident_id > MAX_ID:
        abort(404, f"no incident {incident_id}")
    return incident_id


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> dict[str, Any]:
    found = store().incidents.get(_incident_id(incident_id))
    if found is None:
        abort(404, f"no incident {incident_id}")
    return json_object(p.IncidentDetail(_described([found])[0], store().incidents.partitions(found.id)))


def _body(fields_: tuple[str, ...], example: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        body = {}
    if not isinstance(body, dict):
        abort(400, f"send a JSON object: {example}")
    unknown = sorted(set(body) - set(fields_))
    if unknown:
        abort(400, f"unknown field(s): {', '.join(unknown)}; the fields are {', '.join(fields_)}")
    for name in fields_:
        if name in body and not isinstance(body[name], str):
            abort(400, f"`{name}` is text")
    return body


@bp.post("/incidents/<int:incident_id>/ack")
@require_token
def acknowledge(incident_id: int) -> dict[str, Any]:
    """{"note": "..."}: someone is on it; its reminders stop."""
    body = _body(("note",), '{"note": "reloading the source"}')
    try:
        done = store().incidents.acknowledge(_incident_id(incident_id), actor(), body.get("note") or None)
    except IncidentNotFound as exc:
        abort(404, exc.message)
    except IncidentConflict as exc:
        abort(409, exc.message)
    return json_object(_described([done])[0])


@bp.post("/incidents/<int:incident_id>/resolve")
@require_token
def resolve(incident_id: int) -> dict[str, Any]:
    """{"as": "expected" | "defect", "reason": "..."}: marks its failing partitions good or bad."""
    body = _body(("as", "reason"), '{"as": "expected" | "defect", "reason": "..."}')
    if body.get("as") not in ("expected", "defect"):
        abort(400, '`as` is "expected" (marks its partitions good) or "defect" (marks them bad)')
    try:
        done = store().incidents.resolve(_incident_id(incident_id), body["as"], actor(), body.get("reason") or None)
    except IncidentNotFound as exc:
        abort(404, exc.message)
    except IncidentConflict as exc:
        abort(409, exc.message)
    return json_object(_described([done])[0])
