"""`schema`: column presence and types, from the warehouse's metadata."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quinto.checks.base import COUNT, CheckType, OptionReader, Params, Warehouse
from quinto.dialect import type_family
from quinto.errors import did_you_mean

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check

FAMILIES = ("integer", "float", "decimal", "string", "date", "timestamp", "boolean")


@dataclass(frozen=True)
class Columns(Params):
    required: tuple[tuple[str, str | None], ...] = ()  # column → its type family (None: any type)
    forbid_unexpected: bool = False


class SchemaCheck(CheckType):
    name = "schema"
    doc = (
        "Column presence and types from the warehouse's metadata: `required:` a list of columns "
        "or a map of column to type family (integer, float, decimal, string, date, timestamp, "
        "boolean), `forbid_unexpected: true` to fail on columns not listed. The value is the "
        "number of violations."
    )
    example = "schema: {required: {play_id: string, duration_s: integer}, forbid_unexpected: false}"
    unit = COUNT
    noun = "violations"
    columns = (0, 0)
    options = frozenset({"required", "forbid_unexpected"})
    kind = "query"
    default_condition = "= 0"
    params_type = Columns

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        req = opts.get("required")
        required: list[tuple[str, str | None]] = []
        if req is None:
            reader.err(reader.location, "schema needs `required:` (a list of columns, or a map of column to type)")
        elif isinstance(req, list):
            if not all(isinstance(c, str) for c in req):
                reader.err(reader.value_loc("required"), "`required:` lists column names")
            required = [(str(c), None) for c in req]
        elif isinstance(req, Mapping):
            for col, typ in req.items():
                if typ not in FAMILIES:
                    reader.err(
                        req.value_loc(col),  # type: ignore[attr-defined]
                        f"unknown type '{typ}' for column '{col}'"
                        f"{did_you_mean(str(typ), FAMILIES)}; use one of {', '.join(FAMILIES)}",
                    )
                required.append((str(col), typ))
        else:
            reader.err(reader.value_loc("required"), "`required:` is a list of columns or a map of column to type")
        fu = opts.get("forbid_unexpected", False)
        if not isinstance(fu, bool):
            reader.err(reader.value_loc("forbid_unexpected"), "`forbid_unexpected:` is true or false")
        return Columns(tuple(required), fu is True)

    def query(self, check: Check, warehouse: Warehouse, partitions: Sequence[str]) -> dict[str, Any]:
        violations = len(problems(check, warehouse.columns()))
        return {p: violations for p in partitions}


def problems(check: Check, columns: Mapping[str, str]) -> list[str]:
    """What the table's columns (name → type) break of a schema check."""
    assert isinstance(check.params, Columns)
    lower = {c.lower(): t for c, t in columns.items()}
    out = []
    for name, family in check.params.required:
        actual = lower.get(name.lower())
        if actual is None:
            out.append(f"missing column {name}")
        elif family is not None and type_family(actual) != family:
            out.append(f"{name} is {actual} ({type_family(actual)}), expected {family}")
    if check.params.forbid_unexpected:
        known = {n.lower() for n, _ in check.params.required}
        out.extend(f"unexpected column {c}" for c in columns if c.lower() not in known)
    return out
