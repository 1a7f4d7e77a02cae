"""ONE way a computed run reaches the store, for the CLI, the scheduler, the web's audits and the
library: save (with retries), check that the run can be read back from the same store, else spool
it; and replay what earlier runs spooled. The alert outbox rows are written by the save, in the
run's own transaction (`Store.save_run`), from the routing the run carries (`alert_policy`).

Nothing computed is lost: a spool file is removed only once its run has been read back from the
store it was written to; a store that vanished while the run was saved (a deleted SQLite file, a
file replaced underneath) is a failure, and the run is spooled instead.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from quinto import spool
from quinto.errors import StoreError, first_line
from quinto.failpoints import crash_point
from quinto.results import Run
from quinto.store import ClaimLost, Store
from quinto.store.schema import runs

ATTEMPTS = 3
FIRST_DELAY_S = 0.2


@dataclass(frozen=True)
class StoreFile:
    """Which file a SQLite store is: its path and the identity of the file when it was opened."""

    path: Path
    dev: int
    ino: int


def store_file(store: Store) -> StoreFile | None:
    """The SQLite store's file as it is now (None: not SQLite, in memory, or not created yet)."""
    u = make_url(store.url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    path = Path(u.database)
    try:
        st = path.stat()
    except OSError:
        return None
    return StoreFile(path, st.st_dev, st.st_ino)


def confirm(store: Store, keys: Sequence[str], opened: StoreFile | None) -> None:
    """Raise StoreError unless every run of `keys` can be read from the store, in the file it was
    opened on (a SQLite file deleted or replaced since is not that store). A database server
    (PostgreSQL) that acknowledged the commit is its confirmation: nothing is read back."""
    if not keys:
        return
    u = make_url(store.url)
    if u.get_backend_name() == "postgresql":
        return
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        path = Path(u.database)
        now = store_file(store)
        if now is None or (opened is not None and (now.dev, now.ino) != (opened.dev, opened.ino)):
            store.engine.dispose()  # its pooled connections write to a file that is gone
            raise StoreError(f"the store file {path} was deleted or replaced while the run was written")
        marks = ",".join("?" * len(keys))
        uri = f"{path.resolve().as_uri()}?mode=ro"  # read only: never creates a file where the store was
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
            found = {r[0] for r in conn.execute(f"SELECT run_key FROM runs WHERE run_key IN ({marks})", list(keys))}
    else:
        with store.engine.connect() as conn:
            found = {r[0] for r in conn.execute(sa.select(runs.c.run_key).where(runs.c.run_key.in_(list(keys))))}
    if missing := set(keys) - found:
        raise StoreError(f"{len(missing)} run(s) written to the store ({store.where}) cannot be read back")


@dataclass
class Replay:
    """Spooled runs written to the store by `replay`, whose files wait for `record` to confirm
    them together with the run being recorded (or for `finish`)."""

    store: Store
    opened: StoreFile | None
    claims: list[spool.Claim] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    def keys(self) -> list[str]:
        return [c.run.key for c in self.claims if c.run is not None]

    def settle(self) -> None:
        """Without a run to record with them: confirm the replayed runs on their own."""
        try:
            confirm(self.store, self.keys(), self.opened or store_file(self.store))
        except Exception:  # noqa: BLE001 - not confirmed: the files stay for the next run
            self.finish(confirmed=False)
            return
        self.finish(confirmed=True)

    def finish(self, confirmed: bool) -> None:
        """Remove the files of confirmed runs; give back the others (the next run replays them)."""
        for c in self.claims:
            c.done() if confirmed else c.release()
        self.claims.clear()


def replay(store: Store, spool_dir: str | Path, *, defer: bool = False) -> Replay:
    """Write the spooled runs (oldest first) to the store. Without `defer` each file is removed as
    soon as its run is confirmed; with it, they wait for `record(..., replayed=)` (or `finish`).
    Raises when the store fails: the files not confirmed are given back."""
    opened = store_file(store)
    out = Replay(store, opened)
    for path in spool.pending(spool_dir):
        c = spool.claim(path)
        if c is None:
            continue  # another process replays it
        crash_point("replay_claimed")
        run = spool.read(c)
        if run is None:
            continue
        try:
            out.ids.append(store.save_run(run))
            crash_point("replay_saved")
            if not defer:
                confirm(store, [run.key], opened or store_file(store))
        except BaseException:
            c.release()
            out.finish(confirmed=False)
            raise
        if defer:
            out.claims.append(c)
        else:
            c.done()
    return out


@dataclass
class Recorded:
    run_id: int | None = None
    spooled: Path | None = None
    error: str | None = None  # why the run is not in the store (None: it is)


def record(
    store: Store,
    run: Run,
    spool_dir: str | Path,
    *,
    claimed_by: str | None = None,
    replayed: Replay | None = None,
    attempts: int = ATTEMPTS,
) -> Recorded:
    """Save `run` (retrying), confirm it and the runs `replayed` earlier by this process in the same
    store, and remove their spool files; when the store fails, spool the run. Never raises for a
    store failure (see `Recorded.error`); raises ClaimLost when a scheduler lost the run's claim."""
    opened = replayed.opened if replayed is not None and replayed.opened else store_file(store)
    last = ""
    delay = FIRST_DELAY_S
    for attempt in range(attempts):
        try:
            run_id = store.save_run(run, claimed_by=claimed_by)
            crash_point("save_committed")
            confirm(store, [run.key, *(replayed.keys() if replayed else [])], opened or store_file(store))
        except ClaimLost:
            raise
        except StoreError as exc:  # the store vanished: writing it again would not help
            last = exc.message
            break
        except Exception as exc:  # noqa: BLE001 - whatever the store did, the results must survive
            last = first_line(exc, 500) or type(exc).__name__
            if attempt + 1 < attempts:
                time.sleep(delay)
                delay *= 2
            continue
        if replayed is not None:
            replayed.finish(confirmed=True)
        return Recorded(run_id)
    if replayed is not None:
        replayed.finish(confirmed=False)
    run.id = None if claimed_by is None else run.id
    return _spool(store, run, spool_dir, last)


def _spool(store: Store, run: Run, spool_dir: str | Path, why: str) -> Recorded:
    try:
        path = spool.write(run, spool_dir)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return Recorded(
            error=f"cannot write to the store ({store.where}): {why}; and cannot spool the run to {spool_dir}: "
            f"{reason}; its outcomes are printed above"
        )
    return Recorded(
        spooled=path,
        error=f"cannot write to the store ({store.where}): {why}; results kept in {path} and written by the next run",
    )
