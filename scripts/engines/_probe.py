"""Readiness probes and smoke tests for the engines started by scripts/engines/*.sh.

Run with the interpreter of a venv that has the needed client installed:

    python _probe.py hive-ready   --port 10000 [--timeout 300]
    python _probe.py hive-smoke   --port 10000
    python _probe.py trino-ready  --port 8080  [--timeout 300]
    python _probe.py trino-smoke  --port 8080
    python _probe.py presto-ready --port 8081  [--timeout 300]
    python _probe.py presto-smoke --port 8081

*-ready polls until `SELECT 1` answers (exit 0) or the timeout passes (exit 1).
*-smoke creates a schema and a partitioned Parquet table, inserts two
partitions, lists them, aggregates, and drops everything again.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

HOST = "127.0.0.1"


def _say(msg: str) -> None:
    print(f"[probe] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------- hive


def _hive_cursor(port: int, timeout_s: float | None = None):
    from pyhive import hive  # noqa: PLC0415

    conn = hive.connect(host=HOST, port=port, username="quinto")  # auth NONE (SASL PLAIN)
    return conn, conn.cursor()


def hive_ready(port: int, timeout: float, pid: int | None) -> int:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if pid is not None and not _pid_alive(pid):
            _say(f"server process {pid} died")
            return 1
        try:
            conn, cur = _hive_cursor(port)
            try:
                cur.execute("SELECT 1")
                rows = cur.fetchall()
                if rows and rows[0][0] == 1:
                    return 0
                last = f"unexpected result {rows!r}"
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(2)
    _say(f"timed out after {timeout:.0f}s; last error: {last}")
    return 1


def hive_smoke(port: int) -> int:
    conn, cur = _hive_cursor(port)
    db = f"quinto_smoke_{os.getpid()}"

    def q(sql: str):
        _say(sql)
        cur.execute(sql)
        try:
            return cur.fetchall()
        except Exception:  # noqa: BLE001 - DDL has no result set
            return None

    try:
        q(f"CREATE DATABASE IF NOT EXISTS {db}")
        q(
            f"CREATE TABLE {db}.t (id INT, amount DOUBLE, name STRING) "
            "PARTITIONED BY (ds STRING) STORED AS PARQUET"
        )
        q(f"INSERT INTO {db}.t PARTITION (ds='2024-01-01') VALUES (1, 10.5, 'a'), (2, 20.0, 'b')")
        q(f"INSERT INTO {db}.t PARTITION (ds='2024-01-02') VALUES (3, 30.0, 'c'), (4, NULL, NULL)")
        parts = sorted(r[0] for r in q(f"SHOW PARTITIONS {db}.t"))
        _say(f"partitions: {parts}")
        assert parts == ["ds=2024-01-01", "ds=2024-01-02"], parts
        rows = q(
            f"SELECT ds, COUNT(*), SUM(amount), COUNT(name) FROM {db}.t GROUP BY ds ORDER BY ds"
        )
        _say(f"aggregate: {rows}")
        assert [tuple(r) for r in rows] == [
            ("2024-01-01", 2, 30.5, 2),
            ("2024-01-02", 2, 30.0, 1),
        ], rows
    finally:
        try:
            q(f"DROP DATABASE IF EXISTS {db} CASCADE")
        finally:
            conn.close()
    _say("hive smoke test passed")
    return 0


# -------------------------------------------------------------- trino/presto


def _dbapi(kind: str, port: int, catalog: str = "memory", schema: str = "default"):
    if kind == "trino":
        import trino  # noqa: PLC0415

        return trino.dbapi.connect(
            host=HOST, port=port, user="quinto", catalog=catalog, schema=schema,
            request_timeout=60,
        )
    import prestodb  # noqa: PLC0415

    return prestodb.dbapi.connect(
        host=HOST, port=port, user="quinto", catalog=catalog, schema=schema,
        request_timeout=60,
    )


def _memory_round_trip(cur) -> bool:
    """True once a memory-connector table can be written and read back."""
    name = f"memory.default.quinto_ready_{os.getpid()}"
    try:
        cur.execute(f"CREATE TABLE {name} AS SELECT 1 AS x")
        cur.fetchall()
        cur.execute(f"SELECT count(*) FROM {name}")
        ok = cur.fetchall()[0][0] == 1
    except Exception:  # noqa: BLE001 - NO_NODES_AVAILABLE etc. while starting
        ok = False
    try:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
        cur.fetchall()
    except Exception:  # noqa: BLE001
        pass
    return ok


def sql_ready(kind: str, port: int, timeout: float, pid: int | None) -> int:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if pid is not None and not _pid_alive(pid):
            _say(f"server process {pid} died")
            return 1
        try:
            conn = _dbapi(kind, port)
            try:
                cur = conn.cursor()
                cur.execute("SELECT 1")
                rows = cur.fetchall()
                if rows and rows[0][0] == 1:
                    # a query can succeed before the coordinator has announced
                    # itself as a worker; memory-connector writes then fail
                    # with NO_NODES_AVAILABLE, so wait for an active node too
                    cur.execute("SELECT count(*) FROM system.runtime.nodes WHERE state = 'active'")
                    nodes = cur.fetchall()
                    if nodes and nodes[0][0] >= 1 and _memory_round_trip(cur):
                        return 0
                    last = "SELECT 1 works but the worker is not yet usable by the memory connector"
                else:
                    last = f"unexpected result {rows!r}"
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    _say(f"timed out after {timeout:.0f}s; last error: {last}")
    return 1


def sql_smoke(kind: str, port: int) -> int:
    conn = _dbapi(kind, port)
    cur = conn.cursor()
    schema = f"quinto_smoke_{os.getpid()}"

    def q(sql: str):
        _say(sql)
        cur.execute(sql)
        return cur.fetchall()

    # memory catalog
    q("CREATE TABLE memory.default.quinto_smoke_mem AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name)")
    try:
        rows = q("SELECT COUNT(*), MAX(name) FROM memory.default.quinto_smoke_mem")
        assert [tuple(r) for r in rows] == [(2, "b")], rows
    finally:
        q("DROP TABLE memory.default.quinto_smoke_mem")

    # hive catalog with a file metastore on local disk
    q(f"CREATE SCHEMA hive.{schema}")
    try:
        q(
            f"CREATE TABLE hive.{schema}.t (id integer, amount double, name varchar, ds varchar) "
            "WITH (partitioned_by = ARRAY['ds'], format = 'PARQUET')"
        )
        q(
            f"INSERT INTO hive.{schema}.t VALUES "
            "(1, 10.5, 'a', '2024-01-01'), (2, 20.0, 'b', '2024-01-01'), "
            "(3, 30.0, 'c', '2024-01-02'), (4, NULL, NULL, '2024-01-02')"
        )
        parts = sorted(r[0] for r in q(f'SELECT ds FROM hive.{schema}."t$partitions"'))
        _say(f"partitions: {parts}")
        assert parts == ["2024-01-01", "2024-01-02"], parts
        rows = q(
            f"SELECT ds, COUNT(*), SUM(amount), COUNT(name) FROM hive.{schema}.t GROUP BY ds ORDER BY ds"
        )
        _say(f"aggregate: {rows}")
        assert [tuple(r) for r in rows] == [
            ("2024-01-01", 2, 30.5, 2),
            ("2024-01-02", 2, 30.0, 1),
        ], rows
    finally:
        try:
            q(f"DROP TABLE IF EXISTS hive.{schema}.t")
        finally:
            q(f"DROP SCHEMA IF EXISTS hive.{schema}")
            conn.close()
    _say(f"{kind} smoke test passed")
    return 0


# -------------------------------------------------------------------- main


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument(
        "action",
        choices=["hive-ready", "hive-smoke", "trino-ready", "trino-smoke", "presto-ready", "presto-smoke"],
    )
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--pid", type=int, default=None, help="give up early if this process dies")
    a = p.parse_args(argv)
    # thrift logs every refused connection at ERROR while we poll
    logging.basicConfig(level=logging.WARNING)
    for name in ("thrift", "pyhive", "trino", "prestodb", "urllib3"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    kind, what = a.action.split("-")
    if kind == "hive":
        return hive_ready(a.port, a.timeout, a.pid) if what == "ready" else hive_smoke(a.port)
    return sql_ready(kind, a.port, a.timeout, a.pid) if what == "ready" else sql_smoke(kind, a.port)


if __name__ == "__main__":
    sys.exit(main())
