"""Crash consistency of the record path: `kill -9` (a SIGKILL failpoint, QUINTO_TEST_CRASH_AT) at
every step of save, spool and replay, in the real `quinto` command, then a recovery run; on SQLite
and PostgreSQL. Nothing computed is lost, nothing is stored twice, no temporary file is left.
Also: the SQLite store deleted while a run is recorded, and a full disk (RLIMIT_FSIZE)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from quinto.errors import SpecError
from quinto.evaluate import Status
from quinto.failpoints import CRASH_AT
from quinto.record import record, replay
from quinto.store import Store
from tests.test_bad_input import run_quinto
from tests.test_cli import project  # noqa: F401 - the fixture: a DuckDB warehouse and its check file
from tests.test_store import make_run

DEAD_STORE = "postgresql+psycopg://q@127.0.0.1:1/none"
GOOD, BAD = "ds=2026-11-01", "ds=2026-11-02"  # the second FAILs (a missing account_id)


def env(p: Path, store: str, **extra: str) -> dict[str, str]:
    return {"WAREHOUSE_URL": f"duckdb:///{p / 'wh.duckdb'}", "STORE_URL": store, **extra}


def audit(p: Path, store: str, partition: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    extra = {CRASH_AT: crash} if crash else {}
    return run_quinto(["audit", "dw.plays", "-p", partition], p, env(p, store, **extra))


def stored(store_url: str) -> dict[str, tuple[int, str]]:
    """partition → (finished runs, their statuses), read with a connection of its own."""
    engine = sa.create_engine(store_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT partition_value, count(*), min(status) FROM runs GROUP BY partition_value")
        ).all()
    engine.dispose()
    return {r[0]: (r[1], r[2]) for r in rows}


def spool_files(p: Path) -> list[str]:
    d = p / ".quinto" / "spool"
    return sorted(f.name for f in d.iterdir() if f.is_file()) if d.is_dir() else []


def killed(proc: subprocess.CompletedProcess[str]) -> bool:
    return proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("step", ["save_before_commit", "save_committed"])
def test_kill_during_save(project: Path, store_url: str, step: str) -> None:  # noqa: F811
    crashed = audit(project, store_url, BAD, crash=step)
    assert killed(crashed), crashed.stderr
    after = stored(store_url) if step == "save_committed" else {}
    if step == "save_committed":  # committed before the kill: it is there, once
        assert after == {"2026-11-02": (1, "FAIL")}
    recovery = audit(project, store_url, GOOD)
    assert recovery.returncode == 0, recovery.stderr
    expected = {"2026-11-01": (1, "PASS"), **after}
    assert stored(store_url) == expected  # the rolled-back run is simply not there, nothing twice
    assert spool_files(project) == []


@pytest.mark.parametrize("step", ["spool_tmp_written", "spool_renamed"])
def test_kill_during_spool(project: Path, store_url: str, step: str) -> None:  # noqa: F811
    crashed = audit(project, DEAD_STORE, BAD, crash=step)
    assert killed(crashed), crashed.stderr
    left = spool_files(project)
    assert len(left) == 1 and left[0].endswith(".tmp" if step == "spool_tmp_written" else ".json"), left
    recovery = audit(project, store_url, GOOD)
    assert recovery.returncode == 0, recovery.stderr
    assert "replayed 1 spooled run(s)" in recovery.stderr  # a whole run in a dead writer's file is kept
    assert stored(store_url) == {"2026-11-01": (1, "PASS"), "2026-11-02": (1, "FAIL")}
    assert spool_files(project) == []


@pytest.mark.parametrize("step", ["replay_claimed", "replay_saved"])
def test_kill_during_replay(project: Path, store_url: str, step: str) -> None:  # noqa: F811
    spooled = audit(project, DEAD_STORE, BAD)
    assert spooled.returncode == 1 and "results kept in" in spooled.stderr
    crashed = audit(project, store_url, GOOD, crash=step)
    assert killed(crashed), crashed.stderr
    assert [f.rsplit(".", 1)[1] for f in spool_files(project)] == ["replaying"]  # claimed by the dead process
    recovery = audit(project, store_url, GOOD)
    assert recovery.returncode == 0, recovery.stderr
    assert "replayed 1 spooled run(s)" in recovery.stderr
    # the spooled FAIL is there once, even when the dead process had saved it before the kill
    assert stored(store_url) == {"2026-11-01": (1, "PASS"), "2026-11-02": (1, "FAIL")}
    assert spool_files(project) == []
    again = audit(project, store_url, GOOD)
    assert again.returncode == 0 and "replayed" not in again.stderr
    assert stored(store_url)["2026-11-02"] == (1, "FAIL")


def test_replaying_a_run_twice_stores_it_once(store_url: str, tmp_path: Path) -> None:
    store = Store(store_url)
    run = make_run("2026-11-05", Status.FAIL, 0)
    first = store.save_run(run)
    copy = type(run).from_json(run.to_json())  # the same run, as its spool file holds it
    copy.id = None
    assert store.save_run(copy) == first
    assert stored(store_url) == {"2026-11-05": (1, "FAIL")}
    store.close()


def test_store_deleted_while_recording_loses_nothing(tmp_path: Path) -> None:
    """The issue's scenario: a spooled run is replayed at the start of an audit, the SQLite store
    file is deleted while the audit runs, its run is saved (into the deleted file) and, before,
    both the replayed and the new run were lost with "replayed 1 spooled run(s)" and exit 0."""
    path = tmp_path / "store.db"
    url = f"sqlite:///{path}"
    spool = tmp_path / "spool"
    earlier = make_run("2026-11-01", Status.FAIL, 0)
    assert record(Store(DEAD_STORE), earlier, spool, attempts=1).spooled is not None
    store = Store(url)
    store.migrate()
    replayed = replay(store, spool, defer=True)
    assert len(replayed.ids) == 1
    path.unlink()  # the store goes away while the audit runs
    result = record(store, make_run("2026-11-02", Status.PASS, 5), spool, replayed=replayed, attempts=1)
    assert result.error is not None and "deleted or replaced" in result.error, result
    assert len(list(spool.glob("run-*.json"))) == 2  # the replayed run given back, the new one spooled
    store.close()
    fresh = Store(url)  # a new store where the old one was: the next run replays both into it
    assert len(replay(fresh, spool).ids) == 2
    assert not list(spool.glob("run-*"))
    assert stored(url) == {"2026-11-01": (1, "FAIL"), "2026-11-02": (1, "PASS")}
    fresh.close()


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))


def test_full_disk_leaves_no_partial_spool_file(project: Path) -> None:  # noqa: F811
    exe = shutil.which("quinto", path=str(Path(sys.executable).parent)) or "quinto"
    proc = subprocess.run(
        [exe, "audit", "dw.plays", "-p", BAD],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env(project, DEAD_STORE)},
        preexec_fn=_limit_file_size,
    )
    assert proc.returncode == 1, proc.stderr  # the verdict stands; the store error is said
    assert "cannot spool the run" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert spool_files(project) == []  # no partial run-*.tmp


def test_typed_settings_name_every_setting_once() -> None:
    """`Settings` has a field per setting of the registry, whose defaults are stated only there."""
    from dataclasses import fields

    from quinto.settings import SETTINGS
    from quinto.spec.model import Project
    from quinto.spec.project import default_settings
    from quinto.workspace import Settings

    assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS]
    bare = Project(".", {}, "sqlite:///x.db", ("checks/",), default_settings())
    typed = Settings.of(bare.settings)
    assert typed.partitions_per_scan == 31 and typed.checks == ("checks/",) and typed.statement_timeout is None


def test_check_files_are_parsed_again_only_when_changed_and_one_broken_file_stays_its_own(tmp_path: Path) -> None:
    from quinto.workspace import Workspace

    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "a.yaml").write_text("table: dw.a\nchecks:\n  - row_count > 0\n", encoding="utf-8")
    (tmp_path / "checks" / "b.yaml").write_text("table: dw.b\nchecks:\n  - row_count > 0\n", encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections:\n  warehouse: 'duckdb:///:memory:'\nstore: sqlite:///s.db\nchecks: [checks/]\n", encoding="utf-8"
    )
    ws = Workspace.load(tmp_path / "quinto.yaml")
    first = ws.tables()
    assert sorted(first.tables) == ["dw.a", "dw.b"] and first.problems == {}
    again = ws.tables()
    assert again.tables["dw.a"] is first.tables["dw.a"] and again.tables["dw.b"] is first.tables["dw.b"]
    (tmp_path / "checks" / "b.yaml").write_text("table: dw.b\nchecks:\n  - rowcount > 0\n", encoding="utf-8")
    broken = ws.tables()
    assert broken.tables["dw.a"] is first.tables["dw.a"]  # not parsed again
    assert broken.tables["dw.b"] is first.tables["dw.b"]  # the broken file's last good version
    ((file, problems),) = broken.problems.items()
    assert file.endswith("b.yaml") and "unknown check type 'rowcount'" in str(problems[0])
    with pytest.raises(SpecError, match="rowcount"):
        ws.suite()  # the CLI and the library refuse to audit with a broken check file, as before
    (tmp_path / "checks" / "b.yaml").write_text("table: dw.b\nchecks:\n  - row_count > 1\n", encoding="utf-8")
    fixed = ws.tables()
    assert fixed.problems == {} and fixed.tables["dw.b"] is not first.tables["dw.b"]
    ws.close()


def test_a_replay_before_an_audit_whose_warehouse_is_down_is_kept(project: Path, sqlite_store_url: str) -> None:  # noqa: F811
    spooled = audit(project, DEAD_STORE, BAD)
    assert spooled.returncode == 1 and "results kept in" in spooled.stderr
    down = run_quinto(
        ["audit", "dw.plays", "-p", GOOD],
        project,
        env(project, sqlite_store_url, WAREHOUSE_URL="postgresql+psycopg://q@127.0.0.1:1/none"),
    )
    assert down.returncode == 3, down.stderr
    runs = {"2026-11-01": (1, "ERROR"), "2026-11-02": (1, "FAIL")}  # the audit's ERROR run is stored too
    assert stored(sqlite_store_url) == runs and spool_files(project) == []
