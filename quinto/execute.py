"""Running an audit's statements: the one scan per chunk of partitions (and, when the engine
refuses it because of a check, finding that check), the statements of check types that run their
own, and failing-row samples. Nothing here judges a value."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from quinto.checks import CHECK_TYPES, ROWS, Aggregate
from quinto.checks.base import ASK_ENGINE
from quinto.compile import Compiled, PartitionColumn, canonical, compile_probe, compile_scans
from quinto.dialect import Dialect
from quinto.engines import Connector
from quinto.errors import Problem, SpecError, WarehouseError, did_you_mean
from quinto.evaluate import Status
from quinto.lazy import exp
from quinto.plan import CHECK_FAULT, WAREHOUSE_FAULT, Failure, castable, fingerprint, number
from quinto.results import Run, jsonable
from quinto.spec import Check, TableSpec
from quinto.stmtcache import StatementCache

#: a failing-row sample: its check and partition
SampleKey = tuple[str, str]


class Warehouse:
    """The table under audit as a check type that runs its own statements sees it."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.dialect: Dialect = executor.connector.dialect
        self.table = executor.spec.table
        self.partition_column = executor.part_col
        self._columns: Mapping[str, str] | None = None

    def run(self, compiled: Compiled, purpose: str) -> list[tuple[Any, ...]]:
        return self.executor._run(compiled, purpose)

    def read_only(self) -> AbstractContextManager[None]:
        """Statements run inside run in a read-only transaction where the engine has one."""
        return self.executor.connector.read_only()

    def columns(self) -> Mapping[str, str]:
        """The table's columns (name → type), read once."""
        if self._columns is None:
            self._columns = self.executor.connector.columns(self.table)
        return self._columns


_DIGIT = re.compile(r"[0-9]")


def orderly(partitions: Sequence[str], column: PartitionColumn | None) -> bool:
    """Whether every engine orders these partition values as `partition_order` does, so the range
    from the first to the last holds them all: integers (bound as BIGINT), or values of one shape
    once digits are set aside (`2026-11-05`, `20261105`, `2026-11-05 07:00`), which text compares
    digit by digit in any collation. Others (`a` and `B` in a case-blind collation, `9` and `10`
    as text, timestamps written with and without seconds) are filtered by value."""
    if column is None:
        return False
    if column.type == "integer":
        return True
    return len({_DIGIT.sub("0", p) for p in partitions}) == 1


class Executor:
    """The statements of one table's audit, against one connector (a part of `quinto.audit.Auditor`)."""

    spec: TableSpec
    connector: Connector
    part_col: PartitionColumn | None
    chunk: int
    sample_rows: int
    progress: Callable[[int], None] | None
    unreachable: bool
    broken: set[str]
    culprits: dict[tuple[str, str], Failure]
    not_found: dict[str, Failure]
    listed: dict[str, bool]
    table_columns: dict[str, str] | None
    distinct_form: str | None  # the form of distinct counts, once an audit had to choose a lighter one
    forms_tried: set[str]  # the forms that ran out of the engine's memory in this audit
    spans: bool  # a chunk's partitions are consecutive in the table (a backfill's): filtered as a range
    statement_cache: StatementCache = StatementCache(None)  # the Auditor's is on disk (quinto.stmtcache)

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
        """Aggregate values of a chunk of partitions (or of the whole table), from ONE statement, or
        one per exact distinct count where the engine's dialect says so (`DISTINCT_FORM`). When the
        engine runs out of memory and a lighter form exists, the audit's scans are sent again in the
        forms the dialect names (`DISTINCT_FALLBACK`) before anything is reported as an ERROR.
        A backfill's chunk (`spans`) is filtered as the range from its first
        partition to its last where every engine orders its values as Quinto does (`orderly`); rows
        of partitions inside the range that it was not asked for are ignored, and a statement the
        range breaks (their data failing a check, or the engine's memory) is sent again by value."""
        aggs = self.scan_aggregates() if aggs is None else list(aggs)
        if not aggs:
            return {p: {} for p in chunk}
        column, dialect = self.part_col, self.connector.dialect
        form = self.distinct_form or dialect.DISTINCT_FORM
        parts = [] if column is None else list(chunk)
        span = self.spans and len(parts) > 1 and orderly(parts, column)
        statements = self._scan_statements(form, parts, aggs, span)
        try:
            results = [(compiled, self._run(compiled, compiled.purpose)) for compiled in statements]
        except WarehouseError as exc:
            if span and (exc.out_of_memory or not exc.infra):  # maybe the rows it was not asked for
                self.spans = False  # by value; stays so for this audit if the partitions asked for are the cause
                found = self.scan(chunk, aggs)
                self.spans = True
                return found
            if not exc.out_of_memory or all(a.distinct_columns() is None for a in aggs):
                raise
            self.forms_tried.add(form)
            lighter = [f for f in dialect.DISTINCT_FALLBACK if f not in self.forms_tried]
            if not lighter:
                raise
            self.distinct_form = lighter[0]  # for the rest of this audit
            return self.scan(chunk, aggs)
        by_key = {a.key: a for a in aggs}
        if not statements[0].grouped:
            one: dict[str, Any] = {}
            for compiled, rows in results:
                one.update({compiled.aliases[a]: number(v) for a, v in zip(compiled.aliases, rows[0], strict=False)})
            return {chunk[0]: one}
        out = self._by_partition(results, chunk, span)
        for found in out.values():  # a separate distinct count has no row where it counted none
            found.update({k: a.empty for k, a in by_key.items() if k not in found})
        for p in chunk:
            if p in out:
                continue
            if any(a.empty is ASK_ENGINE for a in aggs) and (self.spec.empty_partitions_allowed or self._listed(p)):
                out.update(self.scan([p], aggs))  # an empty partition: custom metrics over no rows
            else:
                out[p] = {a.key: (None if a.empty is ASK_ENGINE else a.empty) for a in aggs}
        return out

    @staticmethod
    def _by_partition(
        results: Sequence[tuple[Compiled, list[tuple[Any, ...]]]], chunk: Sequence[str], span: bool
    ) -> dict[str, dict[str, Any]]:
        """The grouped statements' rows, by the partition asked for that each row is of."""
        out: dict[str, dict[str, Any]] = {}
        asked = {canonical(p): p for p in chunk}
        for compiled, rows in results:
            for row in rows:
                part = asked.get(canonical(row[0]))
                if part is None and span:  # between the first and the last, but not asked for
                    continue
                if part is None:  # never count a partition as empty because its spelling differs
                    raise WarehouseError(
                        f"the scan returned partition {row[0]!r}, which matches none of those asked for "
                        f"({', '.join(chunk[:3])}...); declare `partition_type:` in the check file"
                    )
                values = zip(compiled.aliases, row[1:], strict=False)
                out.setdefault(part, {}).update({compiled.aliases[a]: number(v) for a, v in values})
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
        todo = [p for p in parts if self.part_col is None or castable(p, self.part_col.type)]
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
                out.update(Executor._culprits(group, error, error_of))
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
            elif not castable(p, column.type):
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
        for c in CHECK_TYPES[check.type].expression_columns(check, self.connector.dialect):
            quoted = bool(c.this.args.get("quoted")) if isinstance(c.this, exp.Identifier) else False
            name = c.name if quoted or not exact else c.name.lower()
            named.append((name, check.location, exact))
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
        """Values of the checks that run their own statements: {(check, partition): value}, and errors
        by check (each its own statement, so a broken one fails only itself). Partitions not found
        are skipped."""
        values: dict[tuple[str, str], Any] = {}
        errors: dict[str, Failure] = {}
        partitions = [p for p in partitions if p not in self.not_found]
        if not partitions:
            return values, errors
        warehouse = Warehouse(self)
        for check in self.spec.checks:
            ctype = CHECK_TYPES[check.type]
            if ctype.kind == "scan":
                continue
            try:
                found = ctype.query(check, warehouse, partitions)
            except WarehouseError as exc:
                errors[check.key] = Failure(exc.message, WAREHOUSE_FAULT if exc.infra else CHECK_FAULT)
                continue
            values.update({(check.key, p): number(v) for p, v in found.items()})
        return values, errors

    def _scan_statements(
        self, form: str, parts: list[str], aggs: Sequence[Aggregate], span: bool = False
    ) -> list[Compiled]:
        """The scan's statements in `form` (one, or one more per separate distinct count), each from
        the statement cache when it has it (keyed by its place among them)."""
        dialect, column, table = self.connector.dialect, self.part_col, self.spec.table
        key = ("scan", *self._cache_key(), form, len(parts), span, [a.key for a in aggs])
        out: list[Compiled] = []
        made: dict[tuple[str, ...], list[Compiled]] = {}  # the form's statements, compiled once per values

        while True:
            i = len(out)

            def build(values: list[str], i: int = i) -> Compiled | None:
                found = made.get(tuple(values))
                if found is None:
                    found = made[tuple(values)] = compile_scans(dialect, table, column, values, aggs, form, span)
                return found[i] if i < len(found) else Compiled("", {})  # kept too: the end of the list

            compiled = self.statement_cache.compiled((*key, i), parts, build)
            if compiled is None or not compiled.sql:
                return out
            # the cache keeps the statement, not its purpose: the first is the scan, the others its distinct counts
            out.append(dataclasses.replace(compiled, purpose="scan" if i == 0 else "distinct"))

    def _cache_key(self) -> tuple[Any, ...]:
        """What every statement of this audit is built from besides its own inputs."""
        dialect, column = self.connector.dialect, self.part_col
        kind = type(dialect)
        return (
            f"{kind.__module__}.{kind.__qualname__}",
            dialect.ENGINE,
            dialect.SQLGLOT,
            self.spec.table,
            [column.name, column.type] if column else None,
        )

    def sample_statement(self, check: Check, partition: str) -> Compiled | None:
        """The capped query of `check`'s failing rows in `partition`, or None (no samples)."""
        limit = min(check.samples, self.sample_rows) if check.samples else 0
        if limit <= 0 or partition in self.not_found:
            return None
        ctype, dialect, table, column = CHECK_TYPES[check.type], self.connector.dialect, self.spec.table, self.part_col
        return self.statement_cache.compiled(
            ("samples", *self._cache_key(), check.type, fingerprint(check), limit),
            [partition],
            lambda parts: ctype.samples(check, dialect, table, column, parts[0], limit),
        )

    def samples(self, check: Check, partition: str) -> list[dict[str, Any]] | None:
        return self.fetch_samples([(check, partition)]).get((check.key, partition))

    def fetch_samples(self, wanted: Sequence[tuple[Check, str]]) -> dict[SampleKey, list[dict[str, Any]]]:
        """Failing rows of several (check, partition)s in ONE statement: each one's capped query as
        a branch of a UNION ALL, tagged with its number. When the engine refuses the union, each
        query runs on its own; one that fails has no samples (the outcome stands without them)."""
        branches: list[tuple[SampleKey, Compiled]] = []
        for check, partition in wanted:
            compiled = self.sample_statement(check, partition)
            if compiled is not None:
                branches.append(((check.key, partition), compiled))
        if len(branches) > 1:
            union = union_samples([c for _, c in branches])
            try:
                cols, rows = self.connector.execute_with_columns(union.sql, union.params, purpose="samples")
            except WarehouseError as exc:
                if exc.unreachable:
                    return {}
            else:
                out: dict[SampleKey, list[dict[str, Any]]] = {key: [] for key, _ in branches}
                names = cols[1:]
                for row in rows:
                    key = branches[int(row[0])][0]
                    out[key].append({c: jsonable(v) for c, v in zip(names, row[1:], strict=False)})
                return out
        found: dict[SampleKey, list[dict[str, Any]]] = {}
        for key, compiled in branches:
            try:
                cols, rows = self.connector.execute_with_columns(compiled.sql, compiled.params, purpose="samples")
            except WarehouseError as exc:
                if exc.unreachable:
                    break
                continue
            found[key] = [{c: jsonable(v) for c, v in zip(cols, r, strict=False)} for r in rows]
        return found


_BIND = re.compile(r"(?<![:\w\\]):(\w+)")


def union_samples(branches: Sequence[Compiled]) -> Compiled:
    """`SELECT 0 AS quinto_sample, s0.* FROM (<query 0>) s0 UNION ALL SELECT 1, s1.* FROM (<query 1>)
    s1 ...`: every branch selects the audited table's rows (`t.*`), so the columns line up; each
    branch's binds are renamed `bN_<name>` so they stay apart. Joined as text: the branches are
    already in the engine's dialect (and may come from the statement cache)."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, compiled in enumerate(branches):
        names = set(compiled.params)

        def rename(m: re.Match[str], i: int = i, names: set[str] = names) -> str:
            return f":b{i}_{m.group(1)}" if m.group(1) in names else m.group(0)

        sql = _BIND.sub(rename, compiled.sql)
        params.update({f"b{i}_{k}": v for k, v in compiled.params.items()})
        parts.append(f"SELECT {i} AS quinto_sample, s{i}.* FROM ({sql}) s{i}")
    return Compiled(" UNION ALL ".join(parts), params)
