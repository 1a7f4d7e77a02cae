"""Plan → compile → run → evaluate → store: the audit of one table's partitions.

All scan metrics of a table are computed by ONE statement per chunk of partitions (grouped by the
partition column when there are several). Only `sql:` checks, reference checks, schema checks and
failing-row samples add statements.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp

from quinto.alerts.policy import policy_for, routing_notes
from quinto.baseline import Point, parse_day
from quinto.checks import CHECK_TYPES, ROWS, Aggregate, display_unit
from quinto.compile import (
    Compiled,
    PartitionColumn,
    compile_custom_sql,
    compile_probe,
    compile_reference,
    compile_reference_samples,
    compile_samples,
    compile_scan,
    compile_sql_probe,
    parse_expression,
)
from quinto.engines import Connector, connector_for, type_family
from quinto.errors import (
    EXIT_BAD_SPEC,
    EXIT_INFRA,
    EXIT_OK,
    Problem,
    QuintoError,
    SpecError,
    StoreError,
    UsageError,
    WarehouseError,
    did_you_mean,
)
from quinto.evaluate import (
    Status,
    Verdict,
    judge_anomaly,
    judge_change,
    judge_levels,
    partition_order,
    threshold_text,
)
from quinto.results import MetricValue, Outcome, Run, jsonable, verdict_of
from quinto.spec import Check, Project, Suite, TableSpec, interpolate, load_project, load_suite
from quinto.spec.project import parse_suite
from quinto.store import Store
from quinto.workspace import open_store

CHECK_FAULT, WAREHOUSE_FAULT = "check", "warehouse"


@dataclass(frozen=True)
class Failure:
    """Why a check has no value: an ERROR that is a check's fault (the engine refused what it asks)
    or the warehouse's (down, timed out, out of memory); or a FAIL (the partition does not exist)."""

    message: str
    fault: str | None = WAREHOUSE_FAULT
    status: Status = Status.ERROR


PARTITION_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-:.+/ ]{0,127}$")
WHOLE_TABLE = "*"


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


def parse_partition_arg(arg: str, spec: TableSpec) -> str:
    """`ds=2026-11-27` (or just `2026-11-27`) → the validated value."""
    column, sep, value = arg.partition("=")
    if not sep:
        column, value = spec.partition or "", arg
    if spec.partition is None:
        raise UsageError(f"table {spec.table} declares no `partition:` column; audit it without --partition")
    if column != spec.partition:
        raise UsageError(f"table {spec.table} is partitioned by '{spec.partition}', not '{column}'")
    return validate_partition(value, spec)


def validate_partition(value: str, spec: TableSpec) -> str:
    if not isinstance(value, str) or not PARTITION_VALUE.fullmatch(value):  # fullmatch: no trailing newline
        raise UsageError(
            f"refusing partition value {value!r}: only letters, digits and _ - : . + / and spaces are allowed"
        )
    if spec.partition_format and not re.fullmatch(spec.partition_format, value):
        raise UsageError(f"partition value {value!r} does not match partition_format {spec.partition_format!r}")
    return value


def fingerprint(check: Check) -> str:
    """Identity of the metric's definition: a changed definition starts a new history."""
    ctype = CHECK_TYPES[check.type]
    parts = [
        check.type,
        check.metric_key,
        *sorted(a.key for a in ctype.aggregates(check)),
        check.sql or "",
        check.metric_sql or "",
        repr(sorted(check.options.items())),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def suite_fingerprint(spec: TableSpec) -> str:
    """Identity of everything that decides a table's outcomes: its partition column and every check
    with its conditions and options (not where the lines are). A change means "audit again"."""
    parts: list[str] = [spec.table, spec.partition or "", spec.partition_type]
    parts += ["empty_partitions: allowed"] if spec.empty_partitions_allowed else []
    parts += [f"holidays: {','.join(spec.holidays)}"] if spec.holidays else []
    for c in sorted(spec.checks, key=lambda c: c.key):
        parts += [
            c.key,
            c.type,
            ",".join(col.name for col in c.columns),
            repr(c.condition),
            repr(c.warn),
            repr(c.fail),
            c.severity,
            repr(c.change),
            repr(c.anomaly),
            repr(c.percentile),
            repr((c.reference.table, [col.name for col in c.reference.columns]) if c.reference else None),
            c.metric_sql or "",
            c.sql or "",
            repr(sorted((k, repr(v)) for k, v in c.options.items())),
        ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def canonical(value: Any) -> Any:
    """A partition value as something comparable whatever its spelling: dates and times as objects
    (`2026-11-27 05:00:00` and `2026-11-27T05:00:00` are one partition), anything else as text."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):  # a day is its midnight, so DATE and TIMESTAMP partitions meet
        return dt.datetime(value.year, value.month, value.day)
    text = str(value)
    try:
        return canonical(dt.date.fromisoformat(text)) if len(text) == 10 else dt.datetime.fromisoformat(text)
    except ValueError:
        return text


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _castable(value: str, ptype: str) -> bool:
    """Whether a partition value can be a value of a `partition_type:` column at all."""
    try:
        if ptype == "date":
            dt.date.fromisoformat(value)
        elif ptype == "timestamp":
            dt.datetime.fromisoformat(value)
        elif ptype == "integer":
            int(value)
    except ValueError:
        return False
    return True


def _to_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            return _to_datetime(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


def partition_end(partition: str) -> dt.datetime | None:
    """The end of a date (YYYY-MM-DD, YYYYMMDD) or hour (YYYY-MM-DD HH / YYYY-MM-DDTHH) partition."""
    for fmt, step in (
        ("%Y-%m-%d", dt.timedelta(days=1)),
        ("%Y%m%d", dt.timedelta(days=1)),
        ("%Y-%m-%d %H", dt.timedelta(hours=1)),
        ("%Y-%m-%dT%H", dt.timedelta(hours=1)),
        ("%Y-%m-%d-%H", dt.timedelta(hours=1)),
    ):
        try:
            return dt.datetime.strptime(partition, fmt).replace(tzinfo=dt.UTC) + step
        except ValueError:
            continue
    return None


class Auditor:
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
        self.sample_rows = int(project.settings.get("sample_rows", 20))
        self.chunk = max(1, int(project.settings.get("partitions_per_scan", 31)))
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

    # -- running the statements -------------------------------------------------------------------
    def _run(self, compiled: Compiled, purpose: str) -> list[tuple[Any, ...]]:
        return self.connector.execute(compiled.sql, compiled.params, purpose=purpose)

    def aggregates(self) -> list[Aggregate]:
        aggs: dict[str, Aggregate] = {}
        for check in self.spec.checks:
            for a in CHECK_TYPES[check.type].aggregates(check):
                aggs.setdefault(a.key, a)
        return list(aggs.values())

    def scan_aggregates(self) -> list[Aggregate]:
        """The scan's aggregates: every check's, less those the engine cannot compile, and always
        `count(*)` of a partitioned table (a partition with no rows may not exist)."""
        aggs = [a for a in self.aggregates() if a.key not in self.broken]
        if self.part_col is not None and all(a.key != ROWS.key for a in aggs):
            aggs.append(ROWS)
        return aggs

    def scan(self, chunk: Sequence[str], aggs: Sequence[Aggregate] | None = None) -> dict[str, dict[str, Any]]:
        """Aggregate values of a chunk of partitions (or of the whole table), from ONE statement."""
        aggs = self.scan_aggregates() if aggs is None else list(aggs)
        if not aggs:
            return {p: {} for p in chunk}
        column = self.part_col
        compiled = compile_scan(self.connector.dialect, self.spec.table, column, [] if column is None else chunk, aggs)
        rows = self._run(compiled, "scan")
        if not compiled.grouped:
            return {chunk[0]: {compiled.aliases[f"m{j}"]: _number(v) for j, v in enumerate(rows[0])}}
        out: dict[str, dict[str, Any]] = {}
        asked = {canonical(p): p for p in chunk}
        for row in rows:
            part = asked.get(canonical(row[0]))
            if part is None:  # never count a partition as empty because its spelling differs
                raise WarehouseError(
                    f"the scan returned partition {row[0]!r}, which matches none of those asked for "
                    f"({', '.join(chunk[:3])}...); declare `partition_type:` in the check file"
                )
            out[part] = {compiled.aliases[f"m{j}"]: _number(v) for j, v in enumerate(row[1:])}
        for p in chunk:
            if p in out:
                continue
            if any(a.kind == "expression" for a in aggs) and (self.spec.empty_partitions_allowed or self._listed(p)):
                out.update(self.scan([p], aggs))  # an empty partition: custom metrics over no rows
            else:
                zero = ("row_count", "null_count", "nonnull_rows", "distinct_rows", "invalid_count")
                out[p] = {a.key: (0 if a.kind in zero else None) for a in aggs}
        return out

    def scan_all(self, parts: Sequence[str], run: Run) -> tuple[dict[str, dict[str, Any]], dict[str, Failure]]:
        """Values of every partition, one statement per chunk; a failed chunk fails only its partitions,
        and a check that breaks the statement fails only itself (`isolate`)."""
        values: dict[str, dict[str, Any]] = {}
        errors: dict[str, Failure] = {}
        self.unreachable = False
        self.broken.clear()
        self.culprits.clear()
        self.not_found.clear()
        self.listed.clear()
        todo = [p for p in parts if self.part_col is None or _castable(p, self.part_col.type)]
        for i in range(0, len(todo), self.chunk):
            chunk = list(todo[i : i + self.chunk])
            if self.unreachable:  # the warehouse went away: the remaining chunks are not tried
                errors.update({p: Failure(str(run.error)) for p in chunk})
                continue
            try:
                values.update(self.isolate(chunk, self.scan_aggregates()))
            except WarehouseError as exc:
                self.unreachable = exc.unreachable
                fault = WAREHOUSE_FAULT if exc.infra else CHECK_FAULT
                errors.update({p: Failure(exc.message, fault) for p in chunk})
                if exc.infra:
                    run.error = run.error or exc.message
            if self.progress is not None:
                self.progress(len(chunk))
        if not self.unreachable:
            self.find_missing(parts, values)
        return values, errors

    def isolate(self, chunk: Sequence[str], aggs: Sequence[Aggregate]) -> dict[str, dict[str, Any]]:
        """The scan of `chunk`; when the engine refuses it because of what a check asks (not because
        it is down, slow or out of memory), find the culprit aggregates and scan without them.
        First each aggregate is compiled over no rows (`WHERE 1 = 0`, halving the set while a probe
        fails): what the engine cannot compile is dropped for the whole audit. When everything
        compiles, the error happened on the data (a cast, a division): the aggregates are halved
        with real scans instead, and the culprits are dropped for this chunk."""
        try:
            return self.scan(chunk, aggs)
        except WarehouseError as exc:
            if exc.infra or not exc.engine:  # the warehouse's failure, or Quinto's own finding
                raise
            error = exc
        base = self._attempt(lambda: self._probe(chunk, [ROWS]))
        if base is not None:  # the table or its partition column itself: no check is to blame
            self.diagnose(error)
            raise error
        compiled = self._attempt(lambda: self._probe(chunk, aggs))
        if compiled is not None:
            bad = self._culprits(aggs, compiled, lambda group: self._attempt(lambda: self._probe(chunk, group)))
            self.broken.update(bad)
            what = "cannot compile this check"
        else:
            bad = self._culprits(aggs, error.detail, lambda group: self._attempt(lambda: self.scan(chunk, group)))
            what = "failed computing this check"
        if not bad:  # the statement fails, none of its parts does: the warehouse's limits, not a check
            raise WarehouseError(error.message, engine=error.engine, host=error.host, infra=True, detail=error.detail)
        for key, detail in bad.items():
            for p in chunk:
                self.culprits[(key, p)] = Failure(f"{self.connector.dialect.ENGINE} {what}: {detail}", CHECK_FAULT)
        return self.isolate(chunk, [a for a in aggs if a.key not in bad])

    def _probe(self, chunk: Sequence[str], aggs: Sequence[Aggregate]) -> None:
        column = self.part_col
        compiled = compile_probe(self.connector.dialect, self.spec.table, column, [] if column is None else chunk, aggs)
        self._run(compiled, "probe")

    @staticmethod
    def _attempt(action: Callable[[], Any]) -> str | None:
        """None when `action` runs, else the engine's message; the warehouse's own failures propagate."""
        try:
            action()
        except WarehouseError as exc:
            if exc.infra:
                raise
            return exc.detail
        return None

    @staticmethod
    def _culprits(
        aggs: Sequence[Aggregate], failure: str, error_of: Callable[[Sequence[Aggregate]], str | None]
    ) -> dict[str, str]:
        """The aggregates that fail alone, by halving a group known to fail (with `failure`)."""
        if len(aggs) == 1:
            return {aggs[0].key: failure}
        half = len(aggs) // 2
        out: dict[str, str] = {}
        for group in (aggs[:half], aggs[half:]):
            error = error_of(group)
            if error is not None:
                out.update(Auditor._culprits(group, error, error_of))
        return out

    def find_missing(self, parts: Sequence[str], values: Mapping[str, Mapping[str, Any]]) -> None:
        """A partition with no rows that the table's partition listing does not know is NOT FOUND:
        a FAIL that names the newest partitions present, and no metric values (an empty partition
        that exists, e.g. in the metastore, stays an empty partition)."""
        column = self.part_col
        if column is None:
            return
        newest: list[str] | None = None
        for p in parts:
            if p in values:
                if values[p].get(ROWS.key) != 0 or self.spec.empty_partitions_allowed or self._listed(p):
                    continue
                why = "it has no rows and is not among the table's partitions"
            elif not _castable(p, column.type):
                why = f"{p!r} is not a valid {column.type}"
            else:
                continue
            if newest is None:
                try:
                    newest = self.connector.partitions(
                        self.spec.table, column.name, limit=3, ptype=self.spec.partition_type
                    )
                except WarehouseError:
                    newest = []
            present = f"newest present: {', '.join(newest)}" if newest else "the table has no partitions"
            message = f"partition {column.name}={p} NOT FOUND in {self.spec.table}: {why}; {present}"
            self.not_found[p] = Failure(message, None, Status.FAIL)

    def _listed(self, partition: str) -> bool:
        """Whether the table's partition listing has `partition` (asked once per audit)."""
        if partition not in self.listed:
            assert self.part_col is not None
            try:
                listed = self.connector.partitions(
                    self.spec.table, self.part_col.name, partition, partition, limit=10, ptype=self.spec.partition_type
                )
                self.listed[partition] = any(canonical(v) == canonical(partition) for v in listed)
            except WarehouseError:  # the listing cannot tell: an empty partition, as before
                self.listed[partition] = True
        return self.listed[partition]

    def failure(
        self, check: Check, partition: str, scan_errors: Mapping[str, Failure], query_errors: Mapping[str, Failure]
    ) -> Failure | None:
        """Why `check` has no value for `partition`, if it has none."""
        if partition in self.not_found:
            return self.not_found[partition]
        ctype = CHECK_TYPES[check.type]
        if ctype.kind != "scan":
            return query_errors.get(check.key)
        if partition in scan_errors:
            return scan_errors[partition]
        for agg in ctype.aggregates(check):
            if (agg.key, partition) in self.culprits:
                found = self.culprits[(agg.key, partition)]
                hint = self.unknown_columns(check)
                return Failure(f"{hint}; {found.message}", found.fault) if hint else found
        return None

    def unknown_columns(self, check: Check) -> str:
        """'column 'x' is not in t (did you mean 'y'?) at file:line:col' for the columns a check
        names (in its arguments or its `metric:` expression) that the table does not have."""
        if self.table_columns is None:
            try:
                self.table_columns = self.connector.columns(self.spec.table)
            except WarehouseError:
                self.table_columns = {}
        columns = self.table_columns
        if not columns:
            return ""
        exact = self.connector.dialect.CASE_SENSITIVE_IDENTIFIERS
        # the check's columns are quoted: exact where the engine says so; an unquoted name in an
        # expression is folded to lower case by such engines
        named = [(c.name, c.location, exact) for c in check.columns]
        if check.metric_sql is not None:
            try:
                tree = parse_expression(check.metric_sql, self.connector.dialect)
                for c in tree.find_all(exp.Column):
                    quoted = bool(c.this.args.get("quoted")) if isinstance(c.this, exp.Identifier) else False
                    name = c.name if quoted or not exact else c.name.lower()
                    named.append((name, check.location, exact))
            except SpecError:
                pass
        known, folded = set(columns), {c.lower() for c in columns}
        missing = {
            name: where
            for name, where, case in named
            if name and (name not in known if case else name.lower() not in folded)
        }
        return "; ".join(
            f"column '{name}' is not in {self.spec.table}{did_you_mean(name, columns)} at {where}"
            for name, where in missing.items()
        )

    def diagnose(self, error: WarehouseError) -> None:
        """After a failed scan, turn a missing table or column into a located SpecError."""
        try:
            columns = self.connector.columns(self.spec.table)
        except WarehouseError:
            return
        if columns:  # no columns may only mean metadata we cannot read (e.g. a materialized view)
            self.check_columns(columns)

    def check_columns(self, columns: Mapping[str, str]) -> None:
        if not columns:
            raise SpecError(
                [
                    Problem(
                        self.spec.location,
                        f"table '{self.spec.table}' does not exist in connection '{self.spec.connection}'",
                    )
                ]
            )
        problems = []
        exact = self.connector.dialect.CASE_SENSITIVE_IDENTIFIERS
        lower = {} if exact else {c.lower(): c for c in columns}
        if self.spec.partition and self.spec.partition not in columns and self.spec.partition.lower() not in lower:
            problems.append(
                Problem(
                    self.spec.partition_location or self.spec.location,
                    f"partition column '{self.spec.partition}' is not in "
                    f"{self.spec.table}{did_you_mean(self.spec.partition, columns)}",
                )
            )
        for check in self.spec.checks:
            for column in check.columns:
                if column.name not in columns and column.name.lower() not in lower:
                    problems.append(
                        Problem(
                            column.location,
                            f"column '{column.name}' is not in {self.spec.table}{did_you_mean(column.name, columns)}",
                        )
                    )
        if problems:
            raise SpecError(problems)

    def query_checks(self, partitions: Sequence[str]) -> tuple[dict[tuple[str, str], Any], dict[str, Failure]]:
        """Values of sql/reference/schema checks: {(check, partition): value}, and errors by check
        (each its own statement, so a broken one fails only itself). Partitions not found are skipped."""
        values: dict[tuple[str, str], Any] = {}
        errors: dict[str, Failure] = {}
        partitions = [p for p in partitions if p not in self.not_found]
        if not partitions:
            return values, errors
        column = self.part_col
        schema: dict[str, str] | None = None
        for check in self.spec.checks:
            kind = CHECK_TYPES[check.type].kind
            try:
                if check.type == "reference":
                    assert check.reference is not None
                    compiled = compile_reference(
                        self.connector.dialect,
                        self.spec.table,
                        column,
                        partitions,
                        [c.name for c in check.columns],
                        check.reference.table,
                        [c.name for c in check.reference.columns],
                    )
                    rows = self._run(compiled, "reference")
                    if compiled.grouped:
                        found = {canonical(r[0]): r[1] for r in rows}
                        for p in partitions:
                            values[(check.key, p)] = _number(found.get(canonical(p), 0))
                    else:
                        values[(check.key, partitions[0])] = _number(rows[0][0])
                elif check.type == "sql":
                    assert check.sql is not None
                    compiled = compile_custom_sql(check.sql)
                    for p in partitions:
                        params = {"partition": p} if ":partition" in check.sql else {}
                        rows = self.connector.execute(compiled.sql, params, purpose="sql")
                        if len(rows) != 1 or len(rows[0]) != 1:
                            raise WarehouseError(
                                f"`sql:` of '{check.key}' returned {len(rows)} row(s); "
                                "it must return exactly one number"
                            )
                        value = _number(rows[0][0])
                        if value is not None and not isinstance(value, (int, float)):
                            kind = "text" if isinstance(value, str) else type(value).__name__
                            raise WarehouseError(
                                f"`sql:` of '{check.key}' returned {kind} {str(value)[:80]!r}; "
                                "it must return exactly one number"
                            )
                        values[(check.key, p)] = value
                elif kind == "metadata":
                    if schema is None:
                        schema = self.connector.columns(self.spec.table)
                    violations = schema_violations(check, schema)
                    for p in partitions:
                        values[(check.key, p)] = violations
            except WarehouseError as exc:
                errors[check.key] = Failure(exc.message, WAREHOUSE_FAULT if exc.infra else CHECK_FAULT)
        return values, errors

    def samples(self, check: Check, partition: str) -> list[dict[str, Any]] | None:
        limit = min(check.samples, self.sample_rows) if check.samples else 0
        if limit <= 0 or partition in self.not_found:
            return None
        if check.type == "reference":
            assert check.reference is not None
            compiled = compile_reference_samples(
                self.connector.dialect,
                self.spec.table,
                self.part_col,
                partition,
                [c.name for c in check.columns],
                check.reference.table,
                [c.name for c in check.reference.columns],
                limit,
            )
        else:
            agg = CHECK_TYPES[check.type].bad_rows(check)
            if agg is None:
                return None
            compiled = compile_samples(self.connector.dialect, self.spec.table, self.part_col, partition, agg, limit)
        try:
            cols, rows = self.connector.execute_with_columns(compiled.sql, compiled.params, purpose="samples")
        except WarehouseError:
            return None
        return [{c: jsonable(v) for c, v in zip(cols, r, strict=False)} for r in rows]

    # -- judging ----------------------------------------------------------------------------------------
    def value_of(
        self, check: Check, partition: str, aggs: Mapping[str, Any], query_values: Mapping[tuple[str, str], Any]
    ) -> Any:
        ctype = CHECK_TYPES[check.type]
        if ctype.kind != "scan":
            return query_values.get((check.key, partition))
        value = ctype.value(check, aggs)
        if check.type == "freshness":
            newest = _to_datetime(value)
            if newest is None:
                return None
            rel = check.options.get("relative_to", "partition_end")
            ref = partition_end(partition) if rel == "partition_end" else self.now
            return ((ref or self.now) - newest).total_seconds()
        return value

    def holiday(self, partition: str) -> bool:
        """The partition's day is one of the check file's `holidays:`."""
        if not self.holidays:
            return False
        day = parse_day(partition)
        return day is not None and day.isoformat() in self.holidays

    def judge(self, check: Check, partition: str, value: Any, history: Mapping[str, list[Point]]) -> Verdict:
        unit = display_unit(check.type)
        if value is None:
            return Verdict(Status.FAIL, "no value: the metric is NULL (no non-NULL rows in the partition)")
        if not isinstance(value, (int, float)):
            return Verdict(Status.ERROR, f"the metric is not a number: {str(value)[:80]!r}")
        if not math.isfinite(value):
            return Verdict(Status.FAIL, f"no finite value: the metric is {value} (NaN or infinite values in the data)")
        # declared holidays are expected to be unusual: never judged against history, never learnt from
        hist = [p for p in history.get(self.fps[check.key], []) if not self.holiday(p.partition)]
        holiday = self.holiday(partition)
        note = Verdict(Status.PASS, f"{partition} is a declared holiday: not judged against history", value)
        if check.change:
            if holiday:
                return note
            return judge_change(check, float(value), hist, partition, self.order, self.change_checks)
        verdicts = []
        if check.anomaly is not None:
            if holiday:
                verdicts.append(note)
            else:
                unit_of = CHECK_TYPES[check.type].unit
                verdicts.append(judge_anomaly(check, float(value), hist, partition, self.order, unit_of))
        if check.condition is not None or check.warn is not None or check.fail is not None:
            verdicts.append(judge_levels(check, float(value), unit))
        worst = max(verdicts, key=lambda v: v.status.rank)
        if len(verdicts) > 1:
            return Verdict(
                worst.status, "; ".join(v.message for v in verdicts), float(value), verdicts[0].low, verdicts[0].high
            )
        return worst

    # -- the whole audit -------------------------------------------------------------------------------
    def run(self, partitions: Sequence[str], trigger: str = "cli") -> Run:
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
        for part in parts:
            part_outcomes: list[Outcome] = []
            metric_seen: set[str] = set()
            for check in spec.checks:
                fp = self.fps[check.key]
                error = self.failure(check, part, scan_errors, query_errors)
                value = None if error else self.value_of(check, part, values.get(part, {}), query_values)
                verdict = Verdict(error.status, error.message) if error else self.judge(check, part, value, history)
                samples = None
                if verdict.status == Status.FAIL and (
                    CHECK_TYPES[check.type].bad_rows(check) is not None or check.type == "reference"
                ):
                    samples = self.samples(check, part)
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
                        samples=samples,
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
        run.statements = [s.as_dict() for s in self.connector.statements]
        run.finished_at = dt.datetime.now(dt.UTC)
        return run

    def history_depth(self) -> int:
        """How many earlier partitions the judging of this suite may read: the longest window
        (weeks of days with same_weekday, earlier same days of the month with month_day) or change
        base, and never under 400."""
        depth = 400
        for c in self.spec.checks:
            if c.anomaly is not None:
                days = c.anomaly.window * (7 if c.anomaly.same_weekday else 1)
                month_day = c.anomaly.seasonality is not None and "month_day" in c.anomaly.seasonality
                depth = max(depth, days + (4 * 31 if month_day else 0) + 10)
            if c.change is not None:
                depth = max(depth, 4 * c.change.n + 10)
        return depth

    def load_history(self, parts: Sequence[str], run: Run) -> tuple[dict[str, list[Point]], dict[str, str]]:
        """Stored values of the partitions before the newest one audited, as the baseline model
        reads them (those audited now are judged in order and learn from each other), and the
        marks of the partitions audited."""
        needs = {self.fps[c.key] for c in self.spec.checks if c.change or c.anomaly is not None}
        if not needs or self.store is None or self.spec.partition is None:
            return {}, {}
        try:
            # text order is partition order except for integers, which are filtered here instead
            text_order = self.spec.partition_type != "integer"
            history = self.store.history(
                self.spec.table,
                needs,
                before=max(parts) if text_order else None,
                exclude=parts,
                integer=not text_order,
                limit=self.history_depth() + len(parts),
            )
            if not text_order:
                newest = self.order(max(parts, key=self.order))
                history = {fp: [pt for pt in vals if self.order(pt.partition) < newest] for fp, vals in history.items()}
            return history, self.store.marks(self.spec.table, parts)
        except Exception as exc:  # noqa: BLE001 - a store outage must not stop the audit; say so
            note = f"history unavailable: {str(exc).splitlines()[0]}"
            run.error = f"{run.error}; {note}" if run.error else note
            return {}, {}


def schema_violations(check: Check, columns: Mapping[str, str]) -> int:
    return len(schema_problems(check, columns))


def schema_problems(check: Check, columns: Mapping[str, str]) -> list[str]:
    required = check.options.get("required") or []
    lower = {c.lower(): t for c, t in columns.items()}
    problems = []
    wanted: dict[str, str | None] = dict(required) if isinstance(required, Mapping) else {c: None for c in required}
    for name, family in wanted.items():
        actual = lower.get(name.lower())
        if actual is None:
            problems.append(f"missing column {name}")
        elif family is not None and type_family(actual) != family:
            problems.append(f"{name} is {actual} ({type_family(actual)}), expected {family}")
    if check.options.get("forbid_unexpected"):
        known = {n.lower() for n in wanted}
        problems.extend(f"unexpected column {c}" for c in columns if c.lower() not in known)
    return problems


def spool_dir(project: Project) -> Path:
    """Where runs wait when the store cannot be written (relative to quinto.yaml)."""
    return Path(project.root) / str(project.settings.get("spool_dir", ".quinto/spool"))


def make_connector(project: Project, name: str) -> Connector:
    connector = _connector(project, name)
    timeout = project.settings.get("statement_timeout")
    connector.timeout_s = float(timeout) if timeout else None
    return connector


def _connector(project: Project, name: str) -> Connector:
    if not name:
        raise SpecError([Problem(None, "no connection: name one in quinto.yaml (`connections:`)")])
    if name not in project.connections:
        raise SpecError([Problem(None, f"unknown connection '{name}'{did_you_mean(name, project.connections)}")])
    return connector_for(interpolate(project.connections[name], f"connection '{name}'"), name)


def audit(
    table: str,
    partitions: Sequence[str] | str | None = None,
    *,
    config: str | Path | None = None,
    project: Project | None = None,
    suite: Suite | None = None,
    store: Store | None = None,
    connector: Connector | None = None,
    trigger: str = "cli",
    save: bool = True,
    now: dt.datetime | None = None,
    chunk: int | None = None,
) -> AuditResult:
    """Audit partitions of one table, store the run, and return its outcomes.

    `partitions` are values (`2026-11-27`) or `column=value` strings. Raises SpecError / UsageError
    for bad input (exit 2) and WarehouseError / StoreError when nothing could be computed (exit 3);
    a warehouse failure after the plan is stored as ERROR outcomes instead.
    """
    project = project or load_project(config)
    suite = suite or load_suite(project)
    spec = suite.table(table)
    raw = [partitions] if isinstance(partitions, str) else list(partitions or [])
    if spec.partition and not raw:
        raise UsageError(f"say which partition of {table} to audit, e.g. --partition {spec.partition}=2026-11-27")
    parts = [parse_partition_arg(p, spec) for p in raw] if spec.partition else []
    spelled: dict[Any, str] = {}
    for p in parts:  # one partition spelled two ways would get one spelling's values for both
        other = spelled.setdefault(canonical(p), p)
        if other != p:
            raise UsageError(f"partitions {other!r} and {p!r} are the same partition; give it once")
    parts = list(dict.fromkeys(parts))
    if raw and not spec.partition:
        raise UsageError(f"table {table} declares no `partition:` column; audit it without --partition")
    own_connector = connector is None
    connector = connector or make_connector(project, spec.connection)
    own_store = store is None and save
    if save and store is None:
        store = open_store(project)
    spool = spool_dir(project)
    result_notes: list[str] = []
    if save and store is not None:
        try:
            replayed = store.replay_spool(spool)
            if replayed:
                result_notes.append(f"replayed {len(replayed)} spooled run(s) into the store")
        except Exception as exc:  # noqa: BLE001 - the store may be down; this run will spool too
            result_notes.append(f"spooled runs not replayed: {str(exc).splitlines()[0]}")
    try:
        auditor = Auditor(project, spec, connector, store, now)
        if chunk:
            auditor.chunk = chunk
        run = auditor.run(parts, trigger)
        result = AuditResult(run, notes=result_notes)
        if save and store is not None:
            run.alert_policy = policy_for(project, spec, trigger)
            try:
                store.save_or_spool(run, spool)
            except StoreError as exc:
                result.store_error = exc.message
        return result
    finally:
        if own_connector:
            connector.close()
        if own_store and store is not None:
            store.close()


def backfill(
    table: str,
    since: str,
    until: str | None = None,
    *,
    config: str | Path | None = None,
    project: Project | None = None,
    suite: Suite | None = None,
    store: Store | None = None,
    connector: Connector | None = None,
    chunk: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    now: dt.datetime | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[AuditResult]:
    """Audit every partition of `table` in [since, until] that exists in the warehouse, oldest first,
    in chunks of `chunk` partitions; each chunk is ONE grouped scan and one stored run, so history
    builds up as it goes and an interruption keeps the chunks already done.
    `progress(done, total)` is called after each chunk; `warn(message)` for each partition value of
    the warehouse that Quinto refuses (it is skipped)."""
    project = project or load_project(config)
    suite = suite or load_suite(project)
    spec = suite.table(table)
    if spec.partition is None:
        raise UsageError(f"table {table} declares no `partition:` column; there is nothing to backfill")
    since = validate_partition(since, spec)
    until = validate_partition(until, spec) if until else None
    own_connector, own_store = connector is None, store is None
    connector = connector or make_connector(project, spec.connection)
    store = store or open_store(project)
    try:
        listed = connector.partitions(
            spec.table, spec.partition, since, until, limit=100_000, ptype=spec.partition_type
        )
        parts = []
        for value in sorted(listed):
            try:  # an odd value in the warehouse is skipped with a warning, not the end of the backfill
                parts.append(validate_partition(value, spec))
            except UsageError as exc:
                if warn is not None:
                    warn(f"skipped a partition of {spec.table} in the warehouse: {exc.message}")
        size = max(1, chunk or int(project.settings.get("partitions_per_scan", 31)))
        results = []
        for i in range(0, len(parts), size):
            batch = parts[i : i + size]
            results.append(
                audit(
                    table,
                    batch,
                    project=project,
                    suite=suite,
                    store=store,
                    connector=connector,
                    trigger="backfill",
                    now=now,
                    chunk=size,
                )
            )
            if progress is not None:
                progress(min(i + size, len(parts)), len(parts))
        return results
    finally:
        if own_connector:
            connector.close()
        if own_store:
            store.close()


def mark(
    table: str,
    partition: str,
    verdict: str,
    reason: str | None = None,
    *,
    config: str | Path | None = None,
    by: str | None = None,
) -> None:
    """Mark a partition good (it joins baselines even after a failure) or bad (it never does)."""
    project = load_project(config)
    spec = load_suite(project).table(table)
    value = parse_partition_arg(partition, spec)
    if verdict not in ("good", "bad"):
        raise UsageError(f"a partition is marked 'good' or 'bad', not {verdict!r}")
    store = open_store(project)
    try:
        store.mark(spec.table, value, verdict, reason, by)
    finally:
        store.close()


@dataclass
class Validation:
    suite: Suite
    verified: list[str] = field(default_factory=list)  # tables whose columns were checked in the warehouse
    unverified: dict[str, str] = field(default_factory=dict)  # table → why not
    notes: list[str] = field(default_factory=list)  # e.g. alert targets quinto.yaml does not configure


def validate(
    paths: Sequence[str] | None = None, *, config: str | Path | None = None, connect: bool | None = None
) -> Validation:
    """Parse every check file, then check every table, column and expression in its warehouse:
    always with `connect=True` (an unreachable warehouse raises), never with False, and with None
    whenever the warehouse can be reached. Every problem of every file is raised at once (SpecError):
    typos in the file together with what the warehouse says of the checks that parse."""
    project = load_project(config)
    suite, problems = parse_suite(project, list(paths) if paths else None)
    report = Validation(suite, notes=routing_notes(project, suite.tables) if project.location else [])
    if connect is not False:
        for spec in suite.tables.values():
            if spec.connection not in project.connections:  # reported by the parse (or no quinto.yaml)
                continue
            try:
                connector = make_connector(project, spec.connection)
            except SpecError as exc:  # e.g. the URL's environment variable is not set
                if connect:
                    problems.extend(exc.problems)
                else:
                    report.unverified[spec.table] = str(exc.message).splitlines()[0]
                continue
            except WarehouseError as exc:
                report.unverified[spec.table] = str(exc.message).splitlines()[0]
                continue
            try:
                problems.extend(warehouse_problems(project, spec, connector))
                report.verified.append(spec.table)
            except WarehouseError as exc:
                report.unverified[spec.table] = exc.message
            finally:
                connector.close()
    if problems:
        where = [Problem(None, f"{t} not verified in its warehouse: {why}") for t, why in report.unverified.items()]
        raise SpecError(sorted(set(problems), key=_problem_order) + (where if connect else []))
    if connect and report.unverified:
        table, why = next(iter(report.unverified.items()))
        raise WarehouseError(f"{table}: {why}")
    return report


def _problem_order(problem: Problem) -> tuple[str, int, int]:
    loc = problem.location
    return (loc.file, loc.line, loc.col) if loc else ("", 0, 0)


def sample_partition(spec: TableSpec) -> str:
    """A value of the partition column's type, bound where a statement needs one but reads nothing."""
    today = dt.date.today()
    return {
        "integer": today.strftime("%Y%m%d"),
        "timestamp": f"{today.isoformat()} 00:00:00",
    }.get(spec.partition_type, today.isoformat())


def warehouse_problems(project: Project, spec: TableSpec, connector: Connector) -> list[Problem]:
    """What the warehouse says of a table's checks, without reading data: a missing table (with
    "did you mean" from the warehouse's listing), partition column or column, and every check the
    engine cannot compile (`metric:` and `sql:` expressions, types), located at the expression."""
    columns = connector.columns(spec.table)
    if not columns:
        return [Problem(spec.table_location or spec.location, missing_table(spec.table, spec.connection, connector))]
    problems = _missing_columns(project, spec, connector, columns)
    auditor = Auditor(project, spec, connector, None)
    value = [sample_partition(spec)] if spec.partition else []
    if auditor._attempt(lambda: auditor._probe(value, [ROWS])) is not None:
        auditor.part_col, value = None, []  # the partition filter fails (reported): probe without it
        if auditor._attempt(lambda: auditor._probe(value, [ROWS])) is not None:
            return problems  # the table cannot be read at all
    named = {p.location for p in problems}
    blamed = {c.key for c in spec.checks if any(col.location in named for col in c.columns)}
    aggs = auditor.aggregates()
    failed = auditor._attempt(lambda: auditor._probe(value, aggs)) if aggs else None
    if failed is not None:
        bad = Auditor._culprits(aggs, failed, lambda group: auditor._attempt(lambda: auditor._probe(value, group)))
        for check in spec.checks:
            keys = [a.key for a in CHECK_TYPES[check.type].aggregates(check) if a.key in bad]
            if keys and check.key not in blamed:
                hint = auditor.unknown_columns(check).split(" at ")[0]
                message = f"{connector.dialect.ENGINE} cannot compile '{check.key}': {bad[keys[0]]}"
                problems.append(
                    Problem(check.expression_location or check.location, f"{hint}; {message}" if hint else message)
                )
    for check in spec.checks:
        if check.sql is None:
            continue
        probe = compile_sql_probe(check.sql)
        params = {"partition": sample_partition(spec)} if ":partition" in check.sql else {}
        error = auditor._attempt(lambda: connector.execute(probe.sql, params, purpose="probe"))  # noqa: B023
        if error is not None:
            engine = connector.dialect.ENGINE
            problems.append(Problem(check.expression_location or check.location, f"`sql:` fails on {engine}: {error}"))
    return problems


def missing_table(table: str, connection: str, connector: Connector) -> str:
    """'table 'x' does not exist in connection 'c' (did you mean 'y'?)', from the warehouse's listing."""
    _, schema, name = connector.split_table(table)
    text = f"table '{table}' does not exist in connection '{connection}'"
    try:
        if schema is not None:
            schemas = connector.schemas()
            if schema.lower() not in {s.lower() for s in schemas}:
                return f"{text}: it has no schema '{schema}'{did_you_mean(schema, schemas)}"
        names = connector.tables(schema)
    except WarehouseError:
        return text
    prefix = table[: len(table) - len(name)]
    return text + did_you_mean(table, [prefix + n for n in names])


def _missing_columns(
    project: Project, spec: TableSpec, connector: Connector, columns: Mapping[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    try:
        Auditor(project, spec, connector, None).check_columns(columns)
    except SpecError as exc:
        problems.extend(exc.problems)
    for check in spec.checks:
        if check.reference is None:
            continue
        ref_cols = connector.columns(check.reference.table)
        if not ref_cols:
            message = missing_table(check.reference.table, spec.connection, connector)
            problems.append(Problem(check.location, f"referenced {message}"))
            continue
        for c in check.reference.columns:
            if c.name not in ref_cols:
                hint = did_you_mean(c.name, ref_cols)
                problems.append(Problem(c.location, f"column '{c.name}' is not in {check.reference.table}{hint}"))
    return problems


__all__ = ["AuditResult", "Auditor", "EXIT_BAD_SPEC", "QuintoError", "audit", "validate"]
