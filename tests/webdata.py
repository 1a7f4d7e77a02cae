"""Web test data: the demo warehouse audited for real (a project with check files, owners and a
SQLite store), and small hand-made stores on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.test_bad_input import run_quinto

ROOT = Path(__file__).resolve().parent.parent
END = dt.date(2026, 11, 27)


def build_demo(directory: Path) -> Path:
    """Runs `quinto demo` (90 days, 8 injected defects, one partition marked bad) and returns its quinto.yaml."""
    proc = run_quinto(
        ["demo", "--no-serve", "--dir", str(directory), "--end", END.isoformat(), "--checks", str(ROOT / "checks")],
        directory.parent,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return directory / "quinto.yaml"
