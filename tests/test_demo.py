"""`quinto demo` end to end: every injected defect is caught on its day, and nothing else fails."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.test_bad_input import run_quinto

ROOT = Path(__file__).resolve().parent.parent


def test_demo_catches_exactly_the_injected_defects(tmp_path: Path) -> None:
    proc = run_quinto(
        [
            "demo",
            "--no-serve",
            "--dir",
            str(tmp_path / "demo"),
            "--end",
            "2026-11-27",
            "--checks",
            str(ROOT / "checks"),
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    db = sqlite3.connect(tmp_path / "demo" / "quinto.db")
    fails = db.execute(
        "select table_name, partition_value, check_key from outcomes where current and status = 'FAIL' order by 1, 2, 3"
    ).fetchall()
    assert fails == [
        ("dw.fact_playback", "2026-11-04", "negative_durations = 0"),
        ("dw.fact_playback", "2026-11-08", "missing_count(account_id) = 0"),
        ("dw.fact_playback", "2026-11-10", "orphan_titles = 0"),
        ("dw.fact_playback", "2026-11-13", "duplicate_count(play_id) = 0"),
        ("dw.fact_playback", "2026-11-18", "row_count anomaly"),  # the band catches the volume drop too
        ("dw.fact_playback", "2026-11-18", "row_count change vs previous partition between -30% and +50%"),
        ("dw.fact_playback", "2026-11-22", "freshness(event_ts) < 26h"),
        ("dw.fact_playback", "2026-11-25", "invalid_percent(country) < 0.1%"),
        ("dw.fact_playback", "2026-11-26", "invalid_percent(country) < 0.1%"),  # the bad enum stays
        ("dw.fact_playback", "2026-11-27", "invalid_percent(country) < 0.1%"),
        ("dw.fact_signup", "2026-11-16", "invalid_count(email) = 0"),
        ("dw.fact_signup", "2026-11-27", "invalid_count(email) = 0"),  # malformed again: an open incident
    ]
    # one grouped scan statement per 31 partitions (partitions_per_scan) of the 90 days
    scans = db.execute(
        "select r.table_name, count(*) from statements s join runs r on r.id = s.run_id "
        "where s.purpose = 'scan' group by 1 order by 1"
    ).fetchall()
    assert scans == [("dw.dim_title", 1), ("dw.fact_playback", 3), ("dw.fact_signup", 3)]
    # the anomaly band is live (learnt from the 60 days before the defects) on every defect day
    learning = db.execute(
        "select count(*) from outcomes where current and check_key = 'row_count anomaly' and status = 'LEARNING'"
        " and partition_value >= '2026-10-29'"
    ).fetchone()[0]
    assert learning == 0
    samples = db.execute(
        "select samples from outcomes where check_key = 'duplicate_count(play_id) = 0' and status = 'FAIL'"
    ).fetchone()[0]
    assert samples and "p-2026-11-13-" in samples
    assert "known defects injected" in proc.stdout
    marks = db.execute("select table_name, partition_value, mark, reason from partition_marks order by 2").fetchall()
    assert marks == [
        ("dw.fact_playback", "2026-11-13", "bad", "injected defect: 250 duplicated play_id"),
        ("dw.fact_playback", "2026-11-18", "bad", "known defect: the upstream job lost 60% of plays"),
    ]
    # incidents: the duplicates resolved as a defect, the bad enum open and acknowledged, the
    # malformed e-mails of the last day open and nobody on them yet
    rows = db.execute("select table_name, check_key, state, acked_at is not null from incidents").fetchall()
    assert ("dw.fact_playback", "duplicate_count(play_id) = 0", "resolved", False) in rows
    # the volume drop's partition was marked bad: every incident failing only there is resolved by it
    drop = db.execute(
        "select i.check_key, i.state, i.resolution, i.resolve_reason from incidents i"
        " where i.first_partition = '2026-11-18' and i.last_partition = '2026-11-18'"
    ).fetchall()
    why = "known defect: the upstream job lost 60% of plays"
    assert drop and all(r[1:] == ("resolved", "defect", why) for r in drop)
    assert ("dw.fact_playback", "invalid_percent(country) < 0.1%", "open", True) in rows
    assert ("dw.fact_signup", "invalid_count(email) = 0", "open", False) in rows
