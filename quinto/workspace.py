"""A project's resources, opened from its quinto.yaml: its results store. The CLI, the web, the
scheduler, the alert commands and the auditor open the store here, so none of them imports another
for it."""

from __future__ import annotations

from pathlib import Path

from quinto.alerts.record import record_alerts
from quinto.spec import Project, interpolate
from quinto.store import Store


def open_store(project: Project) -> Store:
    """The project's store, whose saved runs raise their alerts; a relative SQLite path is relative
    to quinto.yaml, not to the current directory, so every job of a project shares one store."""
    url = interpolate(project.store, "the store URL")
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        url = prefix + str(Path(project.root) / url[len(prefix) :])
    return Store(url, on_save=(record_alerts,))
