"""What the SQL layer knows about an engine: its dialect. A dialect is pure (no driver, no
connection, no I/O): the sqlglot dialect statements are written in and the engine's SQL quirks as
documented class attributes, each engine overriding only what differs. Each engine module in
`quinto/engines/` subclasses it next to its connection, and the compiler (`quinto.compile`)
depends on this module only, never on a connection."""

from __future__ import annotations

import re
from typing import ClassVar


class Dialect:
    """The generic dialect (PostgreSQL-like SQL); engines subclass it."""

    #: the engine's name in messages ("sqlite has no percentile aggregate").
    ENGINE: ClassVar[str] = "generic"
    #: sqlglot dialect the SQL is generated in (and custom `metric:` expressions are read in).
    SQLGLOT: ClassVar[str] = "postgres"
    #: template of an exact percentile aggregate; `:col` and `:p` are substituted as SQL nodes.
    PERCENTILE: ClassVar[str | None] = "percentile_cont(:p) within group (order by :col)"
    #: approximate percentile and distinct count, chosen by `approx: true` on a check (None: none).
    APPROX_PERCENTILE: ClassVar[str | None] = None
    APPROX_DISTINCT: ClassVar[str | None] = None
    #: how COUNT(DISTINCT ...) over several columns is written: "tuple" `(a, b)`, "args" `a, b`,
    #: or "concat" (the columns as text joined with a separator no text value contains).
    DISTINCT_TUPLES: ClassVar[str] = "tuple"
    #: the form of exact distinct counts (`duplicate_count`, ...), chosen per engine by measurement
    #: (bench/README.md): "count" COUNT(DISTINCT ...) in the one scan; "grouped" a hashed GROUP BY
    #: derived table per distinct count, joined to the scan in the same statement; "separate" the
    #: scan without them, then one hashed GROUP BY statement per distinct count.
    DISTINCT_FORM: ClassVar[str] = "count"
    #: the forms an audit whose scan ran out of the engine's memory tries next, in order, before it
    #: reports ERROR (each at most once per audit): one distinct count at a time first.
    DISTINCT_FALLBACK: ClassVar[tuple[str, ...]] = ("separate", "count")
    #: whether the engine has a regex predicate at all.
    HAS_REGEX: ClassVar[bool] = True
    #: whether a quoted identifier must match the column's case exactly ("Email" is not "email").
    CASE_SENSITIVE_IDENTIFIERS: ClassVar[bool] = True
    #: whether a text parameter compares with a column of any type (the engine casts it to the
    #: column's type), so `valid_values` and `missing_values` can be bound as text whatever YAML
    #: made of them (`[200, 404]` on a VARCHAR column, `['1', '2']` on an INTEGER one).
    TEXT_PARAMETERS_COERCE: ClassVar[bool] = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


#: the attributes above; a connection class that sets one of them is told to move it to its dialect
QUIRKS = frozenset(name for name in vars(Dialect) if name.isupper())


#: type families of `schema` checks, each a pattern of the type names engines report
TYPE_FAMILIES = (
    ("boolean", r"^bool"),
    ("integer", r"^(tiny|small|medium|big|huge|u)?int(eger)?(\d+|\b)|^long$|^short$|^byte$|^(big|small)?serial"),
    ("decimal", r"^decimal|^numeric|^number"),
    ("float", r"double|float|^real"),
    ("timestamp", r"timestamp|datetime"),
    ("date", r"^date$"),
    ("string", r"char|text|string|^uuid|^enum|^json"),
)


def type_family(type_name: str) -> str:
    """The family (integer, float, decimal, string, date, timestamp, boolean) of a column type name."""
    t = type_name.strip().lower()
    for family, pattern in TYPE_FAMILIES:
        if re.search(pattern, t):
            return family
    return t
