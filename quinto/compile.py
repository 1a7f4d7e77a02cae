"""Aggregates → one SQL statement per scan plan, in the engine's dialect, through sqlglot.

Identifiers are sqlglot nodes (quoted per dialect); every user value is a named bind parameter
(`:qp0`, `:qp1`, ...) executed through SQLAlchemy, never text pasted into the statement.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from quinto.dialect import Dialect
from quinto.errors import Problem, SpecError
from quinto.lazy import exp, sqlglot

if TYPE_CHECKING:  # an aggregate writes its own SQL (quinto.checks); the compiler only assembles
    from sqlglot.dialects.dialect import Dialect as SqlglotDialect

    from quinto.checks.base import Aggregate

PARTITION_ALIAS = "quinto_partition"


@cache
def bind_dialect(name: str) -> SqlglotDialect:
    """The sqlglot dialect `name`, but writing placeholders as SQLAlchemy's `:name`."""
    from sqlglot.dialects.dialect import Dialect as SqlglotDialect

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
    purpose: str = "scan"  # as recorded with the statement: "distinct" for a scan's separate distinct count


class Binder:
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


def count_when(cond: exp.Expr) -> exp.Expr:
    return exp.Count(this=exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))]))


def all_not_null(cols: Sequence[str], table: str | None = None) -> exp.Expr:
    return exp.and_(*[exp.Not(this=exp.Is(this=col(c, table), expression=exp.Null())) for c in cols])


def as_text(node: exp.Expr) -> exp.Expr:
    return exp.Cast(this=node, to=exp.DataType.build("varchar"))


def value_binds(values: Sequence[Any], b: Binder, dialect: Dialect) -> list[exp.Expr]:
    """A list of user values to compare with a column; bound as text where the engine casts text to
    the column's type, so the YAML's guess (200 is a number) does not decide the comparison."""
    if dialect.TEXT_PARAMETERS_COERCE:
        return [b.bind(v if isinstance(v, str) else str(v)) for v in values]
    return [b.bind(v) for v in values]


def template(dialect: Dialect, quirk: str, **nodes: exp.Expr) -> exp.Expr:
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


def render(tree: exp.Expr, dialect: Dialect, b: Binder) -> str:
    return protect_colons(tree.sql(dialect=bind_dialect(dialect.SQLGLOT)), list(b.params))


@dataclass(frozen=True)
class PartitionColumn:
    """The partition column and the type its values are compared as. Values are always bound as
    text; a non-string type wraps the bind in a CAST, for engines that never compare text with a
    DATE or an INTEGER implicitly (Trino, Presto)."""

    name: str
    type: str = "string"  # string, date, timestamp, integer


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


_PARTITION_TYPES = {"date": "DATE", "timestamp": "TIMESTAMP", "integer": "BIGINT"}


def partition_filter(
    b: Binder,
    column: PartitionColumn | None,
    partitions: Sequence[str],
    table: str | None = None,
    span: bool = False,
) -> exp.Expr | None:
    """`column = :p` (one partition) or `column IN (:p0, :p1, ...)`: a plain comparison of the
    partition column itself, so engines prune partitions. `span`: the partitions are a run of
    consecutive ones, first to last in order, and the filter is the range `column >= :first AND
    column <= :last` (PostgreSQL plans a long IN list as index scans of a misestimated row count,
    and a range by the column's histogram); the caller ignores what else the range holds."""
    if column is None:
        return None

    def value(p: str) -> exp.Expr:
        bound = b.bind(p)
        cast = _PARTITION_TYPES.get(column.type)
        return exp.Cast(this=bound, to=exp.DataType.build(cast)) if cast else bound

    if len(partitions) == 1:
        return exp.EQ(this=col(column.name, table), expression=value(partitions[0]))
    if span:
        first = exp.GTE(this=col(column.name, table), expression=value(partitions[0]))
        return exp.and_(first, exp.LTE(this=col(column.name, table), expression=value(partitions[-1])))
    return exp.In(this=col(column.name, table), expressions=[value(p) for p in partitions])


#: the forms an exact distinct count takes (`Dialect.DISTINCT_FORM`), heaviest first
DISTINCT_FORMS = ("count", "grouped", "separate")


def compile_scan(
    dialect: Dialect,
    table: str,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    aggregates: Sequence[Aggregate],
    form: str | None = None,
    span: bool = False,
) -> Compiled:
    """ONE statement computing every aggregate; grouped by partition when several are audited.
    Exact distinct counts are COUNT(DISTINCT ...) in the scan (`form` "count") or hashed GROUP BY
    derived tables joined to it ("grouped"); the engine's dialect chooses when `form` is None.
    `span`: the partitions are consecutive, filtered as a range (`partition_filter`)."""
    form = form or dialect.DISTINCT_FORM
    b = Binder()
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
        if form != "count" and agg.distinct_columns() is not None:
            hashed[alias] = agg
            continue
        selects.append(exp.alias_(agg.sql(b, dialect), alias, quoted=True))
    if not hashed:
        query = _scan_query(selects, table, b, partition_column, partitions, grouped, span)
        return Compiled(render(query, dialect, b), b.params, aliases, grouped)
    # the scan without the distinct counts, then one hashed GROUP BY per distinct count, joined by
    # partition: still one statement, and no sort of every key
    if len(selects) == int(grouped):
        selects.append(exp.alias_(exp.Count(this=exp.Star()), "quinto_rows", quoted=True))
    sources: list[exp.Expr] = [
        exp.Subquery(
            this=_scan_query(selects, table, b, partition_column, partitions, grouped, span),
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
        derived = exp.Subquery(
            this=_distinct_query(agg, b, table, partition_column, partitions, grouped, "n", span),
            alias=exp.TableAlias(this=ident(name)),
        )
        if grouped:
            on = exp.EQ(this=col(PARTITION_ALIAS, name), expression=col(PARTITION_ALIAS, "s"))
            query = query.join(derived, on=on, join_type="left")
        else:
            query = query.join(derived, join_type="cross")
    return Compiled(render(query, dialect, b), b.params, aliases, grouped)


def compile_scans(
    dialect: Dialect,
    table: str,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    aggregates: Sequence[Aggregate],
    form: str | None = None,
    span: bool = False,
) -> list[Compiled]:
    """The statements of a scan in the distinct-count form `form` (the dialect's when None): the
    one statement of `compile_scan`, or ("separate") the scan without its exact distinct counts
    followed by one hashed GROUP BY statement per distinct count, each lighter on the engine's
    memory than the one statement. Aliases stay those of the one statement (`m0`, `m1`, ...), so
    the values merge by alias; a partition missing from a distinct count's rows has none (0)."""
    form = form or dialect.DISTINCT_FORM
    if form != "separate":
        return [compile_scan(dialect, table, partition_column, partitions, aggregates, form, span)]
    unique: dict[str, Aggregate] = {a.key: a for a in aggregates}
    grouped = partition_column is not None and len(partitions) > 1
    plain: dict[str, Aggregate] = {}
    distinct: dict[str, Aggregate] = {}
    for i, agg in enumerate(unique.values()):
        (plain if agg.distinct_columns() is None else distinct)[f"m{i}"] = agg
    out: list[Compiled] = []
    if plain or not distinct:
        b = Binder()
        selects: list[exp.Expr] = []
        if grouped:
            assert partition_column is not None
            selects.append(exp.alias_(col(partition_column.name), PARTITION_ALIAS, quoted=True))
        selects += [exp.alias_(agg.sql(b, dialect), alias, quoted=True) for alias, agg in plain.items()]
        query = _scan_query(selects, table, b, partition_column, partitions, grouped, span)
        out.append(Compiled(render(query, dialect, b), b.params, {a: g.key for a, g in plain.items()}, grouped))
    for alias, agg in distinct.items():
        b = Binder()
        query = _distinct_query(agg, b, table, partition_column, partitions, grouped, alias, span)
        out.append(Compiled(render(query, dialect, b), b.params, {alias: agg.key}, grouped, "distinct"))
    return out


def _distinct_query(
    agg: Aggregate,
    b: Binder,
    table: str,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    grouped: bool,
    alias: str,
    span: bool = False,
) -> exp.Select:
    """`SELECT [partition,] COUNT(*) AS alias FROM (SELECT [partition,] key FROM table WHERE <key
    not null> GROUP BY [partition,] key) g [GROUP BY partition]`: an exact distinct count by hashing."""
    columns = agg.distinct_columns() or ()
    part = [col(partition_column.name)] if grouped and partition_column is not None else []
    inner = exp.select(*part, *[col(c) for c in columns]).from_(table_node(table)).where(all_not_null(columns))
    where = partition_filter(b, partition_column, partitions, span=span)
    if where is not None:
        inner = inner.where(where)
    inner = inner.group_by(*part, *[col(c) for c in columns])
    counted = exp.select(*[exp.alias_(p.copy(), PARTITION_ALIAS, quoted=True) for p in part])
    counted = counted.select(exp.alias_(exp.Count(this=exp.Star()), alias, quoted=True))
    counted = counted.from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("g"))))
    if part and partition_column is not None:
        counted = counted.group_by(col(partition_column.name))
    return counted


def compile_probe(
    dialect: Dialect,
    table: str,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    aggregates: Sequence[Aggregate],
) -> Compiled:
    """The scan's aggregates over no rows (`WHERE <partition filter> AND 1 = 0`): the engine parses,
    resolves and type-checks them without reading data, so what it cannot compile is found cheaply."""
    b = Binder()
    selects: list[exp.Expr] = [
        exp.alias_(a.sql(b, dialect), f"m{i}", quoted=True) for i, a in enumerate(aggregates)
    ] or [exp.alias_(exp.Count(this=exp.Star()), "m0", quoted=True)]
    never = exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0))
    where = partition_filter(b, partition_column, partitions)
    query = exp.select(*selects).from_(table_node(table)).where(exp.and_(where, never) if where is not None else never)
    return Compiled(render(query, dialect, b), b.params, {f"m{i}": a.key for i, a in enumerate(aggregates)})


def compile_sql_probe(sql: str) -> Compiled:
    """A `sql:` check's own query over no rows: `SELECT * FROM (<query>) q WHERE 1 = 0`."""
    body = sql.strip().rstrip(";")
    return Compiled(protect_colons(f"SELECT * FROM ({body}) quinto_probe WHERE 1 = 0", ["partition"]), {})


def _scan_query(
    selects: list[exp.Expr],
    table: str,
    b: Binder,
    partition_column: PartitionColumn | None,
    partitions: Sequence[str],
    grouped: bool,
    span: bool = False,
) -> exp.Select:
    query = exp.select(*selects).from_(table_node(table))
    where = partition_filter(b, partition_column, partitions, span=span)
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
    """A capped query returning rows that fail a row-level check (the aggregate's measure writes it)."""
    b = Binder()
    where = partition_filter(b, partition_column, [partition], "t")
    query = agg.measure.samples(agg, b, dialect, table, where, partition_column, partition, limit)
    return Compiled(render(query, dialect, b), b.params)


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
    b = Binder()
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
    return Compiled(render(query, dialect, b), b.params)
