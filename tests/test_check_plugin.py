"""A check type is one module: a package adds one through the `quinto.checks` entry-point group, and
it is parsed from YAML (with located errors), computed inside the one scan, judged, sampled and
stored, with no edit to Quinto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quinto.spec import load_project
from quinto.workspace import open_store
from tests.test_bad_input import run_quinto
from tests.warehouse import load_tables

PLUGIN = """
from dataclasses import dataclass

from sqlglot import exp

from quinto.checks import COUNT, Aggregate, CheckType, Measure, Params
from quinto.compile import as_text, col, count_when


class Blank(Measure):
    kind = "blank_count"
    empty = 0

    def sql(self, agg, b, dialect):
        return count_when(self.predicate(agg, b, dialect))

    def predicate(self, agg, b, dialect, table=None):
        text = as_text(col(agg.columns[0], table))
        return exp.EQ(this=exp.Trim(this=text) if agg.param("trim") else text, expression=b.bind(""))


@dataclass(frozen=True)
class Trim(Params):
    trim: bool = True


class BlankCount(CheckType):
    name = "blank_count"
    doc = "Rows whose text is empty (after trimming spaces, unless `trim: false`)."
    example = "blank_count(title) = 0"
    unit = COUNT
    options = frozenset({"trim"})
    params_type = Trim

    def parse(self, reader, line, opts, args):
        trim = opts.get("trim", True)
        if not isinstance(trim, bool):
            reader.err(reader.value_loc("trim"), f"`trim:` is true or false, not {trim!r}")
            return Trim()
        return Trim(trim)

    def agg(self, check):
        return Aggregate("blank_count", (check.columns[0].name,), (("trim", check.params.trim),))

    def aggregates(self, check):
        return [self.agg(check)]

    def value(self, check, aggs):
        return aggs[self.agg(check).key]

    def bad_rows(self, check):
        return self.agg(check)
"""

DAY = "2026-11-27"
CHECKS = """table: dw.titles
partition: ds
checks:
  - row_count > 0
  - blank_count(title) = 0
  - blank_count(title) = 0: {{name: untrimmed, trim: {trim}}}
"""


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "quinto_blank").mkdir(parents=True)
    (site / "quinto_blank" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "quinto_blank-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: quinto-blank\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[quinto.checks]\nblank_count = quinto_blank:BlankCount\n")
    (info / "RECORD").write_text("", encoding="utf-8")
    return site


def test_a_distribution_adds_a_check_type_through_its_entry_point(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    env = {"PYTHONPATH": f"{_site(tmp_path)}:{root}"}
    project = tmp_path / "project"
    (project / "checks").mkdir(parents=True)
    checks = project / "checks" / "titles.yaml"
    warehouse = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    (project / "quinto.yaml").write_text(
        f"connections:\n  warehouse: {warehouse}\nstore: sqlite:///{tmp_path / 's.db'}\nchecks: [checks/]\n",
        encoding="utf-8",
    )
    rows = [(1, "Heat", DAY), (2, "  ", DAY), (3, "Up", DAY)]
    columns = {"id": "INTEGER", "title": "VARCHAR", "ds": "VARCHAR"}
    load_tables(warehouse, {"dw.titles": {"columns": columns, "rows": rows}})

    checks.write_text(CHECKS.format(trim="false"), encoding="utf-8")
    without = run_quinto(["validate", "--no-connect"], project)
    assert without.returncode == 2 and "Traceback" not in without.stderr
    assert "checks/titles.yaml:5:5: unknown check type 'blank_count'" in without.stderr

    checked = run_quinto(["validate"], project, env)
    assert checked.returncode == 0, checked.stderr

    audited = run_quinto(["audit", "dw.titles", "--partition", f"ds={DAY}", "--json"], project, env)
    assert audited.returncode == 1 and "Traceback" not in audited.stderr, audited.stderr
    doc = json.loads(audited.stdout)
    by_check = {o["check"]: o for o in doc["outcomes"]}
    trimmed, untrimmed = by_check["blank_count(title) = 0"], by_check["untrimmed"]
    assert (trimmed["status"], trimmed["value"]) == ("FAIL", 1.0)
    assert (untrimmed["status"], untrimmed["value"]) == ("PASS", 0.0)
    assert [s["id"] for s in trimmed["samples"]] == [2]
    # both options of the type are in the one scan; the only other statement fetches the samples
    purposes = [s["purpose"] for s in doc["statements"]]
    assert purposes == ["scan", "samples"], purposes
    assert doc["statements"][0]["sql"].upper().count("TRIM(") == 1

    store = open_store(load_project(project / "quinto.yaml"))
    stored = {o.check_key: o for o in store.results.current("dw.titles")}
    assert stored["blank_count(title) = 0"].check_type == "blank_count"
    assert stored["blank_count(title) = 0"].status == "FAIL"
    store.close()

    checks.write_text(CHECKS.format(trim="maybe"), encoding="utf-8")
    typo = run_quinto(["validate", "--no-connect"], project, env)
    assert typo.returncode == 2 and "Traceback" not in typo.stderr
    assert typo.stderr == "Error: checks/titles.yaml:6:53: `trim:` is true or false, not 'maybe'\n", typo.stderr
    checks.write_text(CHECKS.format(trim="false").replace("trim: false", "trimm: false"), encoding="utf-8")
    unknown = run_quinto(["validate", "--no-connect"], project, env)
    assert "checks/titles.yaml:6:47: unknown option 'trimm' for blank_count (did you mean 'trim'?)" in unknown.stderr


FILE = """table: dw.plays
partition: ds
checks:{gap}
  - missing_count(a) = 0
  - missing_count(a) < 5: {{missing_values: ["", "n/a"]}}
  - invalid_count(b) = 0: {{valid_values: [{values}]}}
  - reference(title_id) in dw.dim_title(title_id)
"""


def test_fingerprints_derive_from_the_parsed_options_not_from_where_they_are_written(tmp_path: Path) -> None:
    from quinto.plan import fingerprint, suite_fingerprint
    from quinto.spec import parse_check_file

    def parsed(name: str, gap: str, values: str) -> Any:
        (tmp_path / name).write_text(FILE.format(gap=gap, values=values), encoding="utf-8")
        return parse_check_file(tmp_path / name)

    one, moved, other = parsed("a.yaml", "", "x, y"), parsed("b.yaml", "\n\n", "x, y"), parsed("c.yaml", "", "x, z")
    fps = [fingerprint(c) for c in one.checks]
    assert len(set(fps)) == 4
    assert [fingerprint(c) for c in moved.checks] == fps and suite_fingerprint(moved) == suite_fingerprint(one)
    assert [fingerprint(c) for c in other.checks] == [fps[0], fps[1], fingerprint(other.checks[2]), fps[3]]
    assert fingerprint(other.checks[2]) != fps[2] and suite_fingerprint(other) != suite_fingerprint(one)
