"""The spool: where a computed run waits while the store cannot take it, as one JSON file per run.

Guarantees (each has a crash test, `kill -9` at every step, on SQLite and PostgreSQL):
- A spool file appears whole or not at all: it is written to a temporary file, fsynced and renamed.
  A temporary file that cannot be written (a full disk) is removed; one left by a writer that died
  is finished when it holds a whole run, and removed when it does not.
- Replaying claims a file by renaming it to `run-….<host>~<pid>~<time>.replaying`; a claim whose
  process is gone (same host), or older than `LEASE_S`, is taken back by the next replay, so a
  `kill -9` during replay never strands a run.
- A file is deleted only after its run is read back from the same store (see `quinto.record`);
  saving is idempotent (each run carries a key), so replaying a file twice stores it once.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from quinto.failpoints import crash_point
from quinto.results import Run

LEASE_S = 600.0  # a replay claim older than this is a dead (or hung) replayer's
STALE_TMP_S = 600.0  # a temporary file older than this, of another host, is a dead writer's


def _tag(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:64] or "host"


HOST = _tag(socket.gethostname())


def _owner_dead(host: str, pid: str) -> bool:
    """True when `host`/`pid` names a process of this host that no longer runs."""
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it runs, as someone else
    return False


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write(run: Run, directory: str | Path) -> Path:
    """Spool `run`; the file is complete and durable when this returns. Raises OSError (the
    temporary file removed) when it cannot be written."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    name = f"run-{run.started_at.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}"
    path = d / f"{name}.json"
    tmp = d / f"{name}.{HOST}~{os.getpid()}.tmp"
    data = run.to_json().encode("utf-8")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            crash_point("spool_tmp_written")
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    crash_point("spool_renamed")
    _fsync_dir(d)
    return path


@dataclass
class Claim:
    """A spool file this process replays: `path` is its claimed name, `original` its spooled one."""

    path: Path
    original: Path
    run: Run | None = None

    def release(self) -> None:
        """Give the file back to the spool (the store did not take it)."""
        with contextlib.suppress(OSError):
            self.path.rename(self.original)

    def done(self) -> None:
        """The run is in the store: remove the file."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        _fsync_dir(self.path.parent)


def claim(path: Path) -> Claim | None:
    """Claim a spooled file for replay (an atomic rename); None when another process has it."""
    base = path.name.split(".", 1)[0]
    claimed = path.with_name(f"{base}.{HOST}~{os.getpid()}~{int(time.time())}.replaying")
    try:
        path.rename(claimed)
    except OSError:
        return None
    return Claim(claimed, path.with_name(f"{base}.json"))


def recover(directory: Path, now: float | None = None) -> int:
    """Give back the claims of replayers that died (or whose lease ran out) and finish or remove
    the temporary files of writers that died; returns the files given back to the spool."""
    now = time.time() if now is None else now
    back = 0
    for f in sorted(directory.glob("run-*.replaying")):
        base, _, rest = f.name.partition(".")
        parts = rest.removesuffix(".replaying").split("~")
        if len(parts) == 3 and parts[2].isdigit():
            stale = _owner_dead(parts[0], parts[1]) or now - int(parts[2]) > LEASE_S
        else:  # a claim without an owner (written by Quinto before 0.2): by its age
            stale = now - _mtime(f, now) > LEASE_S
        if stale:
            with contextlib.suppress(OSError):
                f.rename(f.with_name(f"{base}.json"))
                back += 1
    for f in sorted(directory.glob("run-*.tmp")):
        base, _, rest = f.name.partition(".")
        owner = rest.removeprefix("json.").removesuffix(".tmp").split("~")
        dead = _owner_dead(*owner) if len(owner) == 2 else False
        if not dead and now - _mtime(f, now) <= STALE_TMP_S:
            continue  # a writer at work
        try:
            Run.from_json(f.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError):
                f.unlink()  # a partial file: its writer died before the run was spooled
            continue
        with contextlib.suppress(OSError):
            f.rename(f.with_name(f"{base}.json"))  # whole: its writer died between write and rename
            back += 1
    return back


def _mtime(path: Path, default: float) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return default


def pending(directory: str | Path) -> list[Path]:
    """The spooled files waiting for replay, oldest first (after `recover`)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    recover(d)
    return sorted(d.glob("run-*.json"))


def read(c: Claim) -> Run | None:
    """The claimed file's run; a file that does not parse is moved to `unreadable/` (None)."""
    try:
        c.run = Run.from_json(c.path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError):
        failed = c.path.parent / "unreadable"
        failed.mkdir(exist_ok=True)
        c.path.rename(failed / c.original.name)
        return None
    return c.run
