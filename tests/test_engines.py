"""Each engine with a real server and a real partitioned table: partitions come from metadata
(Hive SHOW PARTITIONS, Trino/Presto "$partitions"), one partition is audited in ONE statement with
a plain predicate on the partition column, failing rows are sampled, the schema is reported, a
missing column is located, and a server that is down is a clear exit-3 error."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from quinto.app import audit, backfill
from quinto.engines import connector_for
from quinto.errors import SpecError, WarehouseError
from quinto.spec import load_project, load_suite
from quinto.validation import validate
from tests.warehouse import run_to_end

ROWS = [  # id, country, amount, ds
    (1, "US", 10.0, "2026-11-01"),
    (2, "CA", 20.0, "2026-11-01"),
    (3, "US", 30.0, "2026-11-02"),
    (3, "XX", 40.0, "2026-11-02"),
    (5, "BR", 50.0, "2026-11-03"),
]
CHECKS = """table: {table}
partition: ds
checks:
  - row_count > 0
  - duplicate_count(id) = 0
  - invalid_count(country) = 0: {{valid_values: [US, CA, BR]}}
  - avg(amount) between 0 and 100
  - schema: {{required: {{id: integer, country: string, amount: float, ds: string}}}}
"""


def create_partitioned(engine: str, url: str) -> str:
    """A table partitioned by a string `ds`, the way each engine's users store them; each statement
    is run to its end, so the partitions are committed before the test lists them."""
    from quinto.engines import CONNECTORS

    args = CONNECTORS[make_url(url).get_backend_name()].CONNECT_ARGS
    eng = sa.create_engine(url, poolclass=sa.NullPool, connect_args=args)
    values = ", ".join(f"({i}, '{c}', {a}, '{d}')" for i, c, a, d in ROWS)
    with eng.connect() as conn:
        if engine == "hive":
            run_to_end(conn, "CREATE DATABASE IF NOT EXISTS qe")
            run_to_end(conn, "DROP TABLE IF EXISTS qe.events")
            run_to_end(
                conn,
                "CREATE TABLE qe.events (id INT, country STRING, amount DOUBLE) "
                "PARTITIONED BY (ds STRING) STORED AS PARQUET",
            )
            run_to_end(conn, f"INSERT INTO qe.events PARTITION (ds) VALUES {values}")
            table = "qe.events"
        else:
            run_to_end(conn, "CREATE SCHEMA IF NOT EXISTS hive.qe")
            run_to_end(conn, "DROP TABLE IF EXISTS hive.qe.events")
            run_to_end(
                conn,
                "CREATE TABLE hive.qe.events (id INTEGER, country VARCHAR, amount DOUBLE, "
                "ds VARCHAR) WITH (partitioned_by = ARRAY['ds'], format = 'PARQUET')",
            )
            run_to_end(conn, f"INSERT INTO hive.qe.events VALUES {values}")
            table = "hive.qe.events"
    eng.dispose()
    return table


def hive_catalog(url: str) -> str:
    u = make_url(url)
    return u.set(database="hive").render_as_string(hide_password=False) if u.get_backend_name() != "hive" else url


@pytest.fixture(params=["hive", "trino", "presto"])
def server(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    engine = request.param
    url = hive_catalog(request.getfixturevalue(f"{engine}_url"))
    table = create_partitioned(engine, url)
    monkeypatch.setenv("ENGINE_URL", url)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "events.yaml").write_text(CHECKS.format(table=table), encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        f"connections: {{warehouse: '${{ENGINE_URL}}'}}\nstore: sqlite:///{tmp_path / 's.db'}\nchecks: [checks]\n",
        encoding="utf-8",
    )
    project = load_project(tmp_path / "quinto.yaml")
    return engine, url, table, project


def test_partitions_from_metadata(server) -> None:  # type: ignore[no-untyped-def]
    engine, url, table, _ = server
    connector = connector_for(url)
    assert connector.partitions(table, "ds") == ["2026-11-03", "2026-11-02", "2026-11-01"]
    assert connector.partitions(table, "ds", since="2026-11-02") == ["2026-11-03", "2026-11-02"]
    listing = connector.statements[0].sql
    assert ("SHOW PARTITIONS" in listing) if engine == "hive" else ("$partitions" in listing)
    assert {k.lower() for k in connector.columns(table)} == {"id", "country", "amount", "ds"}
    assert connector.columns(table.rsplit(".", 1)[0] + ".nope") == {}
    connector.close()


def test_partitions_of_many_tables_from_metadata(server) -> None:  # type: ignore[no-untyped-def]
    """What a sensor lists in one go: Trino and Presto read the `$partitions` of several tables in
    one statement (the same table under two names here); Hive lists one table per SHOW PARTITIONS.
    A table that cannot be listed gets its own error, the others their partitions."""
    engine, url, table, _ = server
    connector = connector_for(url)
    names = [table] if engine == "hive" else [table, table.split(".", 1)[1]]
    got = connector.list_partitions_many([(n, "ds", "string") for n in names], limit=2)
    assert got == {n: ["2026-11-03", "2026-11-02"] for n in names}
    listings = [s.sql for s in connector.statements]
    if engine == "hive":
        assert len(listings) == 1 and "SHOW PARTITIONS" in listings[0]
    else:
        assert len(listings) == 1 and listings[0].count("$partitions") == 2 and "UNION ALL" in listings[0]
    missing = table.rsplit(".", 1)[0] + ".nope"
    got = connector.list_partitions_many([(table, "ds", "string"), (missing, "ds", "string")], limit=2)
    assert got[table] == ["2026-11-03", "2026-11-02"] and isinstance(got[missing], WarehouseError)
    connector.close()


def test_a_new_partition_is_listed_at_once(server) -> None:  # type: ignore[no-untyped-def]
    """What a sensor sees: a partition committed after a listing is in the very next listing. The
    metadata listing is not served from a metastore cache (the test servers' catalogs keep none,
    as scripts/engines/README.md says), so a sensor never waits for a cache to expire."""
    engine, url, table, _ = server
    connector = connector_for(url)
    assert connector.partitions(table, "ds")[0] == "2026-11-03"
    from quinto.engines import CONNECTORS

    eng = sa.create_engine(
        url, poolclass=sa.NullPool, connect_args=CONNECTORS[make_url(url).get_backend_name()].CONNECT_ARGS
    )
    with eng.connect() as conn:
        into = f"{table} PARTITION (ds)" if engine == "hive" else table
        run_to_end(conn, f"INSERT INTO {into} VALUES (6, 'US', 60.0, '2026-11-04')")
    eng.dispose()
    assert connector.partitions(table, "ds") == ["2026-11-04", "2026-11-03", "2026-11-02", "2026-11-01"]
    connector.close()


def test_audit_is_one_statement_and_samples_failures(server) -> None:  # type: ignore[no-untyped-def]
    engine, url, table, project = server
    suite = load_suite(project)
    ok = audit(table, "ds=2026-11-01", project=project, suite=suite)
    assert [str(o.status) for o in ok.outcomes] == ["PASS"] * 5, [o.message for o in ok.outcomes]
    scans = [s for s in ok.run.statements if s["purpose"] == "scan"]
    # one partition: not grouped by partition (a distinct count's derived table groups by its key only)
    assert len(scans) == 1 and "ds" in scans[0]["sql"] and 'GROUP BY "ds"' not in scans[0]["sql"]
    bad = audit(table, "ds=2026-11-02", project=project, suite=suite)
    by = {o.check: o for o in bad.outcomes}
    assert str(by["duplicate_count(id) = 0"].status) == "FAIL" and by["duplicate_count(id) = 0"].value == 1
    assert str(by["invalid_count(country) = 0"].status) == "FAIL"
    assert [r["country"] for r in by["invalid_count(country) = 0"].samples or []] == ["XX"]
    assert len(by["duplicate_count(id) = 0"].samples or []) == 2
    assert by["avg(amount) between 0 and 100"].value == pytest.approx(35.0)
    assert bad.exit_code == 1
    # both failing checks' rows came from ONE statement (a UNION ALL of their capped queries)
    assert [s["purpose"] for s in bad.run.statements if s["purpose"] != "schema"] == ["scan", "samples"]


def test_trino_audit_sends_nothing_before_its_scan(trino_url: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """What Trino itself saw of an audit (its query history, for a user of the test's own): the scan
    and the schema check's column listing, with the values bound by EXECUTE IMMEDIATE, and no
    `EXECUTE IMMEDIATE 'SELECT 1'` probe of the client before them."""
    import uuid

    import trino.dbapi

    # the client remembers for an hour, per server, whether it probed: forget, as a new process does
    monkeypatch.setattr(trino.dbapi, "must_use_legacy_prepared_statements", trino.dbapi.TimeBoundLRUCache(8, 3600))
    url = hive_catalog(trino_url)
    table = create_partitioned("trino", url)
    user = f"quinto_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("ENGINE_URL", make_url(url).set(username=user).render_as_string(hide_password=False))
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "events.yaml").write_text(CHECKS.format(table=table), encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        f"connections: {{warehouse: '${{ENGINE_URL}}'}}\nstore: sqlite:///{tmp_path / 's.db'}\nchecks: [checks]\n",
        encoding="utf-8",
    )
    result = audit(table, "ds=2026-11-01", config=tmp_path / "quinto.yaml")
    assert result.exit_code == 0, [o.message for o in result.outcomes]
    history = connector_for(url)
    rows = history.execute(
        "SELECT query FROM system.runtime.queries WHERE \"user\" = :u ORDER BY created", {"u": user}
    )
    history.close()
    sent = [str(r[0]) for r in rows]
    assert len(sent) == len(result.run.statements), sent
    assert all(q.startswith("EXECUTE IMMEDIATE") for q in sent) and "SELECT 1'" not in " ".join(sent), sent


def test_backfill_groups_partitions(server) -> None:  # type: ignore[no-untyped-def]
    engine, url, table, project = server
    (result,) = backfill(table, "2026-11-01", project=project, suite=load_suite(project))
    assert result.run.partitions == ["2026-11-01", "2026-11-02", "2026-11-03"]
    scans = [s for s in result.run.statements if s["purpose"] == "scan"]
    assert len(scans) == 1 and "GROUP BY" in scans[0]["sql"].upper()
    rows = {o.partition: o.value for o in result.outcomes if o.check == "row_count > 0"}
    assert rows == {"2026-11-01": 2, "2026-11-02": 2, "2026-11-03": 1}


def test_missing_column_is_located(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, url, table, project = server
    (tmp_path / "checks" / "events.yaml").write_text(
        CHECKS.format(table=table).replace("avg(amount)", "avg(amuont)"), encoding="utf-8"
    )
    with pytest.raises(SpecError) as err:
        validate(config=tmp_path / "quinto.yaml", connect=True)
    assert "column 'amuont' is not in" in str(err.value) and "did you mean 'amount'?" in str(err.value)


@pytest.mark.parametrize(
    "url",
    [
        "hive://quinto@127.0.0.1:1/default",
        "trino://quinto@127.0.0.1:1/hive",
        "presto://quinto@127.0.0.1:1/hive",
        "mysql+pymysql://quinto:quinto@127.0.0.1:1/quinto",
    ],
)
def test_server_down_is_a_clear_error(url: str, tmp_path: Path) -> None:
    from quinto.errors import WarehouseError

    connector = connector_for(url)
    with pytest.raises(WarehouseError) as err:
        connector.execute("SELECT 1")
    assert err.value.exit_code == 3
    assert err.value.message.startswith(f"{connector.dialect.ENGINE} at 127.0.0.1:1 (warehouse): cannot connect")


def test_trino_errors_are_cleaned_and_explained() -> None:
    connector = connector_for("trino://quinto@127.0.0.1:1/hive")
    raw = (
        'TrinoUserError(type=USER_ERROR, name=TYPE_MISMATCH, message="line 1:71: Cannot apply operator: '
        'date = varchar(10)", query_id=20261128_070346_00283_a45ge)'
    )
    cleaned = connector.clean_error(raw)
    assert cleaned.startswith("TYPE_MISMATCH: line 1:71: Cannot apply operator: date = varchar(10)")
    assert "`partition_type:`" in cleaned
    other = connector.clean_error(
        'TrinoUserError(type=USER_ERROR, name=TABLE_NOT_FOUND, message="line 1:15: '
        "Table 'hive.qe.nope' does not exist\", query_id=x)"
    )
    assert other == "TABLE_NOT_FOUND: line 1:15: Table 'hive.qe.nope' does not exist"


def test_mysql_statement_is_killed_from_a_second_connection(mysql_url: str) -> None:
    """MySQL has no server-side limit for every statement: a statement past the timeout is stopped
    with KILL QUERY from a second connection (MariaDB stops it itself, see test_timeout.py)."""
    import threading

    from tests.test_timeout import SLOW

    connector = connector_for(mysql_url)
    with connector.engine().connect() as conn:
        dbapi_connection = conn.connection.dbapi_connection
        killer = threading.Timer(0.5, connector.kill_query, [dbapi_connection])  # type: ignore[attr-defined]
        killer.start()
        with pytest.raises(sa.exc.OperationalError) as err:
            conn.execute(sa.text(SLOW["mysql"]))
        killer.join()
    assert err.value.orig.args[0] == 1317  # "Query execution was interrupted"
    connector.close()


def test_mysql_errors_are_cleaned(mysql_url: str) -> None:
    from quinto.errors import WarehouseError

    connector = connector_for(mysql_url)
    with pytest.raises(WarehouseError) as err:
        connector.execute("SELECT x FROM quinto.no_such_table")
    assert err.value.message.endswith("statement failed: Table 'quinto.no_such_table' doesn't exist")
    assert connector.columns("quinto.no_such_table") == {}
    connector.close()


def test_presto_url_names_catalog_and_schema(presto_url: str) -> None:
    """`presto://user@host:port/catalog/schema` (pyhive's form) through presto-python-client: the
    schema is the session's, so unqualified names resolve in it."""
    connector = connector_for(presto_url.rstrip("/") + "/information_schema")
    assert ("columns",) in connector.execute("SHOW TABLES")
    connector.close()


def test_presto_url_with_password_talks_https() -> None:
    from sqlalchemy.engine import make_url

    from quinto.engines.presto import PrestoSQLAlchemyDialect

    _, args = PrestoSQLAlchemyDialect().create_connect_args(make_url("presto://alice:secret@presto.example:8443/hive/dw"))
    assert (args["host"], args["port"], args["user"]) == ("presto.example", 8443, "alice")
    assert (args["catalog"], args["schema"], args["http_scheme"]) == ("hive", "dw", "https")
    assert args["auth"] is not None
    _, plain = PrestoSQLAlchemyDialect().create_connect_args(make_url("presto://bob@127.0.0.1/memory"))
    assert (plain["port"], plain["schema"], plain["http_scheme"], "auth" in plain) == (8080, None, "http", False)


def add_empty_partition(engine: str, url: str, value: str) -> None:
    """A partition the metastore has, with no rows in it."""
    from quinto.engines import CONNECTORS

    eng = sa.create_engine(
        url, poolclass=sa.NullPool, connect_args=CONNECTORS[make_url(url).get_backend_name()].CONNECT_ARGS
    )
    with eng.connect() as conn:
        if engine == "hive":
            conn.execute(sa.text(f"ALTER TABLE qe.events ADD IF NOT EXISTS PARTITION (ds = '{value}')"))
        else:
            conn.execute(
                sa.text(f"CALL hive.system.create_empty_partition('qe', 'events', ARRAY['ds'], ARRAY['{value}'])")
            )
    eng.dispose()


def test_absent_partition_is_not_found_and_an_empty_one_stays_empty(server) -> None:  # type: ignore[no-untyped-def]
    engine, url, table, project = server
    add_empty_partition(engine, url, "2026-11-04")
    result = audit(table, ["ds=2026-11-04", "ds=2026-11-09"], project=project, suite=load_suite(project))
    got = {(o.partition, o.check): o for o in result.outcomes}
    empty = got[("2026-11-04", "row_count > 0")]
    assert empty.status.name == "FAIL" and empty.value == 0 and "NOT FOUND" not in empty.message
    assert got[("2026-11-04", "duplicate_count(id) = 0")].value == 0  # an empty partition's counts are 0
    absent = got[("2026-11-09", "row_count > 0")]
    assert absent.value is None and "partition ds=2026-11-09 NOT FOUND" in absent.message
    assert "newest present: 2026-11-04, 2026-11-03, 2026-11-02" in absent.message
    assert result.exit_code == 1


def test_broken_checks_are_found_and_listed_tables_suggested(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, url, table, project = server
    broken = CHECKS.format(table=table) + '  - big < 5: {metric: "count(case when amuont > 25 then 1 end)"}\n'
    (tmp_path / "checks" / "events.yaml").write_text(broken, encoding="utf-8")
    result = audit(table, "ds=2026-11-01", project=project, suite=load_suite(project))
    errors = [(o.check, o.fault) for o in result.outcomes if o.status.name == "ERROR"]
    assert errors == [("big < 5", "check")], [o.message for o in result.outcomes]
    assert result.exit_code == 2 and "did you mean 'amount'?" in result.outcomes[-1].message
    connector = connector_for(url)
    assert "qe" in connector.schemas() and "events" in connector.tables("qe")
    connector.close()
    (tmp_path / "checks" / "events.yaml").write_text(broken.replace(".events", ".evnts"), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        validate(config=tmp_path / "quinto.yaml", connect=True)
    assert f"(did you mean '{table}'?)" in str(err.value)
    (tmp_path / "checks" / "events.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        validate(config=tmp_path / "quinto.yaml", connect=True)
    assert "events.yaml:9:23: column 'amuont' is not in" in str(err.value), str(err.value)


def test_presto_errors_are_cleaned() -> None:
    """presto-python-client shows `PrestoUserError(type=..., name=..., message="...", query_id=...)`."""
    connector = connector_for("presto://quinto@127.0.0.1:1/hive")
    raw = (
        "PrestoUserError(type=USER_ERROR, name=SYNTAX_ERROR, "
        "message=\"line 1:8: Column 'amountt' cannot be resolved\", query_id=20261201_000000_00000_x)"
    )
    assert connector.clean_error(raw) == "SYNTAX_ERROR: line 1:8: Column 'amountt' cannot be resolved"
