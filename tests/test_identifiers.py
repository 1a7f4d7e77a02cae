"""Identifiers are quoted exactly as written. On an engine where quoted names are case-sensitive
(PostgreSQL), a column written in another case is a located error with a suggestion, not an ERROR of
every check; on case-insensitive engines (DuckDB, MariaDB) it simply works."""

from __future__ import annotations

from pathlib import Path

import pytest

from quinto.app import audit
from quinto.errors import SpecError
from quinto.spec import load_project, load_suite
from quinto.validation import validate
from tests.warehouse import load_tables

CHECKS = """table: dw.crm_contacts
partition: ds
checks:
  - missing_count(email) <= 1
  - duplicate_count(Id) = 0
"""


@pytest.mark.parametrize("engine", ["duckdb", "postgres", "mysql"])
def test_column_case(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    server = "pg_url" if engine == "postgres" else "mysql_url"
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}" if engine == "duckdb" else request.getfixturevalue(server)
    load_tables(
        url,
        {
            "dw.crm_contacts": {
                "columns": {"Id": "INTEGER", "Email": "VARCHAR", "ds": "VARCHAR"},
                "rows": [[1, "a@x.com", "2026-11-19"], [2, None, "2026-11-19"]],
            }
        },
    )
    monkeypatch.setenv("CASE_URL", url)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "crm.yaml").write_text(CHECKS, encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        f"connections: {{warehouse: '${{CASE_URL}}'}}\nstore: sqlite:///{tmp_path / 's.db'}\nchecks: [checks]\n",
        encoding="utf-8",
    )
    project = load_project(tmp_path / "quinto.yaml")
    suite = load_suite(project)
    if engine != "postgres":  # DuckDB and MariaDB match column names in any case
        result = audit("dw.crm_contacts", "ds=2026-11-19", project=project, suite=suite)
        assert [str(o.status) for o in result.outcomes] == ["PASS", "PASS"]
        return
    result = audit("dw.crm_contacts", "ds=2026-11-19", project=project, suite=suite)
    (broken, dup) = result.outcomes
    assert str(broken.status) == "ERROR" and broken.fault == "check" and str(dup.status) == "PASS"
    assert broken.message.startswith(
        f"column 'email' is not in dw.crm_contacts (did you mean 'Email'?) at {tmp_path}/checks/crm.yaml:4:19; "
    )
    assert result.exit_code == 2
    with pytest.raises(SpecError) as err:
        validate(config=tmp_path / "quinto.yaml", connect=True)
    assert [str(p) for p in err.value.problems] == [
        f"{tmp_path}/checks/crm.yaml:4:19: column 'email' is not in dw.crm_contacts (did you mean 'Email'?)"
    ]


def test_materialized_views_have_columns(pg_url: str) -> None:
    import sqlalchemy as sa

    from quinto.engines import connector_for

    load_tables(pg_url, {"dw.src": {"columns": {"id": "INTEGER", "ds": "VARCHAR"}, "rows": [[1, "2026-11-01"]]}})
    engine = sa.create_engine(pg_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE MATERIALIZED VIEW dw.daily AS SELECT ds, count(*) AS n FROM dw.src GROUP BY ds"))
    engine.dispose()
    connector = connector_for(pg_url)
    assert connector.columns("dw.daily") == {"ds": "text", "n": "bigint"}
    assert connector.columns("dw.src") == {"id": "integer", "ds": "text"}
    assert connector.columns("dw.missing") == {}
    connector.close()
