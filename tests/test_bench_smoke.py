"""The benchmark script runs end to end on a tiny table, so it cannot rot (numbers are not judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_bench_smoke(pg_server_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "core_scan.py"), "--rows", "20000", "--runs", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "QUINTO_TEST_PG_URL": pg_server_url},
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["engine"] for r in results] == ["duckdb", "postgres"]
    assert all(r["statements"] == 1 and r["ratio"] > 0 for r in results)
