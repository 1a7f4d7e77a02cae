"""One scheduler per SQLite store: SQLite has no row locks to share a queue safely between
processes, so the first scheduler holds an exclusive lock on `<store>.scheduler.lock` (released by
the operating system when the process ends, however it ends) and a second one refuses to start,
naming the holder."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from quinto.errors import QuintoError
from quinto.store import Store
from quinto.store.common import utcnow


class SchedulerBusy(QuintoError):
    """Another scheduler already runs on this SQLite store (exit code 3)."""


class InstanceLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = -1


def single_instance(store: Store) -> InstanceLock | None:
    """On a SQLite store, take the store's scheduler lock or raise SchedulerBusy; None elsewhere
    (PostgreSQL stores are shared by any number of schedulers)."""
    import fcntl

    url = store.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).resolve().with_name(Path(url.database).name + ".scheduler.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except (OSError, ValueError):
            holder = {}
        os.close(fd)
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('since', '?')}"
            if holder
            else "its holder is unknown"
        )
        raise SchedulerBusy(
            f"another scheduler already runs on the SQLite store {url.database} ({who}); "
            "with SQLite only one scheduler may run: stop that one, or use a PostgreSQL store to run several"
        ) from None
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": utcnow().isoformat()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    return InstanceLock(path, fd)
