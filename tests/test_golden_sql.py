"""Golden SQL, offline: the exact statements Quinto compiles for every engine, kept in tests/sql/<engine>.sql
and compared here with no server. The live-engine cases (tests/test_cases.py) prove the statements
run and give the right numbers; these files show what is sent, reviewed once, and make any change
to it visible in a diff.

One suite covers every check type: one scan (every scan check type, deduplicated) of one
partition, of several (GROUP BY partition) and of a whole table; each row-level check's failing-row
sample statement; reference checks and their samples; a custom `sql:` check; partition listing; and
the aggregates an engine may lack (percentiles, approximate counts), each alone, with the error an
engine without it gives. The engines are those of the connector registry (`quinto.engines.CONNECTORS`),
so a new engine adds only its golden file.

After a deliberate change, rewrite the files and review the diff:

    QUINTO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_sql.py

In the files, a statement is its exact text with line breaks added before its top-level clauses and
after its top-level select items (a line break stands for one space; `statement_text` undoes it);
non-printable characters are written `\\xNN`. Its bound parameters follow as JSON.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from quinto.audit import Auditor
from quinto.checks import CHECK_TYPES, ROWS, Aggregate
from quinto.checks.reference import compile_reference, compile_reference_samples
from quinto.compile import (
    DISTINCT_FORMS,
    Compiled,
    PartitionColumn,
    compile_custom_sql,
    compile_partitions,
    compile_samples,
    compile_scan,
    compile_scans,
)
from quinto.dialect import Dialect
from quinto.engines import CONNECTORS, Connector
from quinto.errors import QuintoError
from quinto.execute import union_samples
from quinto.spec import Check, TableSpec, load_project, load_suite

GOLDEN = Path(__file__).parent / "sql"
UPDATE = os.environ.get("QUINTO_UPDATE_GOLDEN", "") not in ("", "0")

#: user values that must reach the engine as bound parameters, never as SQL text
SENTINELS = ("zz-missing", "zz-valid-a", "zz-valid-b", "zz-regex", "2026-11-27", "2026-11-28", "2026-10-01")

SUITE = r"""
table: dw.fact_playback
partition: ds
checks:
  - row_count > 0
  - missing_count(account_id) = 0
  - missing_percent(country) < 5%: {missing_values: [zz-missing, '']}
  - duplicate_count(play_id) = 0
  - duplicate_percent(play_id) < 1%
  - duplicate_count(account_id, device, title) = 0
  - invalid_count(country) = 0: {valid_values: [zz-valid-a, zz-valid-b]}
  - invalid_percent(email) < 1%: {valid_regex: '^[^@]+@zz-regex$'}
  - invalid_count(duration_s) = 0: {valid_min: 0, valid_max: 86400}
  - invalid_count(device) = 0: {valid_length: 2, valid_min_length: 1, valid_max_length: 3}
  - min(duration_s) >= 0
  - max(duration_s) < 86400
  - avg(duration_s) between 60 and 7200
  - sum(revenue) > 0
  - stddev(duration_s) < 1000
  - freshness(event_ts) < 26h
  - negative_durations = 0: {metric: "count(case when duration_s < 0 then 1 end)"}
  - missing_count(select) = 0
  - duplicate_count(order, "Group") = 0
  - reference(title) in dw.dim_title(title_id)
  - reference(account_id, country) in dw.dim_account(id, country_code)
  - orphan_titles = 0:
      sql: |
        select count(*) from dw.fact_playback p
        left join dw.dim_title t on p.title = t.title_id
        where p.ds = :partition and t.title_id is null and p.note <> 'a:b'
"""

#: aggregates an engine may not have, compiled one at a time
OPTIONAL = r"""
table: dw.fact_playback
partition: ds
checks:
  - percentile(duration_s, 0.5) < 600
  - percentile(duration_s, 0.9) < 900: {approx: true}
  - duplicate_count(play_id) = 0: {approx: true}
"""

ONE = ["2026-11-27"]
SEVERAL = ["2026-11-27", "2026-11-28"]


def engines() -> dict[str, type[Connector]]:
    """One connector class per engine of the registry (several URL schemes may name one engine)."""
    found: dict[str, type[Connector]] = {}
    for cls in CONNECTORS.values():
        found.setdefault(cls.dialect.ENGINE, cls)
    return dict(sorted(found.items()))


def _tables(tmp: Path, text: str) -> TableSpec:
    (tmp / "checks").mkdir(parents=True, exist_ok=True)
    (tmp / "checks" / "t.yaml").write_text(text, encoding="utf-8")
    (tmp / "quinto.yaml").write_text("connections: {w: 'duckdb://'}\nstore: 'sqlite://'\nchecks: [checks]\n")
    suite = load_suite(load_project(tmp / "quinto.yaml"))
    return next(iter(suite.tables.values()))


def _aggregates(tmp: Path, spec: TableSpec, cls: type[Connector]) -> list[Aggregate]:
    """The aggregates the auditor scans for (a connector that never connects: nothing is run)."""
    project = load_project(tmp / "quinto.yaml")
    return Auditor(project, spec, cls(url=f"{cls.dialect.ENGINE}://"), None).aggregates()


def statements(dialect: Dialect, cls: type[Connector], tmp: Path) -> Iterator[tuple[str, Compiled | str]]:
    """(title, compiled statement or the error the engine gives) for the whole suite."""
    spec = _tables(tmp / "suite", SUITE)
    aggs = _aggregates(tmp / "suite", spec, cls)
    ds, table = PartitionColumn("ds"), spec.table
    yield from _scans("scan: one partition", compile_scans(dialect, table, ds, ONE, aggs))
    yield from _scans("scan: two partitions (GROUP BY partition)", compile_scans(dialect, table, ds, SEVERAL, aggs))
    yield from _scans("scan: a whole table", compile_scans(dialect, table, None, [], aggs))
    yield from _scans(
        "scan: a backfill's consecutive partitions (a range)",
        compile_scans(dialect, table, ds, SEVERAL, aggs, span=True),
    )
    distinct = [a for a in aggs if a.distinct_columns() is not None][:2]
    for form in DISTINCT_FORMS:  # each form of distinct counts: the engine's, and those it falls back to
        for title, parts in (("one partition", ONE), ("two partitions", SEVERAL)):
            yield from _scans(
                f"scan, distinct counts in the form '{form}': {title}",
                compile_scans(dialect, table, ds, parts, [ROWS, *distinct], form),
            )
    yield (
        "scan: two partitions of a DATE partition column",
        compile_scan(dialect, table, PartitionColumn("ds", "date"), SEVERAL, aggs[:1]),
    )
    yield (
        "scan: a backfill's consecutive partitions of a DATE partition column (a range)",
        compile_scan(dialect, table, PartitionColumn("ds", "date"), SEVERAL, aggs[:1], span=True),
    )
    samples: list[Compiled] = []
    for check in spec.checks:
        for title, compiled in _per_check(dialect, spec, check):
            if title.startswith("samples: ") and isinstance(compiled, Compiled):
                samples.append(compiled)
            yield title, compiled
    # what an audit sends when several row-level checks failed: their capped queries in one statement
    yield "samples: three failed checks in one statement (UNION ALL)", union_samples(samples[:3])
    optional = _tables(tmp / "optional", OPTIONAL)
    for check in optional.checks:
        for agg in CHECK_TYPES[check.type].aggregates(check):
            title = f"scan alone: {check.key} ({agg.kind}{', approx' if agg.param('approx') else ''})"
            try:
                yield title, compile_scan(dialect, table, ds, ONE, [agg])
            except QuintoError as exc:
                yield title, f"not available: {exc.message}"
    for ptype in ("string", "date"):
        compiled = compile_partitions(dialect, table, "ds", "2026-10-01", "2026-11-28", 1000, ptype)
        yield f"partitions: listing ({ptype}, bounded, newest first)", compiled


def _scans(title: str, compiled: list[Compiled]) -> Iterator[tuple[str, Compiled]]:
    if len(compiled) == 1:
        yield title, compiled[0]
        return
    for i, c in enumerate(compiled, 1):
        yield f"{title} (statement {i} of {len(compiled)}: {c.purpose})", c


def _per_check(dialect: Dialect, spec: TableSpec, check: Check) -> Iterator[tuple[str, Compiled]]:
    ds, table = PartitionColumn("ds"), spec.table
    if check.type == "reference":
        assert check.reference is not None
        cols = [c.name for c in check.columns]
        ref_table, ref_cols = check.reference.table, [c.name for c in check.reference.columns]
        yield f"reference: {check.key}", compile_reference(dialect, table, ds, ONE, cols, ref_table, ref_cols)
        yield (
            f"reference, two partitions: {check.key}",
            compile_reference(dialect, table, ds, SEVERAL, cols, ref_table, ref_cols),
        )
        yield (
            f"samples: {check.key}",
            compile_reference_samples(dialect, table, ds, ONE[0], cols, ref_table, ref_cols, 20),
        )
    elif check.type == "sql":
        assert check.sql is not None
        yield f"sql: {check.key}", compile_custom_sql(check.sql)
    else:
        agg = CHECK_TYPES[check.type].bad_rows(check)
        if agg is not None:
            yield f"samples: {check.key}", compile_samples(dialect, table, ds, ONE[0], agg, 20)


_CLAUSE = re.compile(r" (?=(FROM|WHERE|GROUP BY|HAVING|ORDER BY|LIMIT|LEFT JOIN|CROSS JOIN|JOIN) )")


def readable(sql: str) -> str:
    """Line breaks before the clauses and after the select items of the statement and of each
    subquery, indented by depth; each replaces one space and nothing else changes (a statement
    with line breaks of its own, a user's `sql:`, is left as written)."""
    if "\n" in sql:
        return sql
    out: list[str] = []
    stack = ["items"]  # per open parenthesis: "items" (a SELECT's list), "clauses" (after it), "other"
    quote, i = "", 0
    while i < len(sql):
        ch = sql[i]
        indent = "  " * (len(stack) - 1)
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            stack.append("items" if sql.startswith("(SELECT ", i) else "other")
        elif ch == ")":
            stack.pop()
        elif stack[-1] == "items" and sql.startswith(", ", i):
            out.append(",\n  " + indent)
            i += 2
            continue
        elif stack[-1] != "other" and ch == " " and _CLAUSE.match(sql, i) and not sql[:i].endswith(("LEFT", "CROSS")):
            stack[-1] = "clauses"
            out.append("\n" + indent)
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def statement_text(readable_sql: str) -> str:
    """The exact statement back from its readable form."""
    return re.sub(r"\n *", " ", readable_sql)


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() or c == "\n" else f"\\x{ord(c):02x}" for c in text)


def render(engine: str, cls: type[Connector], items: list[tuple[str, Compiled | str]]) -> str:
    lines = [
        f"-- Golden SQL for {engine} ({cls.__name__}, sqlglot dialect {cls.dialect.SQLGLOT}): the statements",
        "-- Quinto compiles for the suite in tests/test_golden_sql.py. Rewrite after a deliberate change with",
        "-- QUINTO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_sql.py, and review the diff.",
        "",
    ]
    for title, compiled in items:
        lines.append(f"-- {title}")
        if isinstance(compiled, str):
            lines.append(f"-- {compiled}")
        else:
            lines.append(_printable(readable(compiled.sql)) + ";")
            lines.append(f"-- params: {json.dumps(compiled.params, sort_keys=True)}")
        lines.append("")
    return "\n".join(lines)


ENGINES = engines()


@pytest.mark.parametrize("engine", list(ENGINES))
def test_golden_sql(engine: str, tmp_path: Path) -> None:
    cls = ENGINES[engine]
    items = list(statements(cls.dialect, cls, tmp_path))
    text = render(engine, cls, items)
    path = GOLDEN / f"{engine}.sql"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file for {engine}: write it with QUINTO_UPDATE_GOLDEN=1 and review it"
    want = path.read_text(encoding="utf-8")
    assert text == want, (
        f"the statements compiled for {engine} differ from {path.name}; if the change is meant, "
        "rewrite it with QUINTO_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize("engine", list(ENGINES))
def test_user_values_are_bound_never_formatted_into_sql(engine: str, tmp_path: Path) -> None:
    cls = ENGINES[engine]
    for title, compiled in statements(cls.dialect, cls, tmp_path):
        if isinstance(compiled, str) or title.startswith("sql:"):
            continue  # an engine's refusal; a user's own query is theirs
        assert statement_text(readable(compiled.sql)) == compiled.sql, title
        for value in SENTINELS:
            assert value not in compiled.sql, f"{engine} {title}: {value!r} is in the SQL text"
        bound = {str(v) for v in compiled.params.values()}
        assert bound, f"{engine} {title}: binds nothing"
    scan = dict(statements(cls.dialect, cls, tmp_path))["scan: one partition"]
    assert isinstance(scan, Compiled)
    assert {"zz-missing", "zz-valid-a", "zz-valid-b", "2026-11-27"} <= set(map(str, scan.params.values()))


def test_every_engine_of_the_registry_has_a_golden_file_and_no_file_is_stale() -> None:
    assert {"duckdb", "sqlite", "postgres", "hive", "trino", "presto"} <= set(ENGINES)
    assert sorted(p.stem for p in GOLDEN.glob("*.sql")) == sorted(ENGINES)


def test_every_engine_is_a_dialect_plus_a_connection() -> None:
    for engine, cls in ENGINES.items():
        assert type(cls.dialect) is not Dialect, f"{engine} has no dialect of its own"
        assert cls.dialect.ENGINE == engine
    with pytest.raises(TypeError, match="DISTINCT_TUPLES: SQL quirks belong to the engine's Dialect"):

        class Misplaced(Connector):  # a connection that sets a SQL quirk would be silently ignored
            DISTINCT_TUPLES = "args"
