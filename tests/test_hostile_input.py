"""Hostile input: small files that cost a lot, characters YAML refuses, nesting that exhausts the stack,
YAML 1.1 booleans, and one broken check file among good ones (the scheduler and the API go on)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from quinto.web import create_app

from quinto.errors import SpecError
from quinto.spec.checkfile import parse_check_file
from quinto.spec.yamlfile import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_FILE_BYTES, load_text
from quinto.store import Store
from tests.test_bad_input import run_quinto
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
    files = {Path(p["file"]).name for p in store.scheduler_problems()}
    assert set(BROKEN) <= files, files
    for url in ("/", "/runs", "/tables/dw.fact_signup"):
        page = client.get(url)
        assert page.status_code == 200 and "nul.yaml" in page.get_data(as_text=True)
