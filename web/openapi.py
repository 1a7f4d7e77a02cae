"""The API's contract, served at /api/openapi.json (OpenAPI 3.0)."""

from __future__ import annotations

from typing import Any

import quinto

MAX_ID = 2**31 - 1  # run ids are 32-bit integers in the store
STATUS = {"type": "string", "enum": ["LEARNING", "PASS", "WARN", "FAIL", "ERROR"]}
ERROR = {
    "description": "error",
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
        }
    },
}
TABLE = {"name": "table", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
PARTITION = {"name": "partition", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _ok(schema_ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}


def _get(summary: str, ref: str, params: list[dict[str, Any]], not_found: bool = True) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _ok(ref), "400": ERROR, "503": ERROR}
    if not_found:
        responses["404"] = ERROR
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def document() -> dict[str, Any]:
    nullable_num = {"type": "number", "nullable": True}
    nullable_str = {"type": "string", "nullable": True}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Quinto", "version": quinto.__version__, "description": "Data-quality audits: results."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Table": {
                    "type": "object",
                    "required": ["table_name", "latest_partition", "status", "failing_recent", "owners"],
                    "properties": {
                        "table_name": {"type": "string"},
                        "connection": {"type": "string"},
                        "partition_column": nullable_str,
                        "latest_partition": {"type": "string"},
                        "status": STATUS,
                        "failing_recent": {"type": "integer", "description": "FAIL/ERROR among the last 30"},
                        "partitions": {"type": "integer"},
                        "last_run_id": {"type": "integer"},
                        "last_run_at": {"type": "string"},
                        "owners": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Tables": {
                    "type": "object",
                    "required": ["tables"],
                    "properties": {"tables": {"type": "array", "items": {"$ref": "#/components/schemas/Table"}}},
                },
                "PartitionStatus": {
                    "type": "object",
                    "required": ["partition_value", "status"],
                    "properties": {
                        "table_name": {"type": "string"},
                        "partition_value": {"type": "string"},
                        "status": STATUS,
                        "checks": {"type": "integer"},
                        "failed": {"type": "integer"},
                        "warned": {"type": "integer"},
                        "errored": {"type": "integer"},
                        "run_id": {"type": "integer"},
                        "audited_at": {"type": "string"},
                    },
                },
                "Partitions": {
                    "type": "object",
                    "required": ["table", "partitions"],
                    "properties": {
                        "table": {"type": "string"},
                        "partitions": {"type": "array", "items": {"$ref": "#/components/schemas/PartitionStatus"}},
                    },
                },
                "Outcome": {
                    "type": "object",
                    "required": ["check_key", "status", "threshold", "message", "source"],
                    "properties": {
                        "partition_value": {"type": "string"},
                        "check_key": {"type": "string"},
                        "check_type": {"type": "string"},
                        "metric_key": {"type": "string"},
                        "status": STATUS,
                        "value": nullable_num,
                        "judged": nullable_num,
                        "threshold": {"type": "string"},
                        "band_low": nullable_num,
                        "band_high": nullable_num,
                        "message": {"type": "string"},
                        "source": {"type": "string", "description": "file:line:col of the check"},
                        "samples": {"type": "array", "nullable": True, "items": {"type": "object"}},
                    },
                },
                "PartitionDetail": {
                    "type": "object",
                    "required": ["table", "partition", "outcomes"],
                    "properties": {
                        "table": {"type": "string"},
                        "partition": {"type": "string"},
                        "mark": {"type": "string", "nullable": True, "enum": ["good", "bad", None]},
                        "outcomes": {"type": "array", "items": {"$ref": "#/components/schemas/Outcome"}},
                    },
                },
                "Metrics": {
                    "type": "object",
                    "required": ["table", "metrics"],
                    "properties": {
                        "table": {"type": "string"},
                        "metrics": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "MetricHistory": {
                    "type": "object",
                    "required": ["table", "metric", "points"],
                    "properties": {
                        "table": {"type": "string"},
                        "metric": {"type": "string"},
                        "points": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["partition", "value"],
                                "properties": {
                                    "partition": {"type": "string"},
                                    "value": nullable_num,
                                    "run_id": {"type": "integer"},
                                },
                            },
                        },
                    },
                },
                "Failing": {
                    "type": "object",
                    "required": ["partitions"],
                    "properties": {
                        "partitions": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/PartitionStatus"},
                                    {
                                        "type": "object",
                                        "properties": {
                                            "failures": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Outcome"},
                                            }
                                        },
                                    },
                                ]
                            },
                        }
                    },
                },
                "Run": {
                    "type": "object",
                    "required": ["run_id", "table", "status", "verdict", "exit_code", "outcomes"],
                    "properties": {
                        "run_id": {"type": "integer"},
                        "table": {"type": "string"},
                        "partitions": {"type": "array", "items": {"type": "string"}},
                        "status": {
                            "type": "string",
                            "enum": ["QUEUED", "RUNNING", "LEARNING", "PASS", "WARN", "FAIL", "ERROR"],
                        },
                        "verdict": {
                            "type": "string",
                            "nullable": True,
                            "enum": ["publish", "do not publish", None],
                            "description": "null while the run is queued or running",
                        },
                        "exit_code": {
                            "type": "integer",
                            "nullable": True,
                            "description": "as `quinto audit`: 0 publish, 1 do not publish, 2 bad input, 3 infra",
                        },
                        "trigger": {"type": "string"},
                        "force": {"type": "boolean"},
                        "requested_at": nullable_str,
                        "requested_by": nullable_str,
                        "started_at": nullable_str,
                        "finished_at": nullable_str,
                        "attempts": {"type": "integer"},
                        "not_before": nullable_str,
                        "claimed_by": nullable_str,
                        "error": nullable_str,
                        "statement_count": {"type": "integer"},
                        "outcomes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["partition", "check", "status"],
                                "properties": {
                                    "partition": {"type": "string"},
                                    "check": {"type": "string"},
                                    "check_type": {"type": "string"},
                                    "status": STATUS,
                                    "value": nullable_num,
                                    "threshold": {"type": "string"},
                                    "message": {"type": "string"},
                                    "source": {"type": "string"},
                                    "band_low": nullable_num,
                                    "band_high": nullable_num,
                                },
                            },
                        },
                        "statements": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Runs": {
                    "type": "object",
                    "required": ["runs"],
                    "properties": {"runs": {"type": "array", "items": {"type": "object"}}},
                },
                "AuditRequest": {
                    "type": "object",
                    "required": ["table"],
                    "additionalProperties": False,
                    "properties": {
                        "table": {
                            "type": "string",
                            "minLength": 1,
                            "pattern": r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$",
                            "description": "a table with a check file",
                        },
                        "partition": {
                            "description": 'e.g. "ds=2026-11-27", "2026-11-27" or {"ds": "2026-11-27"}; '
                            "none for a table without a partition column",
                            "oneOf": [{"type": "string"}, {"type": "object"}],
                        },
                        "force": {
                            "type": "boolean",
                            "description": "a fresh audit even if one of this partition is already running",
                        },
                    },
                },
                "AuditAccepted": {
                    "type": "object",
                    "required": ["run_id", "status", "url"],
                    "properties": {
                        "run_id": {"type": "integer"},
                        "status": {"type": "string", "enum": ["QUEUED"]},
                        "url": {"type": "string"},
                    },
                },
                "Snooze": {
                    "type": "object",
                    "required": ["table", "until"],
                    "properties": {
                        "id": {"type": "integer"},
                        "table": {"type": "string"},
                        "check": nullable_str,
                        "until": {"type": "string"},
                        "reason": nullable_str,
                        "created_by": nullable_str,
                        "created_at": nullable_str,
                    },
                },
                "Snoozes": {
                    "type": "object",
                    "required": ["snoozes"],
                    "properties": {"snoozes": {"type": "array", "items": {"$ref": "#/components/schemas/Snooze"}}},
                },
                "SnoozeRequest": {
                    "type": "object",
                    "required": ["table"],
                    "description": "give `until` (ISO time, UTC unless it names a zone) or `for` (e.g. 2h, 3d)",
                    "properties": {
                        "table": {"type": "string"},
                        "check": {"type": "string", "description": "only this check (default: the whole table)"},
                        "until": {"type": "string"},
                        "for": {"type": "string"},
                        "reason": {"type": "string"},
                        "by": {"type": "string"},
                    },
                },
                "MarkRequest": {
                    "type": "object",
                    "required": ["mark"],
                    "properties": {
                        "mark": {"type": "string", "enum": ["good", "bad"]},
                        "reason": {"type": "string"},
                        "by": {"type": "string"},
                    },
                },
                "Mark": {
                    "type": "object",
                    "required": ["table", "partition", "mark"],
                    "properties": {
                        "table": {"type": "string"},
                        "partition": {"type": "string"},
                        "mark": {"type": "string", "enum": ["good", "bad"]},
                        "reason": nullable_str,
                    },
                },
            },
        },
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
                    }
                ],
            ),
            "/api/audits": {
                "post": {
                    "summary": "Queue an audit of one partition; `quinto scheduler` runs it, /api/runs/{id} tells",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AuditRequest"}}},
                    },
                    "responses": {
                        "202": _ok("#/components/schemas/AuditAccepted", "Queued"),
                        "400": ERROR,
                        "401": ERROR,
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
                        "201": _ok("#/components/schemas/Snooze", "Created"),
                        "400": ERROR,
                        "401": ERROR,
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
                        "200": {
                            "description": "OK",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["ended"],
                                        "properties": {"ended": {"type": "integer"}},
                                    }
                                }
                            },
                        },
                        "400": ERROR,
                        "401": ERROR,
                    },
                },
            },
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
                    "responses": {"200": _ok("#/components/schemas/Mark"), "400": ERROR, "401": ERROR, "404": ERROR},
                }
            },
        },
    }
