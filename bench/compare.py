"""Benchmark: Quinto against Great Expectations, Soda Core and a hand-written scan.

Builds `bench.events` (default 10 M rows, 10 daily partitions of 1 M, with known defects; see
bench/peers/data.py) in DuckDB and PostgreSQL (and, when asked, Trino and the Spark Thrift Server),
then runs the same 12-check suite with four tools,
each as its own process (GX and Soda from their own virtual environments, see bench/peers/venvs.py):

  quinto  `quinto audit` / `quinto backfill` with bench/peers/quinto/*/events.yaml
  gx      Great Expectations 1.x, bench/peers/run_gx.py (SQL datasource, computed in the database)
  soda    Soda Core 3.x, bench/peers/run_soda.py with bench/peers/soda_checks.yml
  hand    one hand-written statement through the raw driver, bench/peers/run_hand.py (the floor)
  hand-hashed  the same statement with its two duplicate counts as hashed GROUP BYs joined to the
          scan (the form Quinto uses on DuckDB and PostgreSQL): the floor for that form

Scenarios: `partition` (the newest partition), `table` (the whole table), `backfill` (all 10
partitions: one `quinto backfill`, one grouped hand-written statement, 10 runs of each peer).
For each tool × scenario × engine: wall time and peak RSS of the whole process(es) (median of
--runs, tools interleaved and rotated), and the statements sent, from the database's own log
(bench/peers/statements.py). Every run's pass/fail verdicts must agree with the hand-written scan's;
the script fails otherwise.

    python bench/compare.py [--rows 10000000] [--runs 5] [--engines duckdb,postgres,trino,spark]
                            [--tools quinto,hand,gx,soda] [--scenarios partition,table,backfill]
                            [--pg-url URL] [--work DIR] [--json]

Without --pg-url, a throw-away PostgreSQL for the bench is started with scripts/pg.sh on port
54339 (data in /tmp/quinto-bench-pg), logging statements with the database name in each line.

`trino` and `spark` run on servers the bench starts for itself with scripts/engines/trino.sh and
spark-thrift.sh (never the shared ones the tests use): ports --trino-port (18480) and --spark-port
(10480), state (metastore, warehouse, logs) in --engines-state/rows-N (default
/tmp/quinto-bench-engines/rows-N), so the data of each size is loaded once and kept. Trino: Hive
connector, ORC table partitioned by ds; Spark: Parquet table partitioned by ds, event log on. Both
are stopped at the end unless --keep-engines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.peers import venvs  # noqa: E402
from bench.peers.bytecode import as_installed  # noqa: E402
from bench.peers.data import (  # noqa: E402
    EVENTS_SPARK,
    PARTITIONS,
    build_duckdb,
    build_postgres,
    build_spark,
    build_trino,
    generate_jvm_sql,
    generate_sql,
)
from bench.peers.statements import (  # noqa: E402
    METER_USER,
    TOOL_USER,
    Count,
    PostgresLog,
    SparkEventLog,
    TrinoHistory,
    count_duckdb_logs,
)
from bench.peers.suite import CHECKS, WHOLE  # noqa: E402

PEERS = HERE / "peers"
TOOLS = ["quinto", "hand", "hand-hashed", "gx", "soda"]
SCENARIOS = ["partition", "table", "backfill"]
AUDITED = PARTITIONS[-1]
BENCH_PG_PORT = "54339"
BENCH_PG_DATA = "/tmp/quinto-bench-pg"
JVM_ENGINES = venvs.JVM_ENGINES
SHARED_ENGINE_PORTS = {8080, 8081, 10000}  # the servers the tests share: never the bench's

Verdicts = dict[str, dict[str, bool]]  # partition → check → passed


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str]
    parse: Callable[[str], Verdicts]
    ok_codes: tuple[int, ...] = (0,)


@dataclass
class Sample:
    wall_s: float
    peak_rss_mib: float
    statements: Count | None
    verdicts: Verdicts


@dataclass
class Cell:
    engine: str
    scenario: str
    tool: str
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None


# -- running one measured process --------------------------------------------------------------------
def run_process(cmd: Command, base_env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, peak RSS (MiB) and stdout of one process, as measured by peers/launch.py."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        launcher = [sys.executable, "-S", str(PEERS / "launch.py"), str(report)]
        subprocess.run(launcher + cmd.argv, stdout=out, stderr=err, env={**base_env, **cmd.env}, cwd=str(PEERS))
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        measured = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {"exit": -1}
    if measured["exit"] not in cmd.ok_codes:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{' '.join(cmd.argv[:3])} ... exited {measured['exit']}: {tail}")
    return measured["wall_s"], measured["maxrss_kib"] / 1024, stdout


# -- what each tool runs -----------------------------------------------------------------------------
def last_json(stdout: str) -> Verdicts:
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def quinto_audit_json(stdout: str) -> Verdicts:
    out: Verdicts = {}
    for o in json.loads(stdout)["outcomes"]:
        out.setdefault(o["partition"], {})[o["check"]] = o["status"] == "PASS"
    return out


def quinto_backfill_text(checks: list[str]) -> Callable[[str], Verdicts]:
    def parse(stdout: str) -> Verdicts:
        out = {p: dict.fromkeys(checks, True) for p in PARTITIONS}
        for line in stdout.splitlines():
            m = re.match(r"\s+FAIL (\S+): (.*)$", line)
            if m:
                for item in m.group(2).split(", "):
                    out[m.group(1)][item.rsplit(" (", 1)[0]] = False
        return out

    return parse


def commands(tool: str, scenario: str, engine: str, ctx: dict[str, Any]) -> list[Command]:
    url = ctx["urls"][engine]
    if tool == "quinto":
        quinto = str(Path(sys.executable).parent / "quinto")
        project = str(ctx["projects"][(engine, scenario)])
        env = {"BENCH_URL": ctx["quinto_urls"][engine]}
        if scenario == "partition":
            argv = [quinto, "audit", "bench.events", "-p", f"ds={AUDITED}", "--json", "-c", project]
            return [Command(argv, env, quinto_audit_json, (0, 1))]  # exit 1: a check failed
        if scenario == "table":
            argv = [quinto, "audit", "bench.events", "--json", "-c", project]
            return [Command(argv, env, quinto_audit_json, (0, 1))]
        argv = [quinto, "backfill", "bench.events", "--since", PARTITIONS[0], "--until", PARTITIONS[-1], "-c", project]
        return [Command(argv, env, quinto_backfill_text(ctx["checks"]))]
    if tool in ("hand", "hand-hashed"):
        scope = {"partition": AUDITED, "table": WHOLE, "backfill": "all"}[scenario]
        form = "hashed" if tool == "hand-hashed" else "count"
        return [Command([sys.executable, "run_hand.py", engine, url, scope, form], {}, last_json)]
    name = venvs.variant(tool, engine)
    python = str(ctx["pythons"][name])
    script = f"run_{tool}.py"
    scopes = {"partition": [AUDITED], "table": [WHOLE], "backfill": PARTITIONS}[scenario]
    return [Command([python, script, engine, url, s], venvs.peer_env(name), last_json) for s in scopes]


# -- measuring a cell (tool × scenario × engine) ----------------------------------------------------
def measure(cell: Cell, ctx: dict[str, Any]) -> Sample:
    engine = cell.engine
    base_env = dict(os.environ)
    log_dir: Path = ctx["duckdb_log_dir"]
    if engine == "duckdb":
        for stale in log_dir.glob("*.sql"):
            stale.unlink()
        base_env.update(
            PYTHONPATH=str(PEERS / "hook"),
            QUINTO_BENCH_DUCKDB_LOG=str(log_dir),
            QUINTO_BENCH_DUCKDB_DB=str(ctx["duckdb_path"]),
        )
    pg_log: PostgresLog | None = ctx.get("pg_log")
    if engine == "postgres" and pg_log is not None:
        pg_log.mark()
    history: TrinoHistory | SparkEventLog | None = ctx.get("history", {}).get(engine)
    if history is not None:
        history.mark()
    wall, peak, verdicts = 0.0, 0.0, {}
    for cmd in commands(cell.tool, cell.scenario, engine, ctx):
        w, rss, stdout = run_process(cmd, base_env)
        wall += w
        peak = max(peak, rss)
        verdicts.update(cmd.parse(stdout))
    statements: Count | None = None
    if engine == "duckdb":
        statements = count_duckdb_logs(log_dir)
    elif history is not None:
        if engine == "spark":
            time.sleep(1.0)  # Spark's listener bus writes the event log asynchronously
        statements = history.count()
        folder = ctx["work"] / "statements"
        folder.mkdir(exist_ok=True)
        (folder / f"{engine}-{cell.scenario}-{cell.tool}.sql").write_text(
            "".join(f"-- statement {i}\n{sql.strip()}\n\n" for i, sql in enumerate(history.last, 1)), encoding="utf-8"
        )
    elif engine == "postgres" and pg_log is not None:
        time.sleep(0.2)  # the server writes its log asynchronously from the client's point of view
        statements = pg_log.count()
    return Sample(wall, peak, statements, verdicts)


# -- set-up ------------------------------------------------------------------------------------------
def signature(rows: int, engine: str) -> str:
    return hashlib.sha256(f"{rows}\n{generate_sql(rows, engine)}".encode()).hexdigest()[:16]


def prepare_duckdb(work: Path, rows: int) -> Path:
    path = work / f"events-{rows}.duckdb"
    sig = path.with_suffix(".sig")
    if not (path.exists() and sig.exists() and sig.read_text() == signature(rows, "duckdb")):
        t0 = time.perf_counter()
        build_duckdb(path, rows)
        sig.write_text(signature(rows, "duckdb"))
        log(f"duckdb: {rows} rows built in {time.perf_counter() - t0:.1f}s")
    return path


def start_bench_postgres() -> str:
    env = {**os.environ, "QUINTO_PG_PORT": BENCH_PG_PORT, "QUINTO_PG_DATA": BENCH_PG_DATA}
    url = subprocess.run([str(ROOT / "scripts" / "pg.sh"), "start"], capture_output=True, text=True, check=True,
                         env=env).stdout.strip()
    import psycopg

    with psycopg.connect(libpq(url), autocommit=True) as con:
        if "%d" not in con.execute("SHOW log_line_prefix").fetchone()[0]:  # type: ignore[index]
            con.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%d '")
            con.execute("SELECT pg_reload_conf()")
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = 'quinto_bench'").fetchone():
            con.execute("CREATE DATABASE quinto_bench")
    return url.rsplit("/", 1)[0] + "/quinto_bench"


def libpq(url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def prepare_postgres(url: str, rows: int, log_path: str | None) -> PostgresLog | None:
    """Loads the table (unless already there with the same signature), switches statement logging on
    for the database, and finds the server log."""
    import psycopg

    database = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(libpq(url), autocommit=True) as con:
        current = con.execute(
            "SELECT obj_description(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'bench' AND c.relname = 'events'"
        ).fetchone()
        if not current or current[0] != signature(rows, "postgres"):
            t0 = time.perf_counter()
            build_postgres(url, rows)
            con.execute(f"COMMENT ON TABLE bench.events IS '{signature(rows, 'postgres')}'")
            log(f"postgres: {rows} rows built in {time.perf_counter() - t0:.1f}s")
        con.execute(f'ALTER DATABASE "{database}" SET log_statement = \'all\'')
        prefix = con.execute("SHOW log_line_prefix").fetchone()[0]  # type: ignore[index]
        data_dir = con.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
    path = Path(log_path or Path(data_dir) / "server.log")
    try:
        path.open("rb").close()
    except OSError as exc:
        log(f"postgres: cannot read the server log {path} ({exc}); statements are not counted")
        return None
    return PostgresLog(path, database, "%d" in prefix)


# -- Trino and Spark: servers of the bench's own ----------------------------------------------------
@dataclass
class EngineServer:
    engine: str
    script: str
    env: dict[str, str]

    def run(self, action: str) -> None:
        proc = subprocess.run([str(ROOT / "scripts" / "engines" / self.script), action], capture_output=True,
                              text=True, env={**os.environ, **self.env})
        if proc.returncode != 0:
            raise SystemExit(f"{self.script} {action} failed:\n{proc.stderr[-3000:]}")


def engine_server(engine: str, state: Path, port: int, trino_sizes: dict[str, str] | None = None) -> EngineServer:
    """TRINO_SIZES: QUINTO_TRINO_HEAP / QUINTO_TRINO_QUERY_MEMORY for trino.sh (its defaults when absent)."""
    if port in SHARED_ENGINE_PORTS:
        raise SystemExit(f"port {port} belongs to the shared {engine} server the tests use; pick another")
    if state.resolve().is_relative_to(Path("/tmp/quinto-engines").resolve()):
        raise SystemExit(f"{state} is the shared engines' state; pick another --engines-state")
    env = {"QUINTO_STATE": str(state)}
    if engine == "trino":
        return EngineServer(engine, "trino.sh", {**env, "QUINTO_TRINO_PORT": str(port), "QUINTO_TRINO_SMOKE": "0",
                                                 **(trino_sizes or {})})
    return EngineServer(engine, "spark-thrift.sh", {
        **env, "QUINTO_HIVE_PORT": str(port), "QUINTO_SPARK_SMOKE": "0",
        "QUINTO_SPARK_EVENT_LOG": str(state / "spark-events"),
    })


def jvm_signature(rows: int, engine: str) -> str:
    ddl = EVENTS_SPARK if engine == "spark" else "orc partitioned_by ds"
    return hashlib.sha256(f"{rows}\n{ddl}\n{generate_jvm_sql(rows, engine)}".encode()).hexdigest()[:16]


def trino_connect(port: int) -> Any:
    import trino

    return trino.dbapi.connect(host="127.0.0.1", port=port, user=METER_USER, catalog="hive", schema="default")


def prepare_trino(port: int, rows: int) -> TrinoHistory:
    con = trino_connect(port)
    try:
        cur = con.cursor()
        cur.execute("SELECT comment FROM system.metadata.table_comments "
                    "WHERE catalog_name = 'hive' AND schema_name = 'bench' AND table_name = 'events'")
        found = cur.fetchall()
        if not found or found[0][0] != jvm_signature(rows, "trino"):
            t0 = time.perf_counter()
            build_trino(cur, rows)
            cur.execute(f"COMMENT ON TABLE hive.bench.events IS '{jvm_signature(rows, 'trino')}'")
            cur.fetchall()
            log(f"trino: {rows} rows built in {time.perf_counter() - t0:.1f}s")
    finally:
        con.close()
    return TrinoHistory(lambda: trino_connect(port))


def prepare_spark(port: int, rows: int, events: Path) -> SparkEventLog:
    from pyhive import hive

    con = hive.connect(host="127.0.0.1", port=port, username=METER_USER)
    try:
        cur = con.cursor()
        try:
            cur.execute("SHOW TBLPROPERTIES bench.events ('quinto_bench_signature')")
            found = [tuple(r) for r in cur.fetchall()]
        except Exception:  # noqa: BLE001 - no such table (yet)
            found = []
        if not found or found[0][-1] != jvm_signature(rows, "spark"):
            t0 = time.perf_counter()
            build_spark(cur, rows)
            cur.execute(f"ALTER TABLE bench.events SET TBLPROPERTIES ('quinto_bench_signature' = "
                        f"'{jvm_signature(rows, 'spark')}')")
            log(f"spark: {rows} rows built in {time.perf_counter() - t0:.1f}s")
    finally:
        con.close()
    return SparkEventLog(events)


def start_jvm_engines(engines: list[str], args: argparse.Namespace, ctx: dict[str, Any],
                      servers: list[EngineServer]) -> None:
    state = Path(args.engines_state) / f"rows-{args.rows}"
    ports = {"trino": args.trino_port, "spark": args.spark_port}
    sizes = {k: v for k, v in (("QUINTO_TRINO_HEAP", args.trino_heap),
                               ("QUINTO_TRINO_QUERY_MEMORY", args.trino_query_memory)) if v}
    todo = [engine_server(e, state, ports[e], sizes) for e in engines if e in JVM_ENGINES]
    for server in todo:  # one at a time: two JVMs starting at once on 2 cores take longer than in turn
        t0 = time.perf_counter()
        servers.append(server)
        server.run("start")
        log(f"{server.engine}: bench server on 127.0.0.1:{ports[server.engine]} ({state}) "
            f"ready after {time.perf_counter() - t0:.0f}s")
    ctx.setdefault("history", {})
    if "trino" in engines:
        ctx["history"]["trino"] = prepare_trino(args.trino_port, args.rows)
        ctx["urls"]["trino"] = ctx["quinto_urls"]["trino"] = f"trino://{TOOL_USER}@127.0.0.1:{args.trino_port}/hive"
    if "spark" in engines:
        ctx["history"]["spark"] = prepare_spark(args.spark_port, args.rows, state / "spark-events")
        url = f"hive://{TOOL_USER}@127.0.0.1:{args.spark_port}/default"
        ctx["urls"]["spark"] = ctx["quinto_urls"]["spark"] = url


def write_projects(work: Path, engines: list[str]) -> dict[tuple[str, str], Path]:
    projects = {}
    for engine in engines:
        for scenario in SCENARIOS:
            folder = "table" if scenario == "table" else "partition"
            path = work / f"quinto-{engine}-{scenario}.yaml"
            path.write_text(
                "connections: {warehouse: '${BENCH_URL}'}\n"
                f"store: sqlite:///{work / f'quinto-store-{engine}-{scenario}.db'}\n"
                "sample_rows: 0\n"
                f"checks: [{PEERS / 'quinto' / folder}]\n",
                encoding="utf-8",
            )
            projects[(engine, scenario)] = path
    return projects


def log(msg: str) -> None:
    print(f"# {msg}", file=sys.stderr, flush=True)


# -- results -----------------------------------------------------------------------------------------
def summarize(cells: list[Cell]) -> list[dict[str, Any]]:
    rows = []
    hands = {(c.engine, c.scenario): c for c in cells if c.tool == "hand"}
    hashed = {(c.engine, c.scenario): c for c in cells if c.tool == "hand-hashed"}
    for c in cells:
        row: dict[str, Any] = {"engine": c.engine, "scenario": c.scenario, "tool": c.tool, "runs": len(c.samples)}
        if c.error or not c.samples:
            row["error"] = c.error or "not run"
            rows.append(row)
            continue
        wall = statistics.median(s.wall_s for s in c.samples)
        rss = statistics.median(s.peak_rss_mib for s in c.samples)
        row.update(wall_s=round(wall, 3), peak_rss_mib=round(rss, 1))
        counts = [s.statements for s in c.samples if s.statements is not None]
        if counts:
            row["statements"] = max(n.total for n in counts)
            row["table_reads"] = max(n.table_reads for n in counts)
        hand = hands.get((c.engine, c.scenario))
        if hand and hand.samples:
            row["wall_vs_hand"] = round(wall / statistics.median(s.wall_s for s in hand.samples), 2)
            row["rss_vs_hand"] = round(rss / statistics.median(s.peak_rss_mib for s in hand.samples), 2)
        floor = hashed.get((c.engine, c.scenario))
        if floor and floor.samples:  # the ratio to the best hand-written form, whichever it is
            floors = [statistics.median(s.wall_s for s in floor.samples)]
            if hand and hand.samples:
                floors.append(statistics.median(s.wall_s for s in hand.samples))
            best = min(floors)
            row["wall_vs_best_hand"] = round(wall / best, 2)
        rows.append(row)
    return rows


def disagreements(cells: list[Cell]) -> list[str]:
    problems = []
    # the reference: the hand-written statement, or its hashed form where the plain one did not run
    # (Trino's COUNT(DISTINCT) of 10 M rows exceeds the test server's memory)
    hands = {(c.engine, c.scenario): c for c in cells if c.tool == "hand-hashed" and c.samples}
    hands.update({(c.engine, c.scenario): c for c in cells if c.tool == "hand" and c.samples})
    reference = {}
    for c in cells:
        ref = hands.get((c.engine, c.scenario))
        if ref is None:
            continue
        expected = ref.samples[0].verdicts
        reference.setdefault(c.scenario, (c.engine, expected))
        for i, s in enumerate(c.samples):
            if s.verdicts != expected:
                diff = sorted(
                    f"{p}:{k} {c.tool}={s.verdicts.get(p, {}).get(k)} hand={v}"
                    for p, checks in expected.items()
                    for k, v in checks.items()
                    if s.verdicts.get(p, {}).get(k) != v
                ) or [f"partitions {sorted(s.verdicts)} vs {sorted(expected)}"]
                problems.append(f"{c.engine}/{c.scenario}/{c.tool} run {i}: " + "; ".join(diff[:6]))
    for scenario, (engine, expected) in reference.items():  # the engines agree with each other too
        for (e, s), ref in hands.items():
            if s == scenario and ref.samples[0].verdicts != expected:
                problems.append(f"{scenario}: hand-written verdicts differ between {engine} and {e}")
    return problems


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| engine | scenario | tool | wall (s) | × hand | × best hand | peak RSS (MiB) | × hand | statements "
        "| table reads |"
    )
    lines = [head, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['engine']} | {r['scenario']} | {r['tool']} | {r['error'][:90]} | | | | | | |")
            continue
        lines.append(
            f"| {r['engine']} | {r['scenario']} | {r['tool']} | {r['wall_s']:.2f} | {r.get('wall_vs_hand', '')} "
            f"| {r.get('wall_vs_best_hand', '')} | {r['peak_rss_mib']:.0f} | {r.get('rss_vs_hand', '')} "
            f"| {r.get('statements', 'n/a')} "
            f"| {r.get('table_reads', 'n/a')} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engines", default="duckdb,postgres")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--pg-url", default=None, help="use this PostgreSQL database instead of starting one")
    ap.add_argument("--pg-log", default=None, help="the server's log file (default: DATA_DIRECTORY/server.log)")
    ap.add_argument("--work", default=None, help="folder for the DuckDB file and Quinto's stores (kept)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the untimed first run")
    ap.add_argument("--engines-state", default="/tmp/quinto-bench-engines",
                    help="state of the bench's own Trino and Spark servers (a rows-N folder per size)")
    ap.add_argument("--trino-port", type=int, default=18480)
    ap.add_argument("--spark-port", type=int, default=10480)
    ap.add_argument("--trino-heap", help="the bench's Trino server's JVM heap (default: trino.sh's, 3G)")
    ap.add_argument("--trino-query-memory",
                    help="its per-query and per-node memory limit (default: trino.sh's, 1GB, as the tests' server)")
    ap.add_argument("--keep-engines", action="store_true", help="leave the bench's Trino and Spark servers running")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    as_installed()
    unknown = set(args.engines.split(",")) - {"duckdb", "postgres", *JVM_ENGINES}
    if unknown:
        ap.error(f"unknown engine(s) {', '.join(sorted(unknown))}: duckdb, postgres, trino or spark")
    servers: list[EngineServer] = []
    # stopped by a signal, the bench still stops the servers it started (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run(args, servers)
    finally:
        for server in reversed(servers):
            if args.keep_engines:
                env = " ".join(f"{k}={v}" for k, v in server.env.items())
                log(f"{server.engine}: bench server left running (stop: {env} scripts/engines/{server.script} stop)")
            else:
                server.run("stop")
                log(f"{server.engine}: bench server stopped")


def run(args: argparse.Namespace, servers: list[EngineServer]) -> None:
    engines, tools, scenarios = args.engines.split(","), args.tools.split(","), args.scenarios.split(",")
    work = Path(args.work or Path("~/.cache/quinto/bench-data").expanduser())
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    ctx: dict[str, Any] = {"urls": {}, "quinto_urls": {}, "checks": CHECKS, "work": work}
    names = {venvs.variant(t, e) for t in tools for e in engines}
    ctx["pythons"] = {n: venvs.ensure(n) for n in sorted(names) if n in venvs.REQUIREMENTS}
    log_dir = work / "duckdb-log"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir()
    ctx["duckdb_log_dir"] = log_dir
    if "duckdb" in engines:
        path = prepare_duckdb(work, args.rows)
        ctx["duckdb_path"] = path
        ctx["urls"]["duckdb"] = ctx["quinto_urls"]["duckdb"] = f"duckdb:///{path}"
    if "postgres" in engines:
        url = args.pg_url or start_bench_postgres()
        ctx["pg_log"] = prepare_postgres(url, args.rows, args.pg_log)
        ctx["urls"]["postgres"] = libpq(url)
        ctx["quinto_urls"]["postgres"] = re.sub(r"^postgresql(\+\w+)?://", "postgresql+psycopg://", url)
    start_jvm_engines(engines, args, ctx, servers)
    ctx["projects"] = write_projects(work, engines)

    cells = [Cell(e, s, t) for e in engines for s in scenarios for t in tools]
    # Run 0 warms caches (and the first run, measured or not, finds tools that cannot run at all).
    reps = ([0] if args.warmup else []) + list(range(1, args.runs + 1))
    for n, rep in enumerate(reps):
        t0 = time.perf_counter()
        order = tools[rep % len(tools) :] + tools[: rep % len(tools)]
        for engine in engines:
            for scenario in scenarios:
                for tool in order:
                    cell = next(c for c in cells if (c.engine, c.scenario, c.tool) == (engine, scenario, tool))
                    if cell.error:
                        continue
                    try:
                        sample = measure(cell, ctx)
                    except RuntimeError as exc:
                        if n > 0:
                            raise
                        cell.error = f"does not run: {str(exc).splitlines()[-1][:300]}"
                        log(f"{engine}/{scenario}/{tool}: {cell.error}")
                        continue
                    cell.samples.append(sample)
        problems = disagreements(cells)
        if problems:
            raise SystemExit("the tools disagree:\n  " + "\n  ".join(problems))
        if rep == 0:
            for c in cells:
                c.samples = []
            log(f"warm-up run took {time.perf_counter() - t0:.0f}s; {args.runs} measured run(s) follow")
        else:
            log(f"run {rep}/{args.runs} took {time.perf_counter() - t0:.0f}s")
            # after every run, so that an interrupted benchmark still leaves what it measured
            (work / "compare-results.json").write_text(json.dumps(summarize(cells), indent=1), encoding="utf-8")
            (work / "compare-results.md").write_text(table(summarize(cells)) + "\n", encoding="utf-8")
    rows = summarize(cells)
    log(f"done in {time.perf_counter() - started:.0f}s; every tool agreed with the hand-written scan")
    if args.json:
        print(json.dumps(rows))
    else:
        print(table(rows))


if __name__ == "__main__":
    main()
