"""The bad-input corpus: every file in tests/bad/ is a malformed check file (`*.yaml`) or project file
(`*.project.yaml`). Its leading comments say what the real `quinto validate` command must print:

    # exit: 2
    # error: {file}:7:5: unknown check type 'rowcount' (did you mean 'row_count'?); ...

Every `# error:` line must appear exactly (in order) on stderr, nothing else may, and no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from quinto.audit import validate
from quinto.errors import QuintoError

BAD = sorted((Path(__file__).parent / "bad").glob("*.yaml"))


def expectations(path: Path) -> tuple[int, list[str]]:
    code, errors = None, []
    # the comments are UTF-8; what follows them may be binary junk on purpose
    for line in path.read_bytes().decode("utf-8", "surrogateescape").splitlines():
        if line.startswith("# exit:"):
            code = int(line.split(":", 1)[1])
        elif line.startswith("# error: "):
            errors.append(line[len("# error: ") :])
    assert code is not None and errors, f"{path.name} lacks '# exit:' and '# error:' lines"
    return code, errors


def run_quinto(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("quinto", path=str(Path(sys.executable).parent)) or "quinto"
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_file(path: Path, tmp_path: Path) -> None:
    code, errors = expectations(path)
    if path.name.endswith(".project.yaml"):
        (tmp_path / "checks").mkdir()
        shutil.copy(path, tmp_path / "quinto.yaml")
        shown = "quinto.yaml"
        proc = run_quinto(["validate", "--config", "quinto.yaml"], tmp_path, {"WAREHOUSE_URL": "duckdb:///:memory:"})
    else:
        shutil.copy(path, tmp_path / path.name)
        shown = path.name
        proc = run_quinto(["validate", path.name], tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    got = [line for line in proc.stderr.splitlines() if line.strip()]
    want = [f"Error: {e.replace('{file}', shown)}" for e in errors]
    assert got == want


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_file_costs_little(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a hostile file is cheap: under 1 s of CPU time (not wall-clock time, which depends on
    the machine's load) and under 100 MB of memory allocated at its peak."""
    monkeypatch.setenv("WAREHOUSE_URL", "duckdb:///:memory:")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checks").mkdir()
    if path.name.endswith(".project.yaml"):
        shutil.copy(path, tmp_path / "quinto.yaml")
        args: tuple[list[str] | None, str | None] = (None, "quinto.yaml")
    else:
        shutil.copy(path, tmp_path / path.name)
        args = ([path.name], None)
    cpu = time.process_time()  # measured without tracemalloc, which slows Python code severalfold
    with pytest.raises(QuintoError) as info:
        validate(args[0], config=args[1], connect=False)
    used = time.process_time() - cpu
    tracemalloc.start()
    try:
        with pytest.raises(QuintoError):
            validate(args[0], config=args[1], connect=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.exit_code == 2
    assert used < 1.0, f"{path.name}: {used:.2f} s of CPU time"
    assert peak < 100_000_000, f"{path.name}: {peak / 1e6:.0f} MB at the peak"


def test_corpus_size() -> None:
    assert len(BAD) >= 150, f"only {len(BAD)} bad-input files"
