"""No import cycles in quinto/ and web/ (installed as quinto.web): the module graph is read from the
source with `ast`, not by importing it, so a cycle that happens to work in today's import order
still fails here.

What counts as an edge from module M:
- every `import` and `from ... import` in M, at module level AND inside functions: a function-level
  import is still a dependency (hiding one in a function is how a cycle is usually papered over);
- the packages a target lives in, when M is not inside them: `import quinto.store.common` runs
  quinto/store/__init__.py first, and that code is a dependency of M as much as the module is. A
  package M is inside has already started running before M, so that edge cannot bite, and is left
  out (otherwise every `__init__` that re-exports its submodules would be a "cycle");
- NOT the imports under `if TYPE_CHECKING:`: they never run, so they cannot fail an import or
  load a layer that is not wanted; they let a lower layer name a higher layer's type in an
  annotation (e.g. the alert sender naming `Store`), which is a type, not a dependency.
"""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: package name → its directory (pyproject.toml installs web/ as quinto.web)
PACKAGES = {"quinto": ROOT / "quinto", "quinto.web": ROOT / "web"}


def modules(packages: dict[str, Path]) -> dict[str, Path]:
    found = {}
    for package, root in packages.items():
        for path in sorted(root.rglob("*.py")):
            parts = [p for p in path.relative_to(root).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(name: str, path: Path, tree: ast.AST, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that the statements of `tree` import (see the module docstring)."""
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for stmt in child.orelse:
                    visit_one(stmt)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in known else base)
        visit(node)

    visit(tree)
    edges: set[str] = set()
    for target in targets:
        while target and target not in known:  # `import quinto.x.y` of a name that is not a module
            target = target.rpartition(".")[0]
        if not target:
            continue  # not ours
        edges.add(target)
        parts = target.split(".")
        for i in range(1, len(parts)):
            package = ".".join(parts[:i])
            if package in known and not (name == package or name.startswith(package + ".")):
                edges.add(package)
    edges.discard(name)
    return edges


def import_graph(packages: dict[str, Path] = PACKAGES) -> dict[str, set[str]]:
    known = modules(packages)
    return {
        name: _imported(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)), known)
        for name, path in known.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, in a stable order)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = walk(start)
            if found:
                return found
    return None


def test_quinto_and_its_web_app_have_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "quinto.compile" in graph["quinto.engines.base"]  # the graph is real
    assert "quinto.web.context" in graph["quinto.web.api"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_sql_layer_depends_on_dialects_only() -> None:
    graph = import_graph()
    ours = graph["quinto.compile"]
    assert "quinto.dialect" in ours
    assert not {m for m in ours if m == "quinto.engines" or m.startswith("quinto.engines.")}, ours


def test_the_cycle_finder_sees_cycles_through_packages_functions_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "quinto"
    (pkg / "store").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from quinto.a import f\n")
    (pkg / "a.py").write_text("def f():\n    from quinto.store.common import now\n")
    (pkg / "store" / "__init__.py").write_text("from .queue import Q\n")
    (pkg / "store" / "common.py").write_text("now = 1\n")
    (pkg / "store" / "queue.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from quinto.b import T\nfrom quinto import a\n"
    )
    (pkg / "b.py").write_text("from quinto.store import Q\n")
    graph = import_graph({"quinto": pkg})
    # a -> store.common runs store/__init__ (a package a is not in); store/__init__ -> .queue (relative)
    assert graph["quinto.a"] == {"quinto.store", "quinto.store.common"}
    assert graph["quinto.store"] == {"quinto.store.queue"}
    # the TYPE_CHECKING import is no edge; `from quinto import a` is an edge to the module a
    assert graph["quinto.store.queue"] == {"quinto.a"}
    assert find_cycle(graph) == ["quinto.a", "quinto.store", "quinto.store.queue", "quinto.a"]
    (pkg / "store" / "queue.py").write_text("Q = 1\n")
    assert find_cycle(import_graph({"quinto": pkg})) is None


# -- what an audit imports: measured on a real `quinto audit` in its own process ----------------------

AUDIT_CHECKS = """table: dw.plays
partition: ds
owners: [owner@example.com]
notify: [email:owners]
checks:
  - row_count > 0
  - missing_count(account_id) = 0
  - invalid_count(country) = 0: {valid_values: [US, CA]}
  - duplicate_count(play_id) = 0
"""

#: never needed to audit and record a run: the UI, the scheduler, migrations, delivering alerts
NOT_ON_THE_AUDIT_PATH = (
    "alembic",
    "flask",
    "werkzeug",
    "jinja2",
    "waitress",
    "apscheduler",
    "smtplib",
    "email.mime",
    "urllib.request",
    "http.client",
    "quinto.web",
    "quinto.scheduler",
    "quinto.alerts.sender",
    "duckdb_engine",
    "psycopg",
    "pymysql",
    "trino",
    "prestodb",
    "pyhive",
)


def _warehouse(tmp_path: Path) -> Path:
    import duckdb

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA dw")
    con.execute("CREATE TABLE dw.plays (play_id INTEGER, account_id INTEGER, country VARCHAR, ds VARCHAR)")
    con.execute(
        "INSERT INTO dw.plays VALUES (1, 10, 'US', '2026-11-01'), (2, NULL, 'XX', '2026-11-01'),"
        " (2, 12, 'CA', '2026-11-01'), (4, 13, 'US', '2026-11-02')"
    )
    con.close()
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "plays.yaml").write_text(AUDIT_CHECKS, encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        f"connections: {{warehouse: 'duckdb:///{tmp_path / 'wh.duckdb'}'}}\n"
        f"store: sqlite:///{tmp_path / 'store.db'}\nchecks: [checks]\nsmtp: {{host: 127.0.0.1, port: 1}}\n",
        encoding="utf-8",
    )
    return tmp_path


def _audit(project: Path, cache: Path, partition: str = "2026-11-01") -> tuple[dict[str, Any], set[str]]:
    """`python -X importtime -m quinto audit ... --json` in a fresh process: its result, and every
    module the process imported (from the interpreter's own import log on stderr)."""
    env = {**os.environ, "QUINTO_STATEMENT_CACHE": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "quinto", "audit", "dw.plays", "-p", f"ds={partition}", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == (1 if partition == "2026-11-01" else 0), proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "quinto.execute" in imported and "duckdb" in imported  # the log is real
    return json.loads(proc.stdout), imported


def _loaded(imported: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in imported)


def test_an_audit_imports_only_what_it_needs_and_still_records_its_alerts(tmp_path: Path) -> None:
    project = _warehouse(tmp_path)
    _, imported = _audit(project, tmp_path / "cache", "2026-11-02")  # all pass; the new store is migrated
    assert _loaded(imported, "alembic")
    result, imported = _audit(project, tmp_path / "cache")  # the store's schema is read, not migrated
    assert [o["status"] for o in result["outcomes"]] == ["PASS", "FAIL", "FAIL", "FAIL"]
    assert not [m for m in NOT_ON_THE_AUDIT_PATH if _loaded(imported, m)]
    # failing rows of the three failed checks came from one statement
    assert [s["purpose"] for s in result["statements"]] == ["scan", "samples"]
    assert {o["check"]: len(o["samples"] or []) for o in result["outcomes"] if o["status"] == "FAIL"} == {
        "missing_count(account_id) = 0": 1,
        "invalid_count(country) = 0": 1,
        "duplicate_count(play_id) = 0": 2,
    }
    # the alert was recorded (its outbox row written with the run), to be delivered by `quinto alerts send`
    with sqlite3.connect(tmp_path / "store.db") as con:
        rows = con.execute("SELECT channel, target, status FROM alert_outbox").fetchall()
    assert rows == [("email", "owner@example.com", "pending")], rows


def test_a_repeated_audit_runs_cached_statements_without_sqlglot(tmp_path: Path) -> None:
    project = _warehouse(tmp_path)
    cache = tmp_path / "cache"
    first, imported = _audit(project, cache)
    assert _loaded(imported, "sqlglot") and list(cache.rglob("*.json"))  # built, then kept
    second, imported = _audit(project, cache)
    assert not _loaded(imported, "sqlglot")

    def same(doc: dict[str, Any]) -> list[Any]:
        return [[(o["check"], o["status"], o["value"], o["samples"]) for o in doc["outcomes"]], doc["statements"]]

    for doc in (first, second):
        for s in doc["statements"]:
            for measured in ("duration_ms", "cpu_ms", "peak_memory_bytes", "bytes_scanned", "rows_scanned"):
                s.pop(measured, None)
    assert same(second) == same(first)
    # a changed check is a different statement: built again
    checks = project / "checks" / "plays.yaml"
    checks.write_text(checks.read_text().replace("[US, CA]", "[US, CA, XX]"), encoding="utf-8")
    third, imported = _audit(project, cache)
    assert _loaded(imported, "sqlglot")
    statuses = {o["check"]: o["status"] for o in third["outcomes"]}
    assert statuses["invalid_count(country) = 0"] == "PASS"
    assert third["statements"][0]["sql"] != first["statements"][0]["sql"]


def test_a_cache_entry_binds_the_real_partitions_and_an_unreadable_one_is_a_miss(tmp_path: Path) -> None:
    import datetime as dt

    from quinto.compile import Compiled
    from quinto.stmtcache import StatementCache

    cache = StatementCache(tmp_path)
    built: list[list[str]] = []

    def build(parts: list[str]) -> Compiled:
        built.append(parts)
        return Compiled("SELECT :qp0, :qp1", {"qp0": parts[0], "qp1": dt.date(2026, 1, 1)}, {"m0": "k"}, False)

    first = cache.compiled(("scan", "t"), ["2026-11-01"], build)
    second = cache.compiled(("scan", "t"), ["2026-11-02"], build)
    assert len(built) == 1 and "2026-11-01" not in built[0]  # built once, with a stand-in partition
    assert (first.params["qp0"], second.params["qp0"]) == ("2026-11-01", "2026-11-02")
    assert second.params["qp1"] == dt.date(2026, 1, 1) and second.sql == first.sql and second.aliases == {"m0": "k"}
    (entry,) = tmp_path.rglob("*.json")
    entry.write_text('{"sql": "SELECT', encoding="utf-8")  # half an entry, as a crashed writer without rename leaves
    third = cache.compiled(("scan", "t"), ["2026-11-03"], build)
    assert len(built) == 2 and third.params["qp0"] == "2026-11-03"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [entry.name]  # rewritten whole, no temp left


def test_audit_via_a_server_imports_only_the_http_client(tmp_path: Path) -> None:
    """`quinto audit --via URL` (a pipeline's step, called all day) asks and waits: it loads neither
    the engine, the store, the check-file parser nor their libraries."""
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "quinto",
            "audit",
            "dw.t",
            "-p",
            "ds=1",
            "--via",
            "http://127.0.0.1:9",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3 and "cannot reach the Quinto server" in proc.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "quinto.remote" in imported  # the log is real
    heavy = ("sqlalchemy", "sqlglot", "yaml", "duckdb", "flask", "quinto.app", "quinto.store", "quinto.spec")
    assert not [m for m in heavy if _loaded(imported, m)], sorted(m for m in imported if m.startswith("quinto"))


def test_the_cli_knows_every_outbox_status() -> None:
    from quinto.cli import OUTBOX_STATUSES
    from quinto.store.alerts import OUTBOX_STATUSES as STORED

    assert OUTBOX_STATUSES == STORED
