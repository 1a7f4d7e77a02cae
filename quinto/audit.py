"""Plan → compile → run → evaluate → store: the audit of one table's partitions.

All scan metrics of a table are computed by ONE statement per chunk of partitions (grouped by the
partition column when there are several). Only check types that run their own statements (`sql:`,
reference and schema checks) and failing-row samples add statements. The `Auditor` is assembled
from `quinto.execute` (the statements) and `quinto.judge` (the verdicts); `quinto.plan` names the
partitions and fingerprints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quinto.alerts.policy import policy_for, routing_notes
from quinto.baseline import Point
from quinto.checks import CHECK_TYPES, ROWS
from quinto.compile import PartitionColumn, compile_sql_probe
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
from quinto.results import MetricValue, Outcome, Run, jsonable, verdict_of
from quinto.spec import Check, Project, Suite, TableSpec, interpolate, load_project, load_suite
from quinto.spec.project import parse_suite
from quinto.store import Store
from quinto.workspace import open_store


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
                if verdict.status == Status.FAIL and CHECK_TYPES[check.type].has_samples(check):
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
) -> list[AuditResult]:
    """Audit every partition of `table` in [since, until] that exists in the warehouse, oldest first,
    in chunks of `chunk` partitions; each chunk is ONE grouped scan and one stored run, so history
    builds up as it goes and an interruption keeps the chunks already done.
    `progress(done, total)` is called after each chunk."""
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
        parts = sorted(
            connector.partitions(spec.table, spec.partition, since, until, limit=100_000, ptype=spec.partition_type)
        )
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
        store.marks.set(spec.table, value, verdict, reason, by)
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
