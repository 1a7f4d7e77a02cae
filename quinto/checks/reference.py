"""`reference(col) in schema.table(col)`: rows whose non-NULL key has no match in another table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quinto.checks.base import COUNT, CheckType, OptionReader, Params, TopValues, Warehouse, top_values
from quinto.compile import (
    PARTITION_ALIAS,
    Binder,
    Compiled,
    PartitionColumn,
    all_not_null,
    canonical,
    col,
    ident,
    partition_filter,
    render,
    table_node,
)
from quinto.dialect import Dialect
from quinto.lazy import exp

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check, Column


def _reference_parts(
    b: Binder,
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
        all_not_null(columns, "t"),
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
    b = Binder()
    base, where = _reference_parts(b, table, partition_column, partitions, columns, ref_table, ref_columns)
    grouped = partition_column is not None and len(partitions) > 1
    selects: list[exp.Expr] = [exp.alias_(exp.Count(this=exp.Star()), "m0", quoted=True)]
    if grouped and partition_column is not None:
        selects.insert(0, exp.alias_(col(partition_column.name, "t"), PARTITION_ALIAS, quoted=True))
    query = base.select(*selects).where(where)
    if grouped and partition_column is not None:
        query = query.group_by(col(partition_column.name, "t"))
    return Compiled(render(query, dialect, b), b.params, {"m0": "reference"}, grouped)


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
    b = Binder()
    base, where = _reference_parts(b, table, partition_column, [partition], columns, ref_table, ref_columns)
    query = base.select(exp.Column(this=exp.Star(), table=ident("t"))).where(where).limit(limit)
    return Compiled(render(query, dialect, b), b.params)


@dataclass(frozen=True)
class Target(Params):
    table: str = ""  # the table referred to
    columns: tuple[Column, ...] = ()  # its columns, one per column of the check


class ReferenceCheck(CheckType):
    name = "reference"
    doc = (
        "Referential integrity: rows whose non-NULL key has no match in another table's column(s). "
        "Written `reference(col) in schema.table(col)`; passes when the count is 0 unless "
        "`warn:`/`fail:` say otherwise. Runs as its own statement."
    )
    example = "reference(title_id) in dw.dim_title(title_id)"
    unit = COUNT
    columns = (1, None)
    kind = "query"
    default_condition = "= 0"
    params_type = Target

    def arguments(self, reader: OptionReader, line: CheckLine) -> tuple[tuple[Column, ...], dict[str, Any]]:
        columns = self.column_args(reader, line, list(line.args or ()))
        if line.reference is None:
            reader.err(
                reader.at(line.metric_offset),
                "reference needs the table it refers to: `reference(col) in schema.table(col)`",
            )
            return columns, {}
        ref_table, ref_args = line.reference
        target = Target(ref_table, tuple(reader.column(a.text, reader.at(a.offset)) for a in ref_args))
        if len(ref_args) != len(columns):
            reader.err(reader.location, f"reference compares {len(columns)} column(s) with {len(ref_args)}")
        return columns, {"target": target}

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        return args.get("target") or Target()

    def metric_key(self, check: Check) -> str:
        assert isinstance(check.params, Target)
        ref = ", ".join(c.name for c in check.params.columns)
        return f"reference({', '.join(c.name for c in check.columns)}) in {check.params.table}({ref})"

    def query(self, check: Check, warehouse: Warehouse, partitions: Sequence[str]) -> dict[str, Any]:
        assert isinstance(check.params, Target)
        compiled = compile_reference(
            warehouse.dialect,
            warehouse.table,
            warehouse.partition_column,
            partitions,
            [c.name for c in check.columns],
            check.params.table,
            [c.name for c in check.params.columns],
        )
        rows = warehouse.run(compiled, "reference")
        if not compiled.grouped:
            return {partitions[0]: rows[0][0]}
        found = {canonical(r[0]): r[1] for r in rows}
        return {p: found.get(canonical(p), 0) for p in partitions}

    def has_samples(self, check: Check) -> bool:
        return True

    def offending(self, check: Check, samples: Sequence[Mapping[str, Any]] | None) -> TopValues | None:
        """The keys with no match among the sampled orphan rows (a key of several columns as a tuple)."""
        return top_values(samples, tuple(c.name for c in check.columns))

    def samples(
        self,
        check: Check,
        dialect: Dialect,
        table: str,
        column: PartitionColumn | None,
        partition: str,
        limit: int,
    ) -> Compiled | None:
        assert isinstance(check.params, Target)
        return compile_reference_samples(
            dialect,
            table,
            column,
            partition,
            [c.name for c in check.columns],
            check.params.table,
            [c.name for c in check.params.columns],
            limit,
        )
