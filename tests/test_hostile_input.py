"""Hostile input: small files that cost a lot, characters YAML refuses, nesting that exhausts the stack,
YAML 1.1 booleans, and one broken check file among good ones (the scheduler and the API go on)."""

from __future__ import annotations

import http.server
import json
import math
import shutil
import socket
import threading
from pathlib import Path

import pytest
from quinto.web import create_app

from quinto.engines import CONNECTORS
from quinto.errors import SpecError
from quinto.results import dumps
from quinto.settings import WAREHOUSE_SCHEMES
from quinto.spec.checkfile import parse_check_file
from quinto.spec.yamlfile import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_FILE_BYTES, load_text
from quinto.store import Store
from tests.test_bad_input import run_quinto
from tests.warehouse import load_tables
from tests.webdata import build_demo

TOKEN = "s3cret-token"


def alias_bomb(levels: int) -> str:
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for n in range(1, levels):
        text += f"l{n}: &l{n} [" + ", ".join([f"*{'a' if n == 1 else f'l{n - 1}'}"] * 9) + "]\n"
    return text


def problem_of(text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_text(text, "f.yaml")
    assert len(info.value.problems) == 1
    return str(info.value.problems[0])


def test_yaml_booleans_are_only_true_and_false() -> None:
    doc = load_text("v: [US, GB, NO, SE, yes, No, on, OFF, y, n, Y, true, False, TRUE, tRuE]\nno: 1\n", "f.yaml")
    assert doc["v"] == ["US", "GB", "NO", "SE", "yes", "No", "on", "OFF", "y", "n", "Y", True, False, True, True]
    assert doc["no"] == 1


def test_country_code_no_in_valid_values(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(
        "table: dw.t\nchecks:\n  - invalid_count(country) = 0: {valid_values: [US, GB, NO, SE]}\n", encoding="utf-8"
    )
    (check,) = parse_check_file(f).checks
    assert list(check.options["valid_values"]) == ["US", "GB", "NO", "SE"]


def test_aliases_expand_within_a_step_bound() -> None:
    # 9 levels: 9**9 = 387 million values if expanded; refused after MAX_ALIAS_VALUES copies
    assert problem_of(alias_bomb(9)).endswith(
        f"YAML aliases (*name) expand to more than {MAX_ALIAS_VALUES:,} values; "
        "write the repeated part out or use fewer nested aliases"
    )
    doc = load_text("base: &b {severity: warn}\nx: *b\ny: *b\n", "f.yaml")  # ordinary aliases still work
    assert doc["x"] == doc["y"] == {"severity": "warn"}


@pytest.mark.parametrize(
    ("text", "where", "name"),
    [
        ("table: dw.t\x00\n", "f.yaml:1:12", "U+0000 (NUL)"),
        ("table: dw.t\n  # \x1b[31m\n", "f.yaml:2:5", "U+001B (ESC)"),
        ("a: 1\nb: x\x7f\n", "f.yaml:2:5", "U+007F (DEL)"),
        ("a: 1\nb: '\ufffe'\n", "f.yaml:2:5", "U+FFFE (not a character)"),
        ("a: '\udfff'\n", "f.yaml:1:5", "U+DFFF (not a character)"),
    ],
)
def test_characters_yaml_refuses(text: str, where: str, name: str) -> None:
    assert problem_of(text).startswith(f"{where}: the character {name} is not allowed in a YAML file")


@pytest.mark.parametrize("text", ["x: " + "[" * 5000, "x: " + "{a: " * 5000, "x:\n  " + "- " * 5000 + "1\n"])
def test_deep_nesting_is_refused_before_the_stack_runs_out(text: str) -> None:
    message = problem_of(text)
    assert message.startswith("f.yaml:") and message.endswith(f"nested more than {MAX_DEPTH} levels deep")


def test_binary_junk_and_size(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_bytes(b"table: dw.t\nchecks:\n  - row_count > 0 \xff\xfe\x00\n")
    with pytest.raises(SpecError, match=r"t.yaml:3:19: file is not UTF-8 text \(byte 0xFF here\)"):
        parse_check_file(f, "t.yaml")
    f.write_bytes(b"table: dw.t\n" + b"# padding\n" * (MAX_FILE_BYTES // 10))
    with pytest.raises(SpecError, match=r"t.yaml:1:1: file is larger than 1 MB; split it up"):
        parse_check_file(f, "t.yaml")


BROKEN = {
    "nul.yaml": "table: dw.nul\npartition: ds\x00\n",
    "deep.yaml": "table: dw.deep\nchecks: " + "[" * 5000 + "\n",
    "bomb.yaml": "table: dw.bomb\n" + alias_bomb(9),
    "tz.yaml": "table: dw.tz\nschedule: {cron: '0 6 * * *', timezone: " + "A" * 5000 + "}\nchecks: [row_count > 0]\n",
    "binary.yaml": "table: dw.bin\n\udcff\udcfe\n",
}


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project with its check files copied, and a broken file of every kind beside them."""
    config = build_demo(tmp_path_factory.mktemp("hostile") / "demo")
    checks = config.parent / "checks"
    shutil.copytree(Path(__file__).resolve().parent.parent / "checks", checks)
    for name, text in BROKEN.items():
        (checks / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    lines = config.read_text(encoding="utf-8").splitlines()
    config.write_text(
        "\n".join(f"checks: [{checks}]" if line.startswith("checks:") else line for line in lines) + "\n",
        encoding="utf-8",
    )
    return config


def test_validate_names_every_broken_file(broken_project: Path) -> None:
    proc = run_quinto(["validate", "-c", str(broken_project), "--no-connect"], broken_project.parent)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    for name in BROKEN:
        assert f"{name}:" in proc.stderr, (name, proc.stderr)


def test_one_broken_file_leaves_the_api_and_the_scheduler_working(broken_project: Path) -> None:
    client = create_app({"QUINTO_CONFIG": str(broken_project), "QUINTO_API_TOKEN": TOKEN}).test_client()
    resp = client.post(
        "/api/audits",
        json={"table": "dw.fact_signup", "partition": "ds=2026-11-20"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert resp.status_code == 202, resp.get_data(as_text=True)
    run_id = resp.get_json()["run_id"]
    proc = run_quinto(["scheduler", "--once", "-c", str(broken_project)], broken_project.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    done = client.get(f"/api/runs/{run_id}").get_json()
    assert done["status"] in ("PASS", "WARN", "FAIL"), done
    store = Store(f"sqlite:///{broken_project.parent / 'quinto.db'}")
    files = {Path(p.file).name for p in store.scheduler_problems()}
    assert set(BROKEN) <= files, files
    for url in ("/", "/runs", "/tables/dw.fact_signup"):
        page = client.get(url)
        assert page.status_code == 200 and "nul.yaml" in page.get_data(as_text=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A DuckDB warehouse with dw.t (partitions 2026-11-27 .. 2026-11-29 and one odd value) and a project."""
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    rows = [[1, "US", "2026-11-27"], [2, "NO", "2026-11-27"], [3, "GB", "2026-11-28<x>"], [4, "SE", "2026-11-29"]]
    load_tables(url, {"dw.t": {"columns": {"id": "INTEGER", "country": "VARCHAR", "ds": "VARCHAR"}, "rows": rows}})
    (tmp_path / "checks").mkdir()
    write_checks(tmp_path, "  - row_count > 0\n")
    (tmp_path / "quinto.yaml").write_text(
        f"connections: {{warehouse: '{url}'}}\nstore: sqlite:///{tmp_path / 's.db'}\nchecks: [checks]\n",
        encoding="utf-8",
    )
    return tmp_path


def write_checks(root: Path, checks: str, head: str = "table: dw.t\npartition: ds\n") -> None:
    (root / "checks" / "t.yaml").write_text(f"{head}checks:\n{checks}", encoding="utf-8")


def quinto(root: Path, *args: str) -> tuple[int, str, str]:
    proc = run_quinto(list(args), root)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def test_valid_values_no_passes_on_the_warehouse(project: Path) -> None:
    write_checks(project, "  - invalid_count(country) = 0: {valid_values: [US, GB, NO, SE]}\n")
    code, out, err = quinto(project, "audit", "dw.t", "-p", "ds=2026-11-27")
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("head", "checks", "message"),
    [
        (
            "table: dw.t\npartition: ds\n",
            "  - reference(id) in x.dw.t.extra(id) = 0\n",
            "t.yaml:4:22: cannot read check 'reference(id) in x.dw.t.extra(id) = 0': a table name has at most "
            "three parts (catalog.schema.table); 'x.dw.t.extra' has 4",
        ),
        (
            "table: dw.t\npartition: ''\n",
            "  - row_count > 0\n",
            "t.yaml:2:12: `partition:` is empty; name the partition column, or leave it out for a table without "
            "partitions",
        ),
        (
            "table: dw.t\npartition: ds\n",
            "  - row_count < 1e999\n",
            "t.yaml:4:17: cannot read check 'row_count < 1e999': '1e999' is too large a number to compare with "
            "(at most about 1e308)",
        ),
    ],
)
def test_refused_at_validate_with_file_line(project: Path, head: str, checks: str, message: str) -> None:
    write_checks(project, checks, head)
    for args in (["validate"], ["audit", "dw.t", "-p", "ds=2026-11-27"]):
        code, _, err = quinto(project, *args)
        assert (code, err.strip()) == (2, f"Error: checks/{message}")


def test_sql_returning_text_is_the_checks_fault(project: Path) -> None:
    write_checks(project, "  - m > 0: {sql: \"select 'abc' where :partition is not null\"}\n")
    code, out, _ = quinto(project, "audit", "dw.t", "-p", "ds=2026-11-27")
    assert code == 2
    assert "`sql:` of 'm > 0' returned text 'abc'; it must return exactly one number  (checks/t.yaml:4:5)" in out


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "foo://x/y",
            "connection 'warehouse': unknown kind of database 'foo'; use one of duckdb, hive, mariadb, "
            "mysql, postgres, postgresql, presto, sqlite, trino",
        ),
        (
            "postgresq://h/db",
            "connection 'warehouse': unknown kind of database 'postgresq' (did you mean "
            "'postgresql'?); use one of duckdb, hive, mariadb, mysql, postgres, postgresql, presto, sqlite, trino",
        ),
        (
            "'postgresql://[::1/db'",
            "connection 'warehouse': not a database URL: 'postgresql://[::1/db'; write it "
            "as scheme://user@host:port/database, e.g. postgresql+psycopg://user:${PGPASSWORD}@host:5432/db",
        ),
        (
            "postgresql://u@h:99999999/db",
            "connection 'warehouse': port 99999999 is not a port number (1-65535) in 'postgresql://u@h:99999999/db'",
        ),
    ],
)
def test_malformed_connection_urls(project: Path, url: str, message: str) -> None:
    (project / "quinto.yaml").write_text(f"connections:\n  warehouse: {url}\nchecks: [checks]\n", encoding="utf-8")
    for args in (["validate"], ["audit", "dw.t", "-p", "ds=2026-11-27"], ["backfill", "dw.t", "--since", "2026"]):
        code, _, err = quinto(project, *args)
        assert (code, err.strip().splitlines()[-1]) == (2, f"Error: quinto.yaml:2:14: {message}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("duckdb:///s.db", "unknown kind of database 'duckdb'; use one of postgresql, sqlite"),
        (
            "notaurl",
            "not a database URL: 'notaurl'; write it as scheme://user@host:port/database, "
            "e.g. postgresql+psycopg://user:${PGPASSWORD}@host:5432/db",
        ),
    ],
)
def test_malformed_store_urls(project: Path, url: str, message: str) -> None:
    text = (project / "quinto.yaml").read_text(encoding="utf-8").splitlines()
    (project / "quinto.yaml").write_text(f"{text[0]}\nstore: {url}\n{text[2]}\n", encoding="utf-8")
    for args in (["runs"], ["audit", "dw.t", "-p", "ds=2026-11-27"]):
        code, _, err = quinto(project, *args)
        assert (code, err.strip()) == (2, f"Error: quinto.yaml:2:8: `store:` {message}")


def test_warehouse_schemes_are_the_connectors() -> None:
    assert sorted(WAREHOUSE_SCHEMES) == sorted(CONNECTORS)


def test_partition_with_a_trailing_newline_is_refused(project: Path) -> None:
    code, _, err = quinto(project, "audit", "dw.t", "-p", "ds=2026-11-27\n")
    assert code == 2 and "refusing partition value '2026-11-27\\n'" in err
    client = create_app({"QUINTO_CONFIG": str(project / "quinto.yaml"), "QUINTO_API_TOKEN": TOKEN}).test_client()
    resp = client.post(
        "/api/audits",
        json={"table": "dw.t", "partition": "ds=2026-11-27\n"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert resp.status_code == 400 and "refusing partition value" in resp.get_json()["error"]
    assert Store(f"sqlite:///{project / 's.db'}").runs.recent(10) == []


def test_one_partition_spelled_two_ways_is_refused(project: Path) -> None:
    code, _, err = quinto(project, "audit", "dw.t", "-p", "ds=2026-11-27 00:00:00", "-p", "ds=2026-11-27")
    assert (code, err.strip()) == (
        2,
        "Error: partitions '2026-11-27 00:00:00' and '2026-11-27' are the same partition; give it once",
    )
    code, out, _ = quinto(project, "audit", "dw.t", "-p", "ds=2026-11-27", "-p", "2026-11-27")
    assert code == 0 and "dw.t 2026-11-27: 1 pass" in out  # the same spelling twice is one partition


def test_backfill_skips_an_odd_partition_value_and_audits_the_rest(project: Path) -> None:
    code, out, err = quinto(project, "backfill", "dw.t", "--since", "2026-11-01")
    assert code == 0, out + err
    assert "warning: skipped a partition of dw.t in the warehouse: refusing partition value '2026-11-28<x>'" in err
    assert "dw.t: 2 partition(s) in 1 run(s)" in out


def test_json_output_is_always_valid_json(project: Path) -> None:
    code, out, _ = quinto(project, "audit", "dw.t", "-p", "ds=2026-11-27", "--json")
    assert code == 0
    json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in --json output"))
    assert json.loads(dumps({"a": [math.inf, -math.inf, math.nan, 1.5]})) == {
        "a": ["Infinity", "-Infinity", "NaN", 1.5]
    }
    store = Store(f"sqlite:///{project / 's.db'}")
    run_id = store.runs.recent(1)[0].id
    with store.engine.begin() as conn:  # a value stored before thresholds were checked
        conn.exec_driver_sql("UPDATE outcomes SET value = 1e999")
    client = create_app({"QUINTO_CONFIG": str(project / "quinto.yaml")}).test_client()
    body = client.get(f"/api/runs/{run_id}").get_data(as_text=True)
    doc = json.loads(body, parse_constant=lambda c: pytest.fail(f"{c} in /api/runs"))
    assert doc["outcomes"][0]["value"] == "Infinity"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "--limit", str(10**23)], "Invalid value for '--limit'"),
        (["runs", "--limit", "0"], "Invalid value for '--limit'"),
        (["alerts", "cancel", "99999999999999999999"], "Invalid value for 'IDS...'"),
        (["audit", "dw.t", "--via", "http://[::1"], "--via is the server's address, like http://quinto.internal:5000"),
        (["audit", "dw.t", "--via", "http://h:99999"], "(Port out of range 0-65535)"),
        (["audit", "dw.t", "--via", "http://h", "--timeout", "nan"], "--timeout is a number of seconds, not nan"),
        (["backfill", "dw.t", "--since", "2026", "--chunk", "0"], "Invalid value for '--chunk'"),
    ],
)
def test_usage_errors_exit_2(project: Path, args: list[str], message: str) -> None:
    code, _, err = quinto(project, *args)
    assert code == 2 and message in err, err


class _Fake(http.server.BaseHTTPRequestHandler):
    answer = b""

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b'{"run_id": "abc"}', "answered POST /api/audits with run_id 'abc', not a run number"),
        (b"<html>hello</html>", "answered 202 with something that is not a JSON object (b'<html>hello</html>')"),
        (None, "does not answer in HTTP"),
    ],
)
def test_via_a_server_that_is_not_quinto(project: Path, answer: bytes | None, message: str) -> None:
    if answer is None:  # something that is not HTTP at all
        sock = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            conn, _ = sock.accept()
            conn.recv(1000)
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        port = sock.getsockname()[1]
    else:
        handler = type("Handler", (_Fake,), {"answer": answer})
        server = http.server.HTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.handle_request, daemon=True)
        port = server.server_address[1]
    thread.start()
    code, _, err = quinto(project, "audit", "dw.t", "-p", "ds=2026-11-27", "--via", f"http://127.0.0.1:{port}")
    thread.join(10)
    assert (
        code == 3
        and message in err
        and "is --via the address of a Quinto server" in err
        or (answer is None and "does not answer in HTTP" in err)
    ), err
