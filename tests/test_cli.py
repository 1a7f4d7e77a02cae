"""The real `quinto` command, as an ETL job runs it: exit codes 0/1/2/3, one readable error line,
--json with the exact SQL, and nothing lost when the store is down."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.test_bad_input import run_quinto
from tests.warehouse import load_tables

CHECKS = """
table: dw.plays
partition: ds
checks:
  - row_count > 0
  - missing_count(account_id) = 0
  - avg(duration_s) between 10 and 100
"""
ROWS = [[1, 10, 50, "2026-11-01"], [2, 11, 60, "2026-11-01"], [3, None, 70, "2026-11-02"]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    load_tables(
        f"duckdb:///{tmp_path / 'wh.duckdb'}",
        {
            "dw.plays": {
                "columns": {"play_id": "INTEGER", "account_id": "INTEGER", "duration_s": "INTEGER", "ds": "VARCHAR"},
                "rows": ROWS,
            }
        },
    )
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "plays.yaml").write_text(CHECKS, encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections:\n  warehouse: ${WAREHOUSE_URL}\nstore: ${STORE_URL}\nchecks: [checks/]\n", encoding="utf-8"
    )
    return tmp_path


def env(p: Path, **extra: str) -> dict[str, str]:
    return {"WAREHOUSE_URL": f"duckdb:///{p / 'wh.duckdb'}", "STORE_URL": f"sqlite:///{p / 'store.db'}", **extra}


def test_pass_is_exit_0_and_stored(project: Path) -> None:
    proc = run_quinto(["audit", "dw.plays", "--partition", "ds=2026-11-01"], project, env(project))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: publish" in proc.stdout
    rows = sqlite3.connect(project / "store.db").execute("select status, count(*) from outcomes group by 1").fetchall()
    assert rows == [("PASS", 3)]


def test_fail_is_exit_1_and_json_shows_sql(project: Path) -> None:
    proc = run_quinto(["audit", "dw.plays", "-p", "ds=2026-11-02", "--json"], project, env(project))
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "do not publish"
    fails = [o for o in doc["outcomes"] if o["status"] == "FAIL"]
    assert [o["check"] for o in fails] == ["missing_count(account_id) = 0"]
    assert fails[0]["value"] == 1 and fails[0]["threshold"] == "= 0"
    assert fails[0]["samples"] == [{"play_id": 3, "account_id": None, "duration_s": 70, "ds": "2026-11-02"}]
    scan = doc["statements"][0]
    assert scan["purpose"] == "scan" and '"dw"."plays"' in scan["sql"] and scan["params"]["qp0"] == "2026-11-02"


def test_injection_in_partition_is_refused_with_exit_2(project: Path) -> None:
    proc = run_quinto(["audit", "dw.plays", "-p", "ds=2026-11-27' OR '1'='1"], project, env(project))
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: refusing partition value") and "Traceback" not in proc.stderr
    assert not (project / "store.db").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["audit", "dw.plais", "-p", "ds=2026-11-01"],
            "Error: no checks declared for table 'dw.plais' (did you mean 'dw.plays'?)",
        ),
        (["audit", "dw.plays", "-p", "day=2026-11-01"], "Error: table dw.plays is partitioned by 'ds', not 'day'"),
        (["audit", "dw.plays"], "Error: say which partition of dw.plays to audit, e.g. --partition ds=2026-11-27"),
    ],
)
def test_usage_errors_are_exit_2(project: Path, args: list[str], message: str) -> None:
    proc = run_quinto(args, project, env(project))
    assert proc.returncode == 2 and proc.stderr.strip() == message


def test_missing_column_is_located_with_a_suggestion(project: Path) -> None:
    (project / "checks" / "plays.yaml").write_text(
        CHECKS.replace("missing_count(account_id)", "missing_count(acount_id)"), encoding="utf-8"
    )
    proc = run_quinto(["audit", "dw.plays", "-p", "ds=2026-11-01"], project, env(project))
    assert proc.returncode == 2, proc.stdout + proc.stderr  # only the broken check errs: the check file's fault
    (broken,) = [line for line in proc.stdout.splitlines() if "acount_id" in line]
    assert broken.startswith("ERROR") and (
        "column 'acount_id' is not in dw.plays (did you mean 'account_id'?) at checks/plays.yaml:6:19" in broken
    )
    assert sum(line.startswith("PASS") for line in proc.stdout.splitlines()) >= 1, proc.stdout
    proc = run_quinto(["validate", "--connect"], project, env(project))
    assert proc.returncode == 2 and "did you mean 'account_id'?" in proc.stderr


def test_unreachable_warehouse_is_exit_3_one_line(project: Path) -> None:
    proc = run_quinto(
        ["audit", "dw.plays", "-p", "ds=2026-11-01"],
        project,
        env(project, WAREHOUSE_URL="postgresql+psycopg://q@127.0.0.1:1/none"),
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: postgres at 127.0.0.1:1 (warehouse): cannot connect")


def test_dead_store_keeps_results_in_the_spool(project: Path) -> None:
    dead = env(project, STORE_URL="postgresql+psycopg://q@127.0.0.1:1/none")
    proc = run_quinto(["audit", "dw.plays", "-p", "ds=2026-11-02"], project, dead)
    assert proc.returncode == 1  # the verdict stands: do not publish
    assert "results kept in" in proc.stderr and "Traceback" not in proc.stderr
    spooled = list((project / ".quinto" / "spool").glob("run-*.json"))
    assert len(spooled) == 1
    proc = run_quinto(["audit", "dw.plays", "-p", "ds=2026-11-01"], project, env(project))
    assert proc.returncode == 0 and "replayed 1 spooled run" in proc.stderr
    rows = (
        sqlite3.connect(project / "store.db")
        .execute("select partition_value, status from outcomes where check_key like 'missing%' order by 1")
        .fetchall()
    )
    assert rows == [("2026-11-01", "PASS"), ("2026-11-02", "FAIL")]


def test_missing_env_var_is_named(project: Path) -> None:
    proc = run_quinto(["audit", "dw.plays", "-p", "ds=2026-11-01"], project, {"STORE_URL": "sqlite:///x.db"})
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "Error: environment variable WAREHOUSE_URL is not set (needed by connection 'warehouse')"
    )


def test_validate_checks_columns_when_the_warehouse_is_reachable(project: Path) -> None:
    proc = run_quinto(["validate"], project, env(project))
    assert proc.returncode == 0 and "columns verified for 1 table(s)" in proc.stdout
    proc = run_quinto(["validate"], project, {"STORE_URL": "sqlite:///x.db"})  # no WAREHOUSE_URL: parse only
    assert proc.returncode == 0 and "columns verified for 0 table(s)" in proc.stdout
    assert "note: columns of dw.plays not verified: environment variable WAREHOUSE_URL is not set" in proc.stderr
    proc = run_quinto(["validate", "--connect"], project, {"STORE_URL": "sqlite:///x.db"})
    assert proc.returncode == 2


def test_missing_duckdb_file_is_unreachable_not_a_failed_statement(project: Path) -> None:
    proc = run_quinto(
        ["audit", "dw.plays", "-p", "ds=2026-11-01", "--json"],
        project,
        env(project, WAREHOUSE_URL=f"duckdb:///{project / 'absent.duckdb'}"),
    )
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert "cannot connect" in doc["error"] and "absent.duckdb" in doc["error"]
    assert [s["purpose"] for s in doc["statements"]] == ["scan"]  # nothing else was attempted
    assert {o["status"] for o in doc["outcomes"]} == {"ERROR"}
