"""What an audit produces: outcomes, metric values and the run that holds them."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from quinto.evaluate import Status, worst


@dataclass
class Outcome:
    table: str
    partition: str
    check: str  # the check's key
    check_type: str
    metric: str
    fingerprint: str
    status: Status
    value: float | None
    message: str
    threshold: str
    source: str  # file:line:col
    judged: float | None = None
    band_low: float | None = None
    band_high: float | None = None
    samples: list[dict[str, Any]] | None = None
    # the most frequent offending values among the samples (`TopValues.as_json()` of the check type's
    # `offending`), for alerts: {"columns", "rows_sampled", "values": [{"value", "rows"}]}; None: none
    top_values: dict[str, Any] | None = None
    # an ERROR's cause: "check" (the engine refused what the check asks: fix the check file) or
    # "warehouse" (down, timed out, out of memory: try again); None for the other statuses
    fault: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = str(self.status)
        return d


@dataclass
class MetricValue:
    table: str
    partition: str
    metric: str
    fingerprint: str
    value: float | None


@dataclass
class Run:
    table: str
    connection: str
    partition_column: str | None
    partitions: list[str]
    started_at: dt.datetime
    trigger: str = "cli"
    finished_at: dt.datetime | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    metric_values: list[MetricValue] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    id: int | None = None  # set when stored; set before an audit of a queued run, whose row it completes
    fingerprint: str | None = None  # the table's check definitions (audit.suite_fingerprint)
    exit_code: int | None = None  # when an audit ends before judging (bad checks): the code it exits with
    # who hears about this run's state changes (quinto.alerts.policy_for); None: nobody
    alert_policy: dict[str, Any] | None = None
    # the run's identity, stored with it: saving a run twice (a replayed spool file, a retried
    # write whose acknowledgement was lost) stores it once
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def status(self) -> Status:
        statuses = [o.status for o in self.outcomes] + ([Status.ERROR] if self.error else [])
        return worst(statuses)

    @property
    def verdict_code(self) -> int:
        """0 publish; 1 do not publish (a check failed); 3 the warehouse failed (some checks could not
        be computed: try again); 2 only checks the engine refused are in ERROR (fix the check file).
        A FAIL wins over any ERROR, and the warehouse's fault over a check's."""
        if self.exit_code is not None:
            return self.exit_code
        statuses = {o.status for o in self.outcomes}
        if Status.FAIL in statuses:
            return 1
        errors = [o for o in self.outcomes if o.status == Status.ERROR]
        if self.error or any(o.fault != "check" for o in errors):
            return 3
        return 2 if errors else 0

    def to_json(self) -> str:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat()
        d["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return json.dumps(d, default=jsonable)

    @classmethod
    def from_json(cls, text: str) -> Run:
        d = json.loads(text)
        d["started_at"] = dt.datetime.fromisoformat(d["started_at"])
        d["finished_at"] = dt.datetime.fromisoformat(d["finished_at"]) if d["finished_at"] else None
        d["outcomes"] = [Outcome(**{**o, "status": Status(o["status"])}) for o in d["outcomes"]]
        d["metric_values"] = [MetricValue(**m) for m in d["metric_values"]]
        return cls(**d)


#: the exit code a finished status means when none was stored (runs stored before exit codes were)
def jsonable(value: Any) -> Any:
    """A warehouse value as JSON: numbers stay numbers, times become ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Status):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float (which JSON cannot hold) as the text "NaN",
    "Infinity" or "-Infinity", in dicts, lists and tuples at any depth."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """JSON text that is always valid JSON (never a bare NaN or Infinity)."""
    return json.dumps(finite(value), allow_nan=False, default=str, **kwargs)
