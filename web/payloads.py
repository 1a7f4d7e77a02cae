"""The JSON API's bodies as dataclasses: responses are built from them (and the store's records,
`quinto.store.records`) and serialized with `to_json`; requests are described by them. The OpenAPI
document's component schemas are generated from these classes (`quinto.web.openapi`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from quinto.web.context import AuditedTable

from quinto.evaluate import Status
from quinto.store.records import (
    FailingPartition,
    IncidentPartition,
    IncidentRecord,
    IncidentState,
    MarkKind,
    MarkRecord,
    OutcomeRecord,
    PartitionSummary,
    Resolution,
    RunRecord,
    RunStatus,
    SnoozeRecord,
    StatementRecord,
)

#: a table name in a request: one to three dotted identifiers
TABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$"


def doc(text: str, **schema: Any) -> dict[str, Any]:
    """A field's metadata: its description and more JSON Schema keywords."""
    return {"doc": text, "schema": schema}


def optional(text: str, json: str | None = None) -> dict[str, Any]:
    """The metadata of a request field that may be left out (rather than sent as null); `json`: its
    name in JSON when that is not a Python name."""
    return {"doc": text, "omitted": True, "json": json}


@dataclass(frozen=True)
class Error:
    error: str


@dataclass(frozen=True)
class Tables:
    tables: list[AuditedTable]


@dataclass(frozen=True)
class Partitions:
    table: str
    partitions: list[PartitionSummary]


@dataclass(frozen=True)
class PartitionDetail:
    """A partition's current outcomes and its mark."""

    table: str
    partition: str
    mark: MarkRecord | None = field(metadata=doc("who marked it good or bad, when and why; null when unmarked"))
    outcomes: list[OutcomeRecord]


@dataclass(frozen=True)
class Metrics:
    table: str
    metrics: list[str]


@dataclass(frozen=True)
class HistoryPoint:
    partition: str
    value: float | None
    run_id: int


@dataclass(frozen=True)
class MetricHistory:
    """A metric's value per partition, oldest first."""

    table: str
    metric: str
    points: list[HistoryPoint]


@dataclass(frozen=True)
class Failing:
    partitions: list[FailingPartition]


@dataclass(frozen=True)
class Runs:
    runs: list[RunRecord]


@dataclass(frozen=True)
class RunOutcome:
    """An outcome of a run, as the scheduler reports it."""

    partition: str
    check: str
    check_type: str
    status: Status
    value: float | None
    threshold: str
    message: str
    source: str
    band_low: float | None
    band_high: float | None


@dataclass(frozen=True)
class RunReport:
    """One run: its status, verdict and exit code (as `quinto audit`), its outcomes and its SQL."""

    run_id: int
    table: str
    partitions: list[str]
    status: RunStatus
    verdict: Literal["publish", "do not publish"] | None = field(
        metadata=doc("null while the run is queued or running")
    )
    exit_code: int | None = field(metadata=doc("as `quinto audit`: 0 publish, 1 do not publish, 2 bad input, 3 infra"))
    trigger: str
    force: bool
    requested_at: dt.datetime | None
    requested_by: str | None
    started_at: dt.datetime | None = field(metadata=doc("null while queued"))
    finished_at: dt.datetime | None
    attempts: int
    not_before: dt.datetime | None = field(metadata=doc("a queued retry waits until then"))
    claimed_by: str | None
    error: str | None
    statement_count: int
    outcomes: list[RunOutcome]
    statements: list[StatementRecord]


@dataclass(frozen=True)
class AuditRequest:
    """Queue an audit of one partition."""

    SCHEMA_EXTRA = {"additionalProperties": False}

    table: str = field(metadata=doc("a table with a check file", minLength=1, pattern=TABLE_PATTERN))
    partition: str | dict[str, Any] | None = field(
        default=None,
        metadata=optional(
            'e.g. "ds=2026-11-27", "2026-11-27" or {"ds": "2026-11-27"}; none for a table without a partition column'
        ),
    )
    force: bool | None = field(
        default=None, metadata=optional("a fresh audit even if one of this partition is already running")
    )


@dataclass(frozen=True)
class AuditAccepted:
    run_id: int
    status: Literal[RunStatus.QUEUED]
    url: str


@dataclass(frozen=True)
class Snoozes:
    snoozes: list[SnoozeRecord]


@dataclass(frozen=True)
class SnoozeCreated:
    id: int
    table: str
    check: str | None
    until: dt.datetime
    reason: str | None
    created_by: str = field(metadata=doc("the name of the token that snoozed"))


@dataclass(frozen=True)
class SnoozeRequest:
    """Give `until` (ISO time, UTC unless it names a zone) or `for` (e.g. 2h, 3d)."""

    table: str
    check: str | None = field(default=None, metadata=optional("only this check (default: the whole table)"))
    until: str | None = field(default=None, metadata=optional("ISO time"))
    for_: str | None = field(default=None, metadata=optional("a length: 2h, 3d", json="for"))
    reason: str | None = field(default=None, metadata=optional("why"))
    by: str | None = field(
        default=None, metadata=optional("ignored: the snooze is recorded as made by the token's name")
    )


@dataclass(frozen=True)
class Ended:
    ended: int


@dataclass(frozen=True)
class MarkRequest:
    mark: MarkKind
    reason: str | None = field(default=None, metadata=optional("why"))
    by: str | None = field(default=None, metadata=optional("ignored: the mark is recorded as set by the token's name"))


@dataclass(frozen=True)
class Marked:
    table: str
    partition: str
    mark: MarkKind
    reason: str | None
    marked_by: str = field(metadata=doc("the name of the token that marked"))
    resolved_incidents: list[int] = field(
        default_factory=list,
        metadata=doc("incidents the mark resolved: every partition failing in them carries this mark now"),
    )


@dataclass(frozen=True)
class Incidents:
    """Incidents, newest first (by their first failing partition)."""

    incidents: list[IncidentRecord]


@dataclass(frozen=True)
class IncidentDetail:
    """An incident and its partitions (newest first) with their values and marks."""

    incident: IncidentRecord
    partitions: list[IncidentPartition]


@dataclass(frozen=True)
class AckRequest:
    """Acknowledge an incident: someone is on it (its reminders stop)."""

    SCHEMA_EXTRA = {"additionalProperties": False}

    note: str | None = field(default=None, metadata=optional("what is being done", json=None))


@dataclass(frozen=True)
class ResolveRequest:
    """Resolve an incident as expected (its failing partitions are marked good) or as a defect (marked bad)."""

    SCHEMA_EXTRA = {"additionalProperties": False}

    as_: Resolution = field(metadata={"doc": "expected or defect", "json": "as"})
    reason: str | None = field(default=None, metadata=optional("why; kept with the marks"))


#: the states `GET /api/incidents?state=` takes: one of the incident states, or all of them
INCIDENT_STATES = (*(s.value for s in IncidentState), "all")
