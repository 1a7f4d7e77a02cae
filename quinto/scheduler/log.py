"""Structured logs: one JSON object per line and per event (table, partition, run id, duration,
outcome), easy to grep and to ship."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from quinto.redact import redact
from quinto.results import jsonable
from quinto.store.common import utcnow


class EventLog:
    def __init__(self, stream: IO[str] | None = None, scheduler: str = "") -> None:
        self.stream = stream or sys.stdout
        self.scheduler = scheduler
        self._lock = threading.Lock()
        #: called with each event and its fields after it is written (e.g. the scheduler's metrics)
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def __call__(self, event: str, **fields: Any) -> None:
        record = {
            "ts": utcnow().isoformat(timespec="milliseconds"),
            "event": event,
            "scheduler": self.scheduler,
            **{k: redact(v) if isinstance(v, str) else jsonable(v) for k, v in fields.items() if v is not None},
        }
        line = json.dumps(record, sort_keys=False)
        with self._lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken log stream must not stop the audits
        for listener in self.listeners:
            try:
                listener(event, fields)
            except Exception:  # noqa: BLE001 - counting an event must never stop the audits
                pass
