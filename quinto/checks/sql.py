"""`sql:` a named metric from the user's own query returning one number; its own statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quinto.checks.base import CheckType, OptionReader, Params, Warehouse
from quinto.compile import Compiled, compile_custom_sql
from quinto.errors import WarehouseError
from quinto.lazy import exp, sqlglot

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check


#: what a `sql:` check's query must not contain: it writes, creates or locks (it runs read-only too)
_NOT_READ = ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Into", "Lock")


@dataclass(frozen=True)
class Query(Params):
    sql: str = ""  # one SELECT returning one number; `:partition` is bound


def query_problem(raw: Any, partition: str | None) -> str | None:
    """Why `raw` is not one SELECT of the partition under audit, or None."""
    if not isinstance(raw, str) or not raw.strip():
        return "`sql:` is a query returning one number"
    text = raw.strip().rstrip(";")
    try:
        statements = [s for s in sqlglot.parse(text.replace(":partition", "'__partition__'")) if s]
    except sqlglot.errors.ParseError as exc:
        return f"`sql:` is not a valid query: {str(exc).splitlines()[0]}"
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        return "`sql:` must be exactly one SELECT statement"
    not_read = tuple(getattr(exp, name) for name in _NOT_READ)
    writes = next((n for n in statements[0].walk() if isinstance(n, not_read)), None)
    if writes is not None:
        labels: dict[type, str] = {exp.Into: "SELECT ... INTO", exp.Lock: "FOR UPDATE/SHARE"}
        what = labels.get(type(writes), writes.key.upper())
        return f"`sql:` only reads: it must not contain {what} (e.g. in a WITH clause)"
    if partition and ":partition" not in text:
        return "`sql:` must filter on the partition under audit with `:partition`"
    return None


class CustomSql(CheckType):
    name = "sql"
    doc = (
        "A named metric from your own query returning one number, given as `sql:`; "
        "`:partition` is bound as a parameter. Runs as its own statement."
    )
    example = "orphan_titles = 0: {sql: 'select count(*) from t where ds = :partition'}"
    columns = (0, 0)
    options = frozenset({"sql"})
    kind = "query"
    selected_by = "sql"
    selector_help = "a query"
    params_type = Query

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        raw = opts.get("sql")
        problem = query_problem(raw, reader.partition)
        if problem:
            reader.err(reader.value_loc("sql"), problem)
        self.no_arguments(reader, line)
        return Query(str(raw).strip().rstrip(";") if not problem else "")

    def metric_key(self, check: Check) -> str:
        return check.key.split()[0]

    def query(self, check: Check, warehouse: Warehouse, partitions: Sequence[str]) -> dict[str, Any]:
        assert isinstance(check.params, Query)
        sql = check.params.sql
        compiled = compile_custom_sql(sql)
        values = {}
        for p in partitions:
            with warehouse.read_only():  # a write fails, where the engine can tell
                rows = warehouse.run(Compiled(compiled.sql, {"partition": p} if ":partition" in sql else {}), "sql")
            if len(rows) != 1 or len(rows[0]) != 1:
                raise WarehouseError(
                    f"`sql:` of '{check.key}' returned {len(rows)} row(s); it must return exactly one number"
                )
            value = rows[0][0]
            if isinstance(value, Decimal):
                value = float(value)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                kind = "text" if isinstance(value, str) else type(value).__name__
                raise WarehouseError(
                    f"`sql:` of '{check.key}' returned {kind} {str(value)[:80]!r}; it must return exactly one number"
                )
            values[p] = value
        return values
