"""Aggregates → one SQL statement per scan plan, in the engine's dialect, through sqlglot.

Identifiers are sqlglot nodes (quoted per dialect); every user value is a named bind parameter
(`:qp0`, `:qp1`, ...) executed through SQLAlchemy, never text pasted into the statement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect

from quinto.checks import Aggregate
from quinto.dialect import Dialect
from quinto.errors import Problem, SpecError

PARTITION_ALIAS = "quinto_partition"
_SEPARATOR = "\x1f"


@cache
def bind_dialect(name: str) -> SqlglotDialect:
    """The sqlglot dialect `name`, but writing placeholders as SQLAlchemy's `:name`."""
    base: Any = type(SqlglotDialect.get_or_raise(name))

    class Generator(base.Generator):  # type: ignore[name-defined,misc]
        TRANSFORMS = {**base.Generator.TRANSFORMS, exp.Placeholder: lambda self, e: f":{e.name}"}

    return type(f"Bind{base.__name__}", (base,), {"Generator": Generator})()


_COLON_WORD = re.compile(r"(?<![:\w\\]):(\w+)")


def protect_colons(sql: str, binds: Sequence[str]) -> str:
    """Escape `:word` that is not one of our binds, so SQLAlchemy's text() leaves it alone."""
    keep = set(binds)
    return _COLON_WORD.sub(lambda m: m.group(0) if m.group(1) in keep else "\\:" + m.group(1), sql)


@dataclass
class Compiled:
    sql: str
    params: dict[str, Any]
    aliases: dict[str, str] = field(default_factory=dict)  # result column alias → aggregate key
    grouped: bool = False


class _Binder:
    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> exp.Placeholder:
        name = f"qp{len(self.params)}"
        self.params[name] = value
        return exp.Placeholder(this=name)


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table) if table else None)


def table_node(table: str, alias: str | None = None) -> exp.Table:
    parts = table.split(".")
    node = exp.Table(
        this=ident(parts[-1]),
        db=ident(parts[-2]) if len(parts) > 1 else None,
        catalog=ident(parts[-3]) if len(parts) > 2 else None,
    )
    if alias:
        node.set("alias", exp.TableAlias(this=ident(alias)))
    return node


def _count_when(cond: exp.Expr) -> exp.Expr:
    return exp.Count(this=exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))]))


def _all_not_null(cols: Sequence[str], table: str | None = None) -> exp.Expr:
    return exp.and_(*[exp.Not(this=exp.Is(this=col(c, table), expression=exp.Null())) for c in cols])


def _as_text(node: exp.Expr) -> exp.Expr:
    return exp.Cast(this=node, to=exp.DataType.build("varchar"))


def _value_binds(values: Sequence[Any], b: _Binder, dialect: Dialect) -> list[exp.Expr]:
    """A list of user values to compare with a column; bound as text where the engine casts text to
    the column's type, so the YAML's guess (200 is a number) does not decide the comparison."""
    if dialect.TEXT_PARAMETERS_COERCE:
        return [b.bind(v if isinstance(v, str) else str(v)) for v in values]
    return [b.bind(v) for v in values]


def missing_predicate(agg: Aggregate, b: _Binder, dialect: Dialect, table: str | None = None) -> exp.Expr:
    c = col(agg.columns[0], table)
    pred: exp.Expr = exp.Is(this=c, expression=exp.Null())
    values = agg.param("missing_values")
    if values:
        pred = exp.or_(pred, exp.In(this=c, expressions=_value_binds(values, b, dialect)))
    return exp.Paren(this=pred)


def invalid_predicate(agg: Aggregate, b: _Binder, dialect: Dialect, table: str | None = None) -> exp.Expr:
    c = col(agg.columns[0], table)
    rules: list[exp.Expr] = []
    for name, value in agg.params:
        if name == "valid_values":
            rules.append(exp.In(this=c, expressions=_value_binds(value, b, dialect)))
        elif name == "valid_regex":
            if not dialect.HAS_REGEX:
                raise SpecError(
                    [Problem(None, f"{dialect.ENGINE} has no regular expressions; valid_regex cannot run there")]
                )
            rules.append(exp.RegexpLike(this=_as_text(c), expression=b.bind(value)))
        elif name == "valid_min":
            rules.append(exp.GTE(this=c, expression=b.bind(value)))
        elif name == "valid_max":
            rules.append(exp.LTE(this=c, expression=b.bind(value)))
        elif name == "valid_length":
            rules.append(exp.EQ(this=exp.Length(this=_as_text(c)), expression=b.bind(value)))
        elif name == "valid_min_length":
            rules.append(exp.GTE(this=exp.Length(this=_as_text(c)), expression=b.bind(value)))
        elif name == "valid_max_length":
            rules.append(exp.LTE(this=exp.Length(this=_as_text(c)), expression=b.bind(value)))
    valid = exp.and_(*rules)
    return exp.and_(exp.Not(this=exp.Is(this=c, expression=exp.Null())), exp.Not(this=exp.Paren(this=valid)))


def _distinct_rows(cols: Sequence[str], dialect: Dialect) -> exp.Expr:
    if len(cols) == 1:
        return exp.Count(this=exp.Distinct(expressions=[col(cols[0])]))
    if dialect.DISTINCT_TUPLES == "args":
        return exp.Count(this=exp.Distinct(expressions=[col(c) for c in cols]))
    if dialect.DISTINCT_TUPLES == "tuple":
        key: exp.Expr = exp.Tuple(expressions=[col(c) for c in cols])
    else:
        parts: list[exp.Expr] = []
        for i, c in enumerate(cols):
            if i:
                parts.append(exp.Literal.string(_SEPARATOR))
            parts.append(_as_text(col(c)))
        key = parts[0]
        for p in parts[1:]:
            key = exp.DPipe(this=key, expression=p)
    return exp.Count(this=exp.Distinct(expressions=[exp.Case(ifs=[exp.If(this=_all_not_null(cols), true=key)])]))


def aggregate_sql(agg: Aggregate, b: _Binder, dialect: Dialect) -> exp.Expr:
    k = agg.kind
    if k == "row_count":
        return exp.Count(this=exp.Star())
    if k == "null_count":
        return _count_when(missing_predicate(agg, b, dialect))
    if k == "nonnull_rows":
        return exp.Count(this=col(agg.columns[0])) if len(agg.columns) == 1 else _count_when(_all_not_null(agg.columns))
    if k == "distinct_rows":
        if agg.param("approx") and len(agg.columns) == 1:
            return _template(dialect, "APPROX_DISTINCT", col=col(agg.columns[0]))
        return _distinct_rows(agg.columns, dialect)
    if k == "invalid_count":
        return _count_when(invalid_predicate(agg, b, dialect))
    simple = {
        "min": exp.Min,
        "max": exp.Max,
        "avg": exp.Avg,
        "sum": exp.Sum,
        "stddev": exp.StddevSamp,
        "max_time": exp.Max,
    }
    if k in simple:
        return simple[k](this=col(agg.columns[0]))
    if k == "percentile":
        quirk = "APPROX_PERCENTILE" if agg.param("approx") else "PERCENTILE"
        return _template(dialect, quirk, col=col(agg.columns[0]), p=exp.Literal.number(agg.param("p")))
    if k == "expression":
        return parse_expression(agg.param("sql"), dialect)
    raise ValueError(f"unknown aggregate {k}")


def _template(dialect: Dialect, quirk: str, **nodes: exp.Expr) -> exp.Expr:
    """An engine's aggregate template (a dialect attribute) with `:name` replaced by SQL nodes."""
    template = getattr(dialect, quirk)
    if template is None:
        what = {
            "PERCENTILE": "percentile",
            "APPROX_PERCENTILE": "approximate percentile",
            "APPROX_DISTINCT": "approximate distinct count",
        }[quirk]
        raise SpecError([Problem(None, f"{dialect.ENGINE} has no {what} aggregate")])
    return exp.replace_placeholders(sqlglot.parse_one(template, read=dialect.SQLGLOT), **nodes)


def parse_expression(sql: str, dialect: Dialect) -> exp.Expr:
    """A `metric:` expression. It is written once, in portable SQL (double-quoted identifiers,
    standard functions), and translated to each engine's dialect, so a check file runs anywhere."""
    try:
        return sqlglot.parse_one(sql)
    except sqlglot.errors.ParseError as exc:
        raise SpecError([Problem(None, f"metric '{sql}' is not valid SQL: {str(exc).splitlines()[0]}")]) from None


def _render(tree: exp.Expr, dialect: Dialect, b: _Binder) -> str:
    return protect_colons(tree.sql(dialect=bind_dialect(dialect.SQLGLOT)), list(b.params))


@dataclass(frozen=True)
class PartitionColumn:
    """The partition column and the type its values are compared as. Values are always bound as
    text; a non-string type wraps the bind in a CAST, for engines that never compare text with a
    DATE or an INTEGER implicitly (Trino, Presto)."""

    name: str
    type: str = "string"  # string, date, timestamp, integer


_PARTITION_TYPES = {"date": "DATE", "timestamp": "TIMESTAMP", "integer": "BIGINT"}


def partition_filter(
    b: _Binder, column: PartitionColumn | None, partitions: Sequence[str], table: str | None = None
) -> exp.Expr | None:
    """`column = :p` (one partition) or `column IN (:p0, :p1, ...)`: a plain comparison of the
    partition column itself, so engines prune partitions."""
    if column is None:
        return None

    def value(p: str) -> exp.Expr:
        bound = b.bind(p)
        cast = _PARTITION_TYPES.get(column.type)
        return exp.Cast(this=bound, to=exp.DataType.build(cast)) if cast else bound

    if len(partitions) == 1:
        return exp.EQ(this=col(column.name, table), expression=value(partitions[0]))
    return exp.In(this=col(column.name, table), expressions=[value(p) for p in partitions])


def compile_scan(
    dialect: Dialect,
    table: str,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    aggregates: Sequence[Aggregate],
) -> Compiled:
    """ONE statement computing every aggregate; grouped by partition when several are audited."""
    b = _Binder()
    unique: dict[str, Aggregate] = {a.key: a for a in aggregates}
    aliases: dict[str, str] = {}
    grouped = partition_column is not None and len(partitions) > 1
    hashed: dict[str, Aggregate] = {}  # alias → exact distinct count computed by a GROUP BY
    selects: list[exp.Expr] = []
    if grouped:
        assert partition_column is not None
        selects.append(exp.alias_(col(partition_column.name), PARTITION_ALIAS, quoted=True))
    for i, (key, agg) in enumerate(unique.items()):
        alias = f"m{i}"
        aliases[alias] = key
        if dialect.DISTINCT_BY_GROUPING and agg.kind == "distinct_rows" and not agg.param("approx"):
            hashed[alias] = agg
            continue
        selects.append(exp.alias_(aggregate_sql(agg, b, dialect), alias, quoted=True))
    if not hashed:
        query = _scan_query(selects, table, b, partition_column, partitions, grouped)
        return Compiled(_render(query, dialect, b), b.params, aliases, grouped)
    # the scan without the distinct counts, then one hashed GROUP BY per distinct count, joined by
    # partition: still one statement, and no sort of every key
    if len(selects) == int(grouped):
        selects.append(exp.alias_(exp.Count(this=exp.Star()), "quinto_rows", quoted=True))
    sources: list[exp.Expr] = [
        exp.Subquery(
            this=_scan_query(selects, table, b, partition_column, partitions, grouped),
            alias=exp.TableAlias(this=ident("s")),
        )
    ]
    outer: list[exp.Expr] = []
    if grouped:
        outer.append(exp.alias_(col(PARTITION_ALIAS, "s"), PARTITION_ALIAS, quoted=True))
    for alias in aliases:
        if alias not in hashed:
            outer.append(exp.alias_(col(alias, "s"), alias, quoted=True))
            continue
        name = f"d_{alias}"
        count: exp.Expr = col("n", name)
        if grouped:
            count = exp.Coalesce(this=count, expressions=[exp.Literal.number(0)])
        outer.append(exp.alias_(count, alias, quoted=True))
    query = exp.select(*outer).from_(sources[0])
    for alias, agg in hashed.items():
        name = f"d_{alias}"
        keys = [col(c) for c in agg.columns]
        part = [col(partition_column.name)] if grouped and partition_column is not None else []
        inner = exp.select(*part, *keys).from_(table_node(table)).where(_all_not_null(agg.columns))
        where = partition_filter(b, partition_column, partitions)
        if where is not None:
            inner = inner.where(where)
        inner = inner.group_by(*part, *[col(c) for c in agg.columns])
        counted = exp.select(*[exp.alias_(p.copy(), PARTITION_ALIAS, quoted=True) for p in part])
        counted = counted.select(exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True))
        counted = counted.from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("g"))))
        if part:
            counted = counted.group_by(col(partition_column.name))  # type: ignore[union-attr]
        derived = exp.Subquery(this=counted, alias=exp.TableAlias(this=ident(name)))
        if grouped:
            on = exp.EQ(this=col(PARTITION_ALIAS, name), expression=col(PARTITION_ALIAS, "s"))
            query = query.join(derived, on=on, join_type="left")
        else:
            query = query.join(derived, join_type="cross")
    return Compiled(_render(query, dialect, b), b.params, aliases, grouped)


def compile_probe(
    dialect: Dialect,
    table: str,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    aggregates: Sequence[Aggregate],
) -> Compiled:
    """The scan's aggregates over no rows (`WHERE <partition filter> AND 1 = 0`): the engine parses,
    resolves and type-checks them without reading data, so what it cannot compile is found cheaply."""
    b = _Binder()
    selects: list[exp.Expr] = [
        exp.alias_(aggregate_sql(a, b, dialect), f"m{i}", quoted=True) for i, a in enumerate(aggregates)
    ] or [exp.alias_(exp.Count(this=exp.Star()), "m0", quoted=True)]
    never = exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0))
    where = partition_filter(b, partition_column, partitions)
    query = exp.select(*selects).from_(table_node(table)).where(exp.and_(where, never) if where is not None else never)
    return Compiled(_render(query, dialect, b), b.params, {f"m{i}": a.key for i, a in enumerate(aggregates)})


def compile_sql_probe(sql: str) -> Compiled:
    """A `sql:` check's own query over no rows: `SELECT * FROM (<query>) q WHERE 1 = 0`."""
    body = sql.strip().rstrip(";")
    return Compiled(protect_colons(f"SELECT * FROM ({body}) quinto_probe WHERE 1 = 0", ["partition"]), {})


def _scan_query(
    selects: list[exp.Expr],
    table: str,
    b: _Binder,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    grouped: bool,
) -> exp.Select:
    query = exp.select(*selects).from_(table_node(table))
    where = partition_filter(b, partition_column, partitions)
    if where is not None:
        query = query.where(where)
    if grouped and partition_column is not None:
        query = query.group_by(col(partition_column.name))
    return query


def compile_samples(
    dialect: Dialect,
    table: str,
    partition_column: PartitionColumn | None,
    partition: str,
    agg: Aggregate,
    limit: int,
) -> Compiled:
    """A capped query returning rows that fail a row-level check."""
    b = _Binder()
    where = partition_filter(b, partition_column, [partition], "t")
    if agg.kind == "duplicate_keys":
        cols = list(agg.columns)
        inner_where = exp.and_(
            *[w for w in (partition_filter(b, partition_column, [partition]), _all_not_null(cols)) if w is not None]
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
        query = query.order_by(*[col(c, "t") for c in cols]).limit(limit)
    else:
        pred = (
            missing_predicate(agg, b, dialect, "t")
            if agg.kind == "null_count"
            else invalid_predicate(agg, b, dialect, "t")
        )
        cond = exp.and_(where, pred) if where is not None else pred
        query = (
            exp.select(exp.Column(this=exp.Star(), table=ident("t")))
            .from_(table_node(table, "t"))
            .where(cond)
            .limit(limit)
        )
    return Compiled(_render(query, dialect, b), b.params)


def _reference_parts(
    b: _Binder,
    table: str,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    columns: Sequence[str],
    ref_table: str,
    ref_columns: Sequence[str],
) -> tuple[exp.Select, exp.Expr]:
    on = exp.and_(
        *[exp.EQ(this=col(c, "t"), expression=col(r, "r")) for c, r in zip(columns, ref_columns, strict=True)]
    )
    conds: list[exp.Expr] = [
        _all_not_null(columns, "t"),
        exp.Is(this=col(ref_columns[0], "r"), expression=exp.Null()),
    ]
    pf = partition_filter(b, partition_column, partitions, "t")
    if pf is not None:
        conds.insert(0, pf)
    base = exp.select().from_(table_node(table, "t")).join(table_node(ref_table, "r"), on=on, join_type="left")
    return base, exp.and_(*conds)


def compile_reference(
    dialect: Dialect,
    table: str,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    columns: Sequence[str],
    ref_table: str,
    ref_columns: Sequence[str],
) -> Compiled:
    b = _Binder()
    base, where = _reference_parts(b, table, partition_column, partitions, columns, ref_table, ref_columns)
    grouped = partition_column is not None and len(partitions) > 1
    selects: list[exp.Expr] = [exp.alias_(exp.Count(this=exp.Star()), "m0", quoted=True)]
    if grouped and partition_column is not None:
        selects.insert(0, exp.alias_(col(partition_column.name, "t"), PARTITION_ALIAS, quoted=True))
    query = base.select(*selects).where(where)
    if grouped and partition_column is not None:
        query = query.group_by(col(partition_column.name, "t"))
    return Compiled(_render(query, dialect, b), b.params, {"m0": "reference"}, grouped)


def compile_reference_samples(
    dialect: Dialect,
    table: str,
    partition_column: PartitionColumn | None,
    partition: str,
    columns: Sequence[str],
    ref_table: str,
    ref_columns: Sequence[str],
    limit: int,
) -> Compiled:
    b = _Binder()
    base, where = _reference_parts(b, table, partition_column, [partition], columns, ref_table, ref_columns)
    query = base.select(exp.Column(this=exp.Star(), table=ident("t"))).where(where).limit(limit)
    return Compiled(_render(query, dialect, b), b.params)


def compile_custom_sql(sql: str) -> Compiled:
    """A user's own query: only `:partition` is a bind; any other `:word` is left as written."""
    return Compiled(protect_colons(sql, ["partition"]), {})


def compile_partitions(
    dialect: Dialect,
    table: str,
    column: str,
    since: str | None,
    until: str | None,
    limit: int,
    ptype: str = "string",
) -> Compiled:
    """Distinct partition values within [since, until], newest first, bounded by `limit`."""
    b = _Binder()
    conds: list[exp.Expr] = [exp.Not(this=exp.Is(this=col(column), expression=exp.Null()))]
    cast = _PARTITION_TYPES.get(ptype)

    def bound(value: str) -> exp.Expr:
        return exp.Cast(this=b.bind(value), to=exp.DataType.build(cast)) if cast else b.bind(value)

    if since is not None:
        conds.append(exp.GTE(this=col(column), expression=bound(since)))
    if until is not None:
        conds.append(exp.LTE(this=col(column), expression=bound(until)))
    query = (
        exp.select(col(column))
        .distinct()
        .from_(table_node(table))
        .where(exp.and_(*conds))
        .order_by(exp.Ordered(this=col(column), desc=True))
        .limit(limit)
    )
    return Compiled(_render(query, dialect, b), b.params)
