"""Property tests (Hypothesis) of the YAML loader, the check-file grammar and quinto.yaml's settings:
whatever the text, the answer is a value or a SpecError whose every problem says file:line:col in
the file read, never another exception; a generated valid check file reads back as written.

Bounded: each property runs a fixed number of examples (derandomized, so a failure reproduces), with
no per-example deadline; the whole file takes well under a minute."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quinto.errors import SpecError
from quinto.settings import BY_NAME
from quinto.spec import load_project
from quinto.spec.checkfile import parse_check_file, parse_check_file_partially
from quinto.spec.grammar import GrammarError, parse_check_line, parse_condition
from quinto.spec.yamlfile import load_text

BOUNDED = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

#: pieces YAML and the check grammar give meaning to, so that random text often gets deep into both
FRAGMENTS = [
    "table: dw.t\n",
    "partition: ds\n",
    "checks:\n",
    "  - ",
    "row_count > 0",
    "missing_count(a) = 0",
    "invalid_percent(c) < 1%: {valid_values: [US, NO]}",
    "&a ",
    "*a",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "\n",
    "  ",
    "'",
    '"',
    "#",
    "|\n",
    ">\n",
    "!!python/object:os.system ",
    "!!str ",
    "<<: *a\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "\t",
    "\\x00",
    "\x00",
    "\x1b",
    "\ufeff",
    "\u2028",
    "\x85",
    "1e999",
    ".inf",
    "-.nan",
    "yes",
    "NO",
    "on",
    "~",
    "null",
    "0x1F",
    "0o17",
    "1:20",
    "2026-11-27",
    "between 1 and 2",
    "change vs previous day",
    "anomaly: {window: 5}",
    "reference(a) in dw.d(a)",
    "schedule: {cron: '0 6 * * *', timezone: Mars/Base}",
    "on: new_partition",
    "severity: warn",
    "(",
    ")",
    ",",
    "%",
    "=",
    "<",
    ">=",
    "!=",
    "owners: [a@b.c]",
]
yamlish = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=40).map("".join)
any_text = st.text(max_size=300) | yamlish


def assert_located(exc: SpecError, file: str, text: str) -> None:
    lines = text.count("\n") + text.count("\r") + 2
    assert exc.problems
    for problem in exc.problems:
        assert problem.location is not None, problem
        assert problem.location.file == file, problem
        assert 1 <= problem.location.line <= lines and problem.location.col >= 1, problem


@BOUNDED
@given(any_text)
def test_yaml_loader_answers_a_value_or_a_located_problem(text: str) -> None:
    try:
        load_text(text, "f.yaml")
    except SpecError as exc:
        assert_located(exc, "f.yaml", text)


@BOUNDED
@given(st.binary(max_size=200) | yamlish.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_check_file_answers_a_spec_or_located_problems(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.yaml"
        path.write_bytes(data)
        try:
            _, problems = parse_check_file_partially(path, "t.yaml")
        except SpecError as exc:
            problems = list(exc.problems)
        text = data.decode("utf-8", "replace")
        for problem in problems:
            assert_located(SpecError([problem]), "t.yaml", text)


@BOUNDED
@given(st.text(max_size=80) | st.lists(st.sampled_from(FRAGMENTS[4:]), max_size=12).map(" ".join))
def test_grammar_answers_a_check_line_or_a_grammar_error(text: str) -> None:
    for parse in (parse_check_line, parse_condition):
        try:
            parse(text)
        except GrammarError as exc:
            assert 0 <= exc.offset <= len(text)


names = st.text(string.ascii_lowercase, min_size=1, max_size=6).map(lambda s: "c_" + s)
numbers = st.integers(0, 10**12) | st.floats(0, 1e12, allow_nan=False, allow_infinity=False).map(lambda f: round(f, 3))


@st.composite
def check_lines(draw: st.DrawFn) -> tuple[str, str]:
    """A check line that must parse, and its expected (key, type)."""
    column, n = draw(names), draw(numbers)
    form = draw(st.sampled_from(["row_count", "missing_count", "duplicate_count", "avg", "max", "missing_percent"]))
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "!="]))
    if form == "row_count":
        line = f"row_count {op} {n}"
    elif form == "missing_percent":
        line = f"missing_percent({column}) {op} {min(float(n), 100.0):g}%"
    else:
        line = f"{form}({column}) {op} {n}"
    return line, form


@BOUNDED
@given(
    table=st.tuples(names, names).map(".".join),
    partition=st.none() | names,
    checks=st.lists(check_lines(), min_size=1, max_size=8, unique_by=lambda c: c[0]),
    owners=st.lists(st.emails(), max_size=2),
)
def test_a_generated_check_file_reads_back_as_written(
    table: str, partition: str | None, checks: list[tuple[str, str]], owners: list[str]
) -> None:
    doc: dict[str, object] = {"table": table, "checks": [line for line, _ in checks]}
    if partition:
        doc["partition"] = partition
    if owners:
        doc["owners"] = owners
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        spec = parse_check_file(path, "t.yaml")
    assert (spec.table, spec.partition, list(spec.owners)) == (table, partition, owners)
    assert [(c.key, c.type) for c in spec.checks] == [(" ".join(line.split()), kind) for line, kind in checks]
    for check, (line, _) in zip(spec.checks, checks, strict=True):
        assert check.condition is not None and check.condition.holds(check.condition.values[0].number) == (
            check.condition.op in ("<=", ">=", "=")
        ), line


setting_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@BOUNDED
@given(
    st.dictionaries(
        st.sampled_from([*BY_NAME, "connections", "smtp", "slack", "webhook", "alerts", "stor", "x"]),
        setting_values,
        max_size=6,
    )
)
def test_settings_answer_a_project_or_located_problems(doc: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "quinto.yaml"
        text = yaml.safe_dump(doc, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        try:
            load_project(path)
        except SpecError as exc:
            problems = [p for p in exc.problems if p.location is not None]
            if problems:
                assert_located(SpecError(problems), str(path), text)
            unlocated = [p for p in exc.problems if p.location is None]
            assert all("environment variable" in p.message or "no such" in p.message for p in unlocated), unlocated
