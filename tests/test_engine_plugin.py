"""An engine is one module: a package adds one through the `quinto.engines` entry-point group (named
after its URL scheme) and its tables are validated and audited in the one scan, with no edit to
Quinto."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_bad_input import run_quinto
from tests.warehouse import load_tables

PLUGIN = '''
from typing import ClassVar

from quinto.engines.sqlite import SQLiteConnector


class LiteFile(SQLiteConnector):
    """SQLite files under their own URL scheme: the SQL dialect and the connection are SQLite's."""

    TITLE: ClassVar[str] = "LiteFile"
    URL_EXAMPLE: ClassVar[str] = "litefile:///path.db"
'''

DAY = "2026-11-27"
CHECKS = """table: titles
partition: ds
checks:
  - row_count > 0
  - missing_count(title) = 0
"""


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "quinto_litefile").mkdir(parents=True)
    (site / "quinto_litefile" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "quinto_litefile-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: quinto-litefile\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[quinto.engines]\nlitefile = quinto_litefile:LiteFile\n\n"
        # SQLAlchemy finds the scheme's dialect the same way: SQLite's own
        "[sqlalchemy.dialects]\nlitefile = sqlalchemy.dialects.sqlite.pysqlite:SQLiteDialect_pysqlite\n",
        encoding="utf-8",
    )
    (info / "RECORD").write_text("", encoding="utf-8")
    return site


def test_a_distribution_adds_an_engine_through_its_entry_point(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    env = {"PYTHONPATH": f"{_site(tmp_path)}:{root}"}
    db = tmp_path / "wh.db"
    load_tables(
        f"sqlite:///{db}",
        {
            "titles": {
                "columns": {"id": "INTEGER", "title": "TEXT", "ds": "TEXT"},
                "rows": [(1, "Heat", DAY), (2, None, DAY), (3, "Up", DAY)],
            }
        },
    )
    project = tmp_path / "project"
    (project / "checks").mkdir(parents=True)
    (project / "checks" / "titles.yaml").write_text(CHECKS, encoding="utf-8")
    (project / "quinto.yaml").write_text(
        f"connections:\n  warehouse: litefile:///{db}\nstore: sqlite:///{tmp_path / 's.db'}\nchecks: [checks/]\n",
        encoding="utf-8",
    )

    without = run_quinto(["validate", "--no-connect"], project)
    assert without.returncode == 2 and "Traceback" not in without.stderr
    assert "unknown kind of database 'litefile'" in without.stderr, without.stderr

    checked = run_quinto(["validate"], project, env)
    assert checked.returncode == 0, checked.stderr
    assert "columns verified for 1 table(s)" in checked.stdout, checked.stdout

    audited = run_quinto(["audit", "titles", "--partition", f"ds={DAY}", "--json"], project, env)
    assert audited.returncode == 1 and "Traceback" not in audited.stderr, audited.stderr
    doc = json.loads(audited.stdout)
    by_check = {o["check"]: o for o in doc["outcomes"]}
    assert (by_check["row_count > 0"]["status"], by_check["row_count > 0"]["value"]) == ("PASS", 3.0)
    assert (by_check["missing_count(title) = 0"]["status"], by_check["missing_count(title) = 0"]["value"]) == (
        "FAIL",
        1.0,
    )
    assert [s["purpose"] for s in doc["statements"]] == ["scan", "samples"]
