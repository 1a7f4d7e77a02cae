"""The API's contract, served at /api/openapi.json (OpenAPI 3.0): its paths are written here, its
component schemas generated from the classes the API serializes (`quinto.web.payloads`,
`quinto.store.records`) by `quinto.web.schema`."""

from __future__ import annotations

from typing import Any

from quinto.web import payloads
from quinto.web.context import AuditedTable
from quinto.web.schema import Components

import quinto
from quinto.evaluate import Status
from quinto.store import records

MAX_ID = 2**31 - 1  # run ids are 32-bit integers in the store
STATUS = {"type": "string", "enum": [s.value for s in Status]}
ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
TABLE = {"name": "table", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
PARTITION = {"name": "partition", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _ok(schema_ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}


def _get(summary: str, ref: str, params: list[dict[str, Any]], not_found: bool = True) -> dict[str, Any]:
    # 401: when `api.read_requires_token` is on, a read without a token
    responses: dict[str, Any] = {"200": _ok(ref), "400": ERROR, "401": ERROR, "503": ERROR}
    if not_found:
        responses["404"] = ERROR
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


INCIDENT_ID = {
    "name": "incident_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
}


def _incident_post(summary: str, request_ref: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": [INCIDENT_ID],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{request_ref}"}}},
            },
            "responses": {
                "200": _ok("#/components/schemas/Incident"),
                "400": ERROR,
                "401": ERROR,
                "404": ERROR,
                "409": ERROR,
            },
        }
    }


#: component name → class; the names the document has always used, the schemas derived from the classes
COMPONENTS: dict[str, type] = {
    "Error": payloads.Error,
    "Table": AuditedTable,
    "Tables": payloads.Tables,
    "PartitionStatus": records.PartitionSummary,
    "Partitions": payloads.Partitions,
    "Outcome": records.OutcomeRecord,
    "PartitionMark": records.MarkRecord,
    "PartitionDetail": payloads.PartitionDetail,
    "Metrics": payloads.Metrics,
    "MetricHistory": payloads.MetricHistory,
    "Failure": records.Failure,
    "FailingPartition": records.FailingPartition,
    "Failing": payloads.Failing,
    "RunRow": records.RunRecord,
    "Runs": payloads.Runs,
    "Statement": records.StatementRecord,
    "RunOutcome": payloads.RunOutcome,
    "Run": payloads.RunReport,
    "AuditRequest": payloads.AuditRequest,
    "AuditAccepted": payloads.AuditAccepted,
    "Snooze": records.SnoozeRecord,
    "Snoozes": payloads.Snoozes,
    "SnoozeCreated": payloads.SnoozeCreated,
    "SnoozeRequest": payloads.SnoozeRequest,
    "Ended": payloads.Ended,
    "MarkRequest": payloads.MarkRequest,
    "Mark": payloads.Marked,
    "Incident": records.IncidentRecord,
    "IncidentPartition": records.IncidentPartition,
    "Incidents": payloads.Incidents,
    "IncidentDetail": payloads.IncidentDetail,
    "AckRequest": payloads.AckRequest,
    "ResolveRequest": payloads.ResolveRequest,
}


#: the longest a GET /api/runs/<id>?wait=N holds its answer (it holds one of the server's threads)
MAX_WAIT_S = 20


def schemas() -> dict[str, Any]:
    """The component schemas, generated from the classes the API serializes."""
    components = Components()
    for name, cls in COMPONENTS.items():
        components.add(cls, name)
    return components.schemas


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Quinto", "version": quinto.__version__, "description": "Data-quality audits: results."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas()},
        "paths": {
            "/api/tables": _get(
                "Every audited table with its latest partition and status",
                "#/components/schemas/Tables",
                [
                    _q("status", STATUS, "only tables whose latest partition has this status"),
                    _q("owner", {"type": "string"}, "only tables with this owner"),
                    _q("connection", {"type": "string"}, "only tables on this connection"),
                    _q("q", {"type": "string"}, "table name contains"),
                ],
                not_found=False,
            ),
            "/api/tables/{table}/partitions": _get(
                "A table's audited partitions, newest first",
                "#/components/schemas/Partitions",
                [
                    TABLE,
                    _q("last", {"type": "integer", "minimum": 1, "maximum": 1000}, "how many"),
                    _q("status", STATUS, ""),
                ],
            ),
            "/api/tables/{table}/partitions/{partition}": _get(
                "A partition's current outcomes", "#/components/schemas/PartitionDetail", [TABLE, PARTITION]
            ),
            "/api/tables/{table}/metrics": _get("A table's metrics", "#/components/schemas/Metrics", [TABLE]),
            "/api/tables/{table}/metrics/{metric}/history": _get(
                "A metric's value per partition, oldest first",
                "#/components/schemas/MetricHistory",
                [
                    TABLE,
                    {"name": "metric", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}},
                    _q("last", {"type": "integer", "minimum": 1, "maximum": 100000}, "newest N partitions"),
                ],
            ),
            "/api/failing": _get(
                "Partitions failing now, most recently audited first",
                "#/components/schemas/Failing",
                [
                    _q("table", {"type": "string"}, ""),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, ""),
                ],
                not_found=False,
            ),
            "/api/runs": _get(
                "Runs, newest first",
                "#/components/schemas/Runs",
                [
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, ""),
                    _q("before", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "run id to page back from"),
                    _q("table", {"type": "string"}, ""),
                    _q("status", STATUS, ""),
                ],
                not_found=False,
            ),
            "/api/runs/{run_id}": _get(
                "One run: status, verdict, outcomes and the SQL it executed",
                "#/components/schemas/Run",
                [
                    {
                        "name": "run_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                    },
                    _q(
                        "wait",
                        {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_S},
                        "seconds to hold the answer while the run is queued or running: it comes as soon as "
                        "the verdict is in (what `quinto audit --via` waits on)",
                    ),
                ],
            ),
            "/api/audits": {
                "post": {
                    "summary": "Queue an audit of one partition; `quinto scheduler` runs it, /api/runs/{id} tells "
                    "(a token of scope audit or write)",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AuditRequest"}}},
                    },
                    "responses": {
                        "202": _ok("#/components/schemas/AuditAccepted", "Queued"),
                        "400": ERROR,
                        "401": ERROR,
                        "403": ERROR,
                        "404": ERROR,
                        "500": ERROR,
                        "503": ERROR,
                    },
                }
            },
            "/api/snoozes": {
                **_get(
                    "Snoozes in force", "#/components/schemas/Snoozes", [_q("table", {"type": "string"}, "")], False
                ),
                "post": {
                    "summary": "Snooze a table's (or one check's) alerts until a time",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SnoozeRequest"}}},
                    },
                    "responses": {
                        "201": _ok("#/components/schemas/SnoozeCreated", "Created"),
                        "400": ERROR,
                        "401": ERROR,
                        "403": ERROR,
                        "404": ERROR,
                        "503": ERROR,
                    },
                },
                "delete": {
                    "summary": "End a table's (or one check's) snoozes",
                    "security": [{"bearer": []}],
                    "parameters": [
                        {"name": "table", "in": "query", "required": True, "schema": {"type": "string"}},
                        _q("check", {"type": "string"}, "only this check's snooze"),
                    ],
                    "responses": {
                        "200": _ok("#/components/schemas/Ended"),
                        "400": ERROR,
                        "401": ERROR,
                        "403": ERROR,
                    },
                },
            },
            "/api/incidents": _get(
                "Incidents, newest first (by their first failing partition): open ones unless `state` says",
                "#/components/schemas/Incidents",
                [
                    _q("state", {"type": "string", "enum": list(payloads.INCIDENT_STATES)}, "default: open"),
                    _q("table", {"type": "string"}, "only this table's"),
                    _q("owner", {"type": "string"}, "only the incidents of tables with this owner"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, ""),
                ],
                not_found=False,
            ),
            "/api/incidents/{incident_id}": _get(
                "An incident, its partitions, their values and marks",
                "#/components/schemas/IncidentDetail",
                [INCIDENT_ID],
            ),
            "/api/incidents/{incident_id}/ack": _incident_post(
                "Acknowledge an incident: someone is on it, its reminders stop", "AckRequest"
            ),
            "/api/incidents/{incident_id}/resolve": _incident_post(
                "Resolve an incident as expected (marks its failing partitions good) or as a defect (bad)",
                "ResolveRequest",
            ),
            "/api/partitions/{table}/{partition}/mark": {
                "post": {
                    "summary": "Mark a partition good (joins baselines) or bad (never does)",
                    "security": [{"bearer": []}],
                    "parameters": [
                        {
                            "name": "table",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[^/]+$"},
                        },
                        PARTITION,
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MarkRequest"}}},
                    },
                    "responses": {
                        "200": _ok("#/components/schemas/Mark"),
                        "400": ERROR,
                        "401": ERROR,
                        "403": ERROR,
                        "404": ERROR,
                    },
                }
            },
        },
    }
