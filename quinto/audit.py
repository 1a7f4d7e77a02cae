"""Plan → compile → run → evaluate → store: the audit of one table's partitions.

All scan metrics of a table are computed by ONE statement per chunk of partitions (grouped by the
partition column when there are several). Only check types that run their own statements (`sql:`,
reference and schema checks) and failing-row samples add statements. The `Auditor` is assembled
from `quinto.execute` (the statements) and `quinto.judge` (the verdicts); `quinto.plan` names the
partitions and fingerprints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from quinto.baseline import Point
from quinto.checks import CHECK_TYPES
from quinto.compile import PartitionColumn
from quinto.engines import Connector
from quinto.errors import (
    EXIT_BAD_SPEC,
    EXIT_INFRA,
    EXIT_OK,
    QuintoError,
    verdict_of,
)
from quinto.evaluate import Status, Verdict, partition_order, threshold_text
from quinto.execute import Executor
from quinto.judge import Judge
from quinto.plan import (
    WHOLE_TABLE,
    Failure,
    fingerprint,
    parse_partition_arg,
    suite_fingerprint,
    validate_partition,
)
from quinto.results import MetricValue, Outcome, Run, jsonable
from quinto.settings import Settings
from quinto.spec import Check, Project, TableSpec
from quinto.stmtcache import StatementCache, cache_dir
from quinto.store import Store


@dataclass
class AuditResult:
    run: Run
    store_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return self.run.outcomes

    @property
    def status(self) -> Status:
        return self.run.status

    @property
    def exit_code(self) -> int:
        code = self.run.verdict_code
        return EXIT_INFRA if code == EXIT_OK and self.store_error else code

    @property
    def verdict(self) -> str:
        return verdict_of(self.exit_code) or "do not publish"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run.id,
            "table": self.run.table,
            "partitions": self.run.partitions,
            "status": str(self.status),
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "store_error": self.store_error,
            "error": self.run.error,
            "outcomes": [{k: jsonable(v) for k, v in o.as_dict().items()} for o in self.outcomes],
            "statements": self.run.statements,
            "statement_count": len(self.run.statements),
        }


class Auditor(Executor, Judge):
    """Audits one table's partitions against one connector; see `audit()`."""

    def __init__(
        self,
        project: Project,
        spec: TableSpec,
        connector: Connector,
        store: Store | None,
        now: dt.datetime | None = None,
    ) -> None:
        self.project, self.spec, self.connector, self.store = project, spec, connector, store
        self.now = now or dt.datetime.now(dt.UTC)
        settings = Settings.of(project.settings)
        self.sample_rows = settings.sample_rows
        self.audit_timeout = settings.audit_timeout
        self.chunk = max(1, settings.partitions_per_scan)
        self.fps = {c.key: fingerprint(c) for c in spec.checks}
        self.part_col = PartitionColumn(spec.partition, spec.partition_type) if spec.partition else None
        self.order = partition_order(spec.partition_type)
        self.change_checks = frozenset(c.key for c in spec.checks if c.change)
        self.holidays = frozenset(spec.holidays)
        self.progress: Callable[[int], None] | None = None  # called with the partitions done per chunk
        self.unreachable = False  # set when a scan finds the warehouse unreachable
        self.broken: set[str] = set()  # aggregates the engine cannot compile: left out of the scans
        self.culprits: dict[tuple[str, str], Failure] = {}  # (aggregate, partition) → why it has no value
        self.not_found: dict[str, Failure] = {}  # partitions the table does not have
        self.listed: dict[str, bool] = {}  # partition → whether the table's partition listing has it
        self.table_columns: dict[str, str] | None = None  # read once, to name a culprit's unknown columns
        self.distinct_form: str | None = None  # None: the dialect's; another after running out of memory
        self.forms_tried: set[str] = set()
        self.spans = False  # a backfill's chunks are runs of consecutive partitions (`Executor.scan`)
        self.statement_cache = StatementCache(cache_dir())

    # -- the whole audit -------------------------------------------------------------------------------
    def run(self, partitions: Sequence[str], trigger: str = "cli") -> Run:
        """The audit, its statements within `audit_timeout` (the connector's budget)."""
        with self.connector.budget(self.audit_timeout):
            return self._run_audit(partitions, trigger)

    def _run_audit(self, partitions: Sequence[str], trigger: str) -> Run:
        spec = self.spec
        parts = sorted(set(partitions), key=self.order) if spec.partition else [WHOLE_TABLE]
        run = Run(
            table=spec.table,
            connection=spec.connection,
            partition_column=spec.partition,
            partitions=list(parts),
            started_at=self.now,
            trigger=trigger,
            fingerprint=suite_fingerprint(spec),
        )
        self.connector.statements.clear()
        values, scan_errors = self.scan_all(parts, run)
        unreachable = self.unreachable
        needs_queries = any(CHECK_TYPES[c.type].kind != "scan" for c in spec.checks)
        query_values, query_errors = self.query_checks(parts) if needs_queries and not unreachable else ({}, {})
        if unreachable:
            query_errors = {c.key: Failure(str(run.error)) for c in spec.checks}
        history, marks = self.load_history(parts, run)
        wanted: list[tuple[Check, str]] = []  # failing row-level checks, for samples
        for part in parts:
            part_outcomes: list[Outcome] = []
            metric_seen: set[str] = set()
            for check in spec.checks:
                fp = self.fps[check.key]
                error = self.failure(check, part, scan_errors, query_errors)
                value = None if error else self.value_of(check, part, values.get(part, {}), query_values)
                verdict = Verdict(error.status, error.message) if error else self.judge(check, part, value, history)
                if verdict.status == Status.FAIL and CHECK_TYPES[check.type].has_samples(check):
                    wanted.append((check, part))  # fetched together after the loop
                num = float(value) if isinstance(value, (int, float)) and value is not None else None
                part_outcomes.append(
                    Outcome(
                        table=spec.table,
                        partition=part,
                        check=check.key,
                        check_type=check.type,
                        metric=check.metric_key,
                        fingerprint=fp,
                        status=verdict.status,
                        value=num,
                        message=verdict.message,
                        threshold=threshold_text(check),
                        source=str(check.location),
                        judged=verdict.judged,
                        band_low=verdict.low,
                        band_high=verdict.high,
                        fault=error.fault if error else None,
                    )
                )
                if not error and fp not in metric_seen:
                    metric_seen.add(fp)
                    run.metric_values.append(MetricValue(spec.table, part, check.metric_key, fp, num))
            run.outcomes.extend(part_outcomes)
            if marks.get(part) != "bad":  # later partitions of this run learn from this one
                good = marks.get(part) == "good"
                for mv in run.metric_values:
                    if mv.partition == part and mv.value is not None:
                        by = frozenset(
                            o.check
                            for o in part_outcomes
                            if o.status == Status.FAIL and o.fingerprint == mv.fingerprint
                        )
                        history.setdefault(mv.fingerprint, []).append(Point(part, mv.value, good=good, failed_by=by))
        if wanted:
            found = self.fetch_samples(wanted)
            by_key = {c.key: c for c, _ in wanted}
            for o in run.outcomes:
                o.samples = found.get((o.check, o.partition), o.samples)
                if o.samples and o.check in by_key:  # what the alert names, from the rows just fetched
                    top = CHECK_TYPES[o.check_type].offending(by_key[o.check], o.samples)
                    o.top_values = top.as_json() if top is not None else None
        run.statements = [s.as_dict() for s in self.connector.statements]
        run.finished_at = dt.datetime.now(dt.UTC)
        return run


__all__ = [
    "EXIT_BAD_SPEC",
    "WHOLE_TABLE",
    "AuditResult",
    "Auditor",
    "QuintoError",
    "parse_partition_arg",
    "suite_fingerprint",
    "validate_partition",
]
