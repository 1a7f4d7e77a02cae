"""The benchmark script runs end to end on a tiny table, so it cannot rot (numbers are not judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.verdict_quality import PEERS

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


def test_verdict_quality_bench_smoke(tmp_path: Path) -> None:
    """bench/verdict_quality.py builds its warehouse, runs Quinto's CLI and every peer method, and reports
    each of them; quality figures are only checked for sanity (they are the benchmark's business)."""
    out = tmp_path / "verdicts.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "verdict_quality.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    methods = {m["method"]: m for m in doc["methods"]}
    assert set(methods) == {"quinto (CLI), anomaly checks", "quinto (CLI), all checks", *PEERS}
    assert all(f"| {name} |" in proc.stdout for name in methods)
    defects = {m["defects"] for m in methods.values()}
    assert len(defects) == 1 and defects.pop() > 0  # every method is scored on the same labelled defects
    for m in methods.values():
        assert 0 <= m["found"] <= m["defects"] and m["judged"] > 0, m
        assert 0 <= m["false_fails"] <= m["judged"] and sum(m["false_fails_by_pattern"].values()) == m["false_fails"]


def test_overhead_bench_smoke() -> None:
    """bench/overhead.py builds its two DuckDB tables, times `quinto audit` and the hand-written script
    (which must agree on every verdict), and reports both scenarios (the times are not judged)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "overhead.py"), "--rows", "2000", "--big-rows", "4000", "--runs", "1"]
        + ["--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["scenario"] for r in results] == ["small", "big"]
    assert [r["partition_rows"] for r in results] == [200, 400]
    for r in results:
        assert r["statements"] == ["scan", "samples"] and r["ratio"] > 0
        assert "regex_email" in r["failed_checks"]  # the three bad addresses of that partition


def test_via_bench_smoke() -> None:
    """bench/via.py starts `quinto serve` and `quinto scheduler` on ports of its own, times
    `quinto audit --via` against them and reads the run's statements (the times are not judged)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "via.py"), "--rows", "2000", "--big-rows", "0", "--runs", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    [small] = json.loads(proc.stdout)
    assert small["statements"] == ["scan", "samples"] and small["ratio"] > 0 and small["pickup_s"] is not None


def test_backfill_year_bench_smoke() -> None:
    """bench/backfill_year.py builds its table, runs both hand-written forms and `quinto backfill` in
    chunks and in one scan, and stops unless every verdict agrees (the times are not judged)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "backfill_year.py"), "--per-day", "200", "--days", "40", "--runs", "1"]
        + ["--chunks", "default,40", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    sides = {r["side"]: r for r in json.loads(proc.stdout)}
    # chunks of 31: two scans and two samples statements, plus the listing; one chunk: half of that
    assert sides["backfill (chunk default)"]["statements"] == 5 and sides["backfill (chunk 40)"]["statements"] == 3
    assert all(r["peak_rss_mb"] > 0 for r in sides.values())
