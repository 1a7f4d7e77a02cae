"""`duplicate_count` and `duplicate_percent`: rows whose key repeats an earlier row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quinto.checks.base import (
    COUNT,
    PERCENT,
    Aggregate,
    CheckType,
    Measure,
    OptionReader,
    Params,
    TopValues,
    pct,
    top_values,
)
from quinto.checks.rows import ROWS
from quinto.compile import (
    Binder,
    PartitionColumn,
    all_not_null,
    as_text,
    col,
    count_when,
    ident,
    partition_filter,
    table_node,
    template,
)
from quinto.dialect import Dialect
from quinto.lazy import exp

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check

#: joins the columns of a key written as text ("concat" engines); no text value contains it
SEPARATOR = "\x1f"


class NonNullRows(Measure):
    kind = "nonnull_rows"
    empty = 0

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        if len(agg.columns) == 1:
            return exp.Count(this=col(agg.columns[0]))
        return count_when(all_not_null(agg.columns))


class DistinctRows(Measure):
    kind = "distinct_rows"
    empty = 0

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        cols = agg.columns
        if agg.param("approx") and len(cols) == 1:
            return template(dialect, "APPROX_DISTINCT", col=col(cols[0]))
        if len(cols) == 1:
            return exp.Count(this=exp.Distinct(expressions=[col(cols[0])]))
        if dialect.DISTINCT_TUPLES == "args":
            return exp.Count(this=exp.Distinct(expressions=[col(c) for c in cols]))
        key = exp.Tuple(expressions=[col(c) for c in cols]) if dialect.DISTINCT_TUPLES == "tuple" else _text_key(cols)
        return exp.Count(this=exp.Distinct(expressions=[exp.Case(ifs=[exp.If(this=all_not_null(cols), true=key)])]))

    def distinct_columns(self, agg: Aggregate) -> tuple[str, ...] | None:
        return None if agg.param("approx") else agg.columns


def _text_key(cols: Sequence[str]) -> exp.Expr:
    parts: list[exp.Expr] = []
    for i, c in enumerate(cols):
        if i:
            parts.append(exp.Literal.string(SEPARATOR))
        parts.append(as_text(col(c)))
    key = parts[0]
    for p in parts[1:]:
        key = exp.DPipe(this=key, expression=p)
    return key


class DuplicateKeys(Measure):
    """Rows of repeated keys; only ever asked for samples."""

    kind = "duplicate_keys"

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
        cols = list(agg.columns)
        inner_where = exp.and_(
            *[w for w in (partition_filter(b, column, [partition]), all_not_null(cols)) if w is not None]
        )
        dup = (
            exp.select(*[col(c) for c in cols])
            .from_(table_node(table))
            .where(inner_where)
            .group_by(*[col(c) for c in cols])
            .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
            .limit(limit)
        )
        on = exp.and_(*[exp.EQ(this=col(c, "t"), expression=col(c, "d")) for c in cols])
        query = (
            exp.select(exp.Column(this=exp.Star(), table=ident("t")))
            .from_(table_node(table, "t"))
            .join(exp.Subquery(this=dup, alias=exp.TableAlias(this=ident("d"))), on=on)
        )
        if where is not None:
            query = query.where(where)
        return query.order_by(*[col(c, "t") for c in cols]).limit(limit)


@dataclass(frozen=True)
class Approx(Params):
    approx: bool = False  # the engine's approximate function


def parse_approx(reader: OptionReader, opts: Mapping[str, Any]) -> bool:
    approx = opts.get("approx")
    if approx is not None and not isinstance(approx, bool):
        reader.err(reader.value_loc("approx"), f"`approx:` is true or false, not {approx!r}")
        return False
    return bool(approx)


class DuplicateCount(CheckType):
    name = "duplicate_count"
    doc = (
        "Rows whose key (one or more columns, all non-NULL) repeats an earlier row: "
        "non-NULL key rows minus distinct keys."
    )
    example = "duplicate_count(play_id) = 0"
    unit = COUNT
    columns = (1, None)
    options = frozenset({"approx"})
    params_type = Approx

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        return Approx(parse_approx(reader, opts))

    def aggs(self, check: Check) -> tuple[Aggregate, Aggregate]:
        assert isinstance(check.params, Approx)
        cols = tuple(c.name for c in check.columns)
        approx = (("approx", True),) if check.params.approx else ()
        return Aggregate("nonnull_rows", cols), Aggregate("distinct_rows", cols, approx)

    def aggregates(self, check: Check) -> list[Aggregate]:
        return list(self.aggs(check))

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        rows, distinct = self.aggs(check)
        # an approximate distinct count may exceed the row count; a count of duplicates never is negative
        return max(0, int(aggs[rows.key] or 0) - int(aggs[distinct.key] or 0))

    def bad_rows(self, check: Check) -> Aggregate | None:
        return Aggregate("duplicate_keys", tuple(c.name for c in check.columns))

    def offending(self, check: Check, samples: Sequence[Mapping[str, Any]] | None) -> TopValues | None:
        """The repeated keys among the sampled rows of repeated keys (a key of several columns as a
        tuple), with how many of those rows hold each."""
        return top_values(samples, tuple(c.name for c in check.columns))


class DuplicatePercent(DuplicateCount):
    name = "duplicate_percent"
    doc = "Duplicate rows (as in duplicate_count) as a percentage of all rows."
    example = "duplicate_percent(user_id, device) < 0.5%"
    unit = PERCENT

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [*self.aggs(check), ROWS]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return pct(super().value(check, aggs), aggs[ROWS.key])
