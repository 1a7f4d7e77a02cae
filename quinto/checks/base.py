"""What a check type is: the base classes every module of `quinto.checks` (and every plugin) builds on.

A check type (`CheckType`) owns its options, parsed into a frozen `Params` dataclass and validated
with file:line:col; the aggregates it needs from the one scan (`Aggregate`, each of a `Measure`
that writes its SQL as sqlglot nodes, its failing-row predicate and its value over no rows); how
those become the value it judges; and, for a type that runs its own statement, that statement.

This module imports neither the parser nor the auditor: they hand a type what it needs through the
small protocols below (`OptionReader` while parsing, `Warehouse` while auditing).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from quinto.compile import Binder, Compiled, PartitionColumn, compile_samples, ident, table_node
from quinto.dialect import Dialect
from quinto.errors import Location
from quinto.lazy import exp

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check, Column

COUNT, PERCENT, VALUE, SECONDS = "count", "percent", "value", "seconds"
#: the value of a measure over no rows that only the engine knows (e.g. a custom expression)
ASK_ENGINE = object()
#: how many of the most frequent offending values an outcome keeps (what an alert names)
TOP_VALUES = 5
#: a longer text value is cut to this many characters in an outcome's top values
TOP_VALUE_CHARS = 200


@dataclass(frozen=True)
class Params:
    """A check type's own options, parsed. Each type declares a frozen subclass; the fingerprints
    of a metric's history and of a suite are derived from its fields (see `identity`)."""


def identity(value: Any) -> Any:
    """A value with every source location left out, as plain tuples: what a definition *is*, not
    where it is written. Dataclasses become (class name, (field, identity)...)."""
    if isinstance(value, Location):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple(
                (f.name, identity(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if not isinstance(getattr(value, f.name), Location)
            ),
        )
    if isinstance(value, (list, tuple)):
        return tuple(identity(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), identity(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True)
class TopValues:
    """The most frequent values of `columns` among the failing rows fetched as samples, with how
    many of those rows hold each: counts within the sample (capped by `samples:`), not the
    partition. A value of several columns is a tuple; values are as the samples hold them (JSON)."""

    columns: tuple[str, ...]
    sampled: int  # the sampled failing rows the counts are taken from
    values: tuple[tuple[Any, int], ...]  # (value, rows), most frequent first, ties by value

    def as_json(self) -> dict[str, Any]:
        """`{"columns": [...], "rows_sampled": 20, "values": [{"value": "XX", "rows": 12}, ...]}`."""
        return {
            "columns": list(self.columns),
            "rows_sampled": self.sampled,
            "values": [{"value": list(v) if isinstance(v, tuple) else v, "rows": n} for v, n in self.values],
        }


def top_values(
    samples: Sequence[Mapping[str, Any]] | None, columns: Sequence[str], limit: int = TOP_VALUES
) -> TopValues | None:
    """The `limit` most frequent values of `columns` (a tuple when several) among `samples`; None
    without samples or when they lack a column. Columns are matched as the engine named them, or
    else ignoring case (an engine may return them upper-cased)."""
    if not samples or not columns:
        return None
    names = list(samples[0])
    folded = {n.casefold(): n for n in reversed(names)}
    found = [c if c in samples[0] else folded.get(c.casefold()) for c in columns]
    keys = [k for k in found if k is not None]
    if len(keys) != len(columns):
        return None
    counts: dict[str, tuple[Any, int]] = {}
    for row in samples:
        value = row.get(keys[0]) if len(keys) == 1 else tuple(row.get(k) for k in keys)
        tag = json.dumps(value, sort_keys=True, default=str)  # a value may be a list: count by its JSON
        counts[tag] = (value, counts[tag][1] + 1 if tag in counts else 1)
    ranked = sorted(counts.values(), key=lambda vn: (-vn[1], _order(vn[0])))[:limit]
    return TopValues(tuple(columns), len(samples), tuple((_shorten(v), n) for v, n in ranked))


def _order(value: Any) -> tuple[Any, ...]:
    """A sort key for sample values of mixed types: numbers, then text, then the rest, NULL last."""
    if value is None:
        return (9, "")
    if isinstance(value, bool):
        return (2, str(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, tuple):
        return (3, tuple(_order(v) for v in value))
    return (4, json.dumps(value, sort_keys=True, default=str))


def _shorten(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_shorten(v) for v in value)
    if isinstance(value, str) and len(value) > TOP_VALUE_CHARS:
        return value[: TOP_VALUE_CHARS - 1] + "\u2026"
    return value


class Measure:
    """One kind of aggregate of the scan (`Aggregate.kind`). Subclasses register themselves by
    their `kind`, so a plugin's measure is known as soon as its module is imported."""

    kind: ClassVar[str]
    #: the measure's value for a partition with no rows (`ASK_ENGINE`: compute it over no rows)
    empty: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            MEASURES[cls.kind] = cls()

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        raise NotImplementedError

    def distinct_columns(self, agg: Aggregate) -> tuple[str, ...] | None:
        """The key columns when this is an exact distinct count, which an engine may prefer to
        compute by a hashed GROUP BY (`Dialect.DISTINCT_FORM`)."""
        return None

    def predicate(self, agg: Aggregate, b: Binder, dialect: Dialect, table: str | None = None) -> exp.Expr | None:
        """The rows this measure counts as failing (for samples), or None."""
        return None

    def samples(
        self,
        agg: Aggregate,
        b: Binder,
        dialect: Dialect,
        table: str,
        where: exp.Expr | None,
        column: PartitionColumn | None,
        partition: str,
        limit: int,
    ) -> exp.Select:
        """A capped query of failing rows: `SELECT t.* FROM table t WHERE <partition> AND <predicate>`."""
        pred = self.predicate(agg, b, dialect, "t")
        assert pred is not None
        cond = exp.and_(where, pred) if where is not None else pred
        return (
            exp.select(exp.Column(this=exp.Star(), table=ident("t")))
            .from_(table_node(table, "t"))
            .where(cond)
            .limit(limit)
        )


MEASURES: dict[str, Measure] = {}


@dataclass(frozen=True)
class Aggregate:
    """One aggregate expression of the scan. Equal aggregates are computed once per scan."""

    kind: str  # a Measure's kind: row_count, null_count, distinct_rows, ... (see MEASURES)
    columns: tuple[str, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        extra = "".join(f";{k}={v!r}" for k, v in self.params)
        return f"{self.kind}({','.join(self.columns)}{extra})"

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    @property
    def measure(self) -> Measure:
        try:
            return MEASURES[self.kind]
        except KeyError:
            raise ValueError(f"unknown aggregate {self.kind}") from None

    def sql(self, b: Binder, dialect: Dialect) -> exp.Expr:
        return self.measure.sql(self, b, dialect)

    def distinct_columns(self) -> tuple[str, ...] | None:
        return self.measure.distinct_columns(self)

    @property
    def empty(self) -> Any:
        return self.measure.empty


def pct(part: Any, whole: Any) -> float:
    whole = whole or 0
    return 0.0 if whole == 0 else 100.0 * float(part or 0) / float(whole)


class OptionReader(Protocol):
    """What the check-file parser offers a type while it parses one check."""

    location: Location  # where the check starts
    partition: str | None  # the table's partition column
    unknown_options: bool  # an option the type does not know was written (and reported)

    def err(self, loc: Location | None, message: str) -> None: ...
    def value_loc(self, key: str) -> Location: ...
    def key_loc(self, key: str) -> Location: ...
    def at(self, offset: int) -> Location: ...
    def column(self, name: str, loc: Location) -> Column: ...


class Warehouse(Protocol):
    """What the auditor offers a type that runs its own statement."""

    dialect: Dialect
    table: str
    partition_column: PartitionColumn | None

    def run(self, compiled: Compiled, purpose: str) -> list[tuple[Any, ...]]: ...
    def columns(self) -> Mapping[str, str]: ...
    def read_only(self) -> AbstractContextManager[None]: ...


class CheckType:
    """One check type. Subclasses set the class attributes and override what they need."""

    name: ClassVar[str]
    doc: ClassVar[str]
    example: ClassVar[str]
    #: what its values are: COUNT (of `noun`), PERCENT, SECONDS (a duration) or VALUE (a plain number);
    #: thresholds are checked against it, and the UI, the CLI and alerts write values in it
    unit: ClassVar[str] = VALUE
    #: what a COUNT counts, as people read it: "3,101 rows"
    noun: ClassVar[str] = "rows"
    columns: ClassVar[tuple[int, int | None]] = (1, 1)  # how many column arguments
    options: ClassVar[frozenset[str]] = frozenset()
    kind: ClassVar[str] = "scan"  # "scan": computed by the one statement; "query": its own statements
    default_condition: ClassVar[str | None] = None
    #: an option that selects this type for a check of any name (`metric:`, `sql:`), and what it is
    selected_by: ClassVar[str | None] = None
    selector_help: ClassVar[str] = ""
    params_type: ClassVar[type[Params]] = Params

    # -- parsing -------------------------------------------------------------------------------------
    def arguments(self, reader: OptionReader, line: CheckLine) -> tuple[tuple[Column, ...], dict[str, Any]]:
        """The check's columns, and what else its arguments say (handed on to `parse`)."""
        if self.selected_by is not None:  # a custom metric's name: its arguments are judged by `parse`
            self.no_reference(reader, line)
            return (), {}
        columns = self.column_args(reader, line, list(line.args or ()))
        self.no_reference(reader, line)
        return columns, {}

    def column_args(self, reader: OptionReader, line: CheckLine, args: Sequence[Any]) -> tuple[Column, ...]:
        lo, hi = self.columns
        for a in args:
            if a.is_number:
                reader.err(reader.at(a.offset), f"'{a.text}' is not a column name")
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = "no column" if hi == 0 else ("one column" if (lo, hi) == (1, 1) else "one or more columns")
            reader.err(reader.at(line.metric_offset), f"{self.name} takes {want}, got {len(args)}")
        return tuple(reader.column(a.text, reader.at(a.offset)) for a in args if not a.is_number)

    def no_reference(self, reader: OptionReader, line: CheckLine) -> None:
        if line.reference is not None:
            reader.err(reader.location, "`in table(col)` belongs to reference checks only")

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        """The type's options (`opts`: those it declares) as its `Params`; problems go to `reader.err`."""
        return self.params_type()

    def no_arguments(self, reader: OptionReader, line: CheckLine) -> None:
        if line.args is not None:
            reader.err(
                reader.at(line.metric_offset),
                f"a custom metric name takes no arguments: write `{line.metric} ...` with `{self.selected_by}:`",
            )

    def metric_key(self, check: Check) -> str:
        """The metric a check judges, e.g. `missing_count(account_id)`; checks share it."""
        args = [c.name for c in check.columns]
        return f"{self.name}({', '.join(args)})" if args else self.name

    # -- the scan ------------------------------------------------------------------------------------
    def aggregates(self, check: Check) -> list[Aggregate]:
        return []

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def judged_value(self, check: Check, aggs: Mapping[str, Any], partition: str, now: dt.datetime) -> Any:
        """The value judged for `partition`, from the scan's aggregates (e.g. a timestamp made an age)."""
        return self.value(check, aggs)

    def expression_columns(self, check: Check, dialect: Dialect) -> list[exp.Column]:
        """Columns named inside a check's SQL expression (to name unknown ones)."""
        return []

    # -- its own statements --------------------------------------------------------------------------
    def query(self, check: Check, warehouse: Warehouse, partitions: Sequence[str]) -> dict[str, Any]:
        """partition → value, for a type of kind "query"; raises WarehouseError."""
        raise NotImplementedError

    # -- failing rows --------------------------------------------------------------------------------
    def bad_rows(self, check: Check) -> Aggregate | None:
        """The aggregate whose measure describes the failing rows, or None."""
        return None

    def has_samples(self, check: Check) -> bool:
        return self.bad_rows(check) is not None

    def offending(self, check: Check, samples: Sequence[Mapping[str, Any]] | None) -> TopValues | None:
        """The values that make the sampled failing rows fail, most frequent first (e.g. the invalid
        values of the column, the repeated keys), for alerts to name; None: the type names none
        (its failing rows share no telling value). Counted from the samples, never a new query."""
        return None

    def samples(
        self,
        check: Check,
        dialect: Dialect,
        table: str,
        column: PartitionColumn | None,
        partition: str,
        limit: int,
    ) -> Compiled | None:
        """A capped query of rows failing `check` in `partition`, or None."""
        agg = self.bad_rows(check)
        return None if agg is None else compile_samples(dialect, table, column, partition, agg, limit)


class OneAggregate(CheckType):
    """A type whose value is one aggregate of the scan, `agg(check)`; with ROW_SAMPLES its measure
    also names the failing rows."""

    ROW_SAMPLES: ClassVar[bool] = False

    def agg(self, check: Check) -> Aggregate:
        raise NotImplementedError

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check)]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return aggs[self.agg(check).key]

    def bad_rows(self, check: Check) -> Aggregate | None:
        return self.agg(check) if self.ROW_SAMPLES else None
