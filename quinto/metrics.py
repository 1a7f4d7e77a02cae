"""Prometheus metrics: `GET /metrics` on the web app and on `quinto scheduler --metrics-port`.

Two kinds, kept apart on purpose:

- **Store gauges** (`StoreCollector`) are computed from the store at scrape time with a few
  aggregate queries (runs and partitions by table and status, the queue, the alert outbox, open incidents), so
  every web worker and every scheduler reports the same truth however many processes there are.
  Each is one function in `STORE_GAUGES`; a new part of the store adds its own function there.
- **Process counters** (`SchedulerMetrics`, `WebMetrics`) count only what the process itself did:
  the audits a scheduler ran (duration, statements, warehouse seconds, sensor lag), the alerts it
  delivered, its events; the requests a web process answered. Prometheus sums them over instances.

The metric names are listed in README.md ("Operating") and deploy/README.md; deploy/grafana/quinto.json
is built on them (a test checks each name it uses against a real scrape).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from quinto import __version__
from quinto.store.common import aware, utcnow
from quinto.store.records import OutboxStatus, RunStatus
from quinto.store.schema import alert_outbox, incidents, partition_status, runs

if TYPE_CHECKING:
    from quinto.store import Store

CONTENT_TYPE = CONTENT_TYPE_LATEST
# no `*_created` gauge next to every counter and histogram: in the text format it is a series of its
# own that no dashboard reads (Prometheus ignores it)
disable_created_metrics()

#: seconds: from a tenth of a second (a DuckDB audit) to an hour (a slow warehouse)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
#: seconds from a partition being seen by a sensor to its verdict
LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)

#: run statuses of a queued audit; outbox statuses not final yet
PENDING_RUNS = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
UNSENT = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value, OutboxStatus.HELD.value)

PRUNED_KINDS = ("runs", "outcomes", "metric_values", "statements", "samples", "alerts", "snoozes")

#: one store gauge: (connection, now) → metric families. Each reads with cheap aggregates only.
StoreGauge = Callable[[sa.Connection, dt.datetime], Iterable[Metric]]


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, str):  # SQLite hands an aggregate's time back as text
        value = dt.datetime.fromisoformat(value)
    return aware(value)


def _age(now: dt.datetime, then: Any) -> float:
    return max(0.0, (now - (_time(then) or now)).total_seconds())


def runs_gauge(conn: sa.Connection, now: dt.datetime) -> Iterable[Metric]:
    g = GaugeMetricFamily(
        "quinto_runs",
        "Runs in the store by table and status (QUEUED, RUNNING, then the verdict: PASS, WARN, FAIL, ERROR, LEARNING).",
        labels=["table", "status"],
    )
    r = runs.c
    for table, status, n in conn.execute(
        sa.select(r.table_name, r.status, sa.func.count()).group_by(r.table_name, r.status)
    ):
        g.add_metric([table, status], n)
    return [g]


def partitions_gauge(conn: sa.Connection, now: dt.datetime) -> Iterable[Metric]:
    g = GaugeMetricFamily(
        "quinto_partitions",
        "Audited partitions by table and current verdict (the worst current outcome of each partition).",
        labels=["table", "status"],
    )
    ps = partition_status.c
    q = sa.select(ps.table_name, ps.status, sa.func.count()).group_by(ps.table_name, ps.status)
    for table, status, n in conn.execute(q):
        g.add_metric([table, status], n)
    return [g]


def queue_gauges(conn: sa.Connection, now: dt.datetime) -> Iterable[Metric]:
    depth = GaugeMetricFamily(
        "quinto_queue_depth", "Audits in the queue: QUEUED (waiting, retries included) and RUNNING.", labels=["status"]
    )
    oldest = GaugeMetricFamily(
        "quinto_queue_oldest_age_seconds", "Seconds since the oldest QUEUED audit was asked for (0: none queued)."
    )
    r = runs.c
    found = {s: (0, None) for s in PENDING_RUNS}
    q = (
        sa.select(r.status, sa.func.count(), sa.func.min(sa.func.coalesce(r.requested_at, r.started_at)))
        .where(r.status.in_(PENDING_RUNS))
        .group_by(r.status)
    )
    for status, n, first in conn.execute(q):
        found[status] = (n, first)
    for status, (n, _) in found.items():
        depth.add_metric([status], n)
    oldest.add_metric([], _age(now, found[RunStatus.QUEUED.value][1]))
    return [depth, oldest]


def outbox_gauges(conn: sa.Connection, now: dt.datetime) -> Iterable[Metric]:
    count = GaugeMetricFamily(
        "quinto_alert_outbox",
        "Alerts not delivered yet, by outbox status: pending (due or retrying), sending, held (digest items).",
        labels=["status"],
    )
    oldest = GaugeMetricFamily(
        "quinto_alert_outbox_oldest_pending_age_seconds",
        "Seconds since the oldest pending alert was written (0: none pending).",
    )
    failing = GaugeMetricFamily(
        "quinto_alert_outbox_failing",
        "Pending alerts whose delivery failed at least once (waiting for their next attempt).",
    )
    o = alert_outbox.c
    found = {s: (0, None) for s in UNSENT}
    q = sa.select(o.status, sa.func.count(), sa.func.min(o.created_at)).where(o.status.in_(UNSENT)).group_by(o.status)
    for status, n, first in conn.execute(q):
        found[status] = (n, first)
    for status, (n, _) in found.items():
        count.add_metric([status], n)
    oldest.add_metric([], _age(now, found[OutboxStatus.PENDING.value][1]))
    retrying = conn.execute(
        sa.select(sa.func.count()).where(o.status == OutboxStatus.PENDING.value, o.attempts > 0)
    ).scalar_one()
    failing.add_metric([], retrying)
    return [count, oldest, failing]


def incident_gauges(conn: sa.Connection, now: dt.datetime) -> Iterable[Metric]:
    count = GaugeMetricFamily(
        "quinto_incidents_open",
        "Open incidents (consecutive failures of a table's check), by table and whether someone acknowledged them.",
        labels=["table", "acknowledged"],
    )
    oldest = GaugeMetricFamily(
        "quinto_incidents_oldest_unacknowledged_age_seconds",
        "Seconds since the oldest open incident nobody has acknowledged was opened (0: none).",
    )
    i = incidents.c
    acked = i.acked_at.is_not(None)
    q = (
        sa.select(i.table_name, acked.label("acked"), sa.func.count(), sa.func.min(i.opened_at))
        .where(i.state == "open")
        .group_by(i.table_name, acked)
    )
    unacked: list[dt.datetime] = []
    for table, is_acked, n, opened in conn.execute(q):
        count.add_metric([table, "true" if is_acked else "false"], n)
        if not is_acked and (at := _time(opened)) is not None:
            unacked.append(at)
    oldest.add_metric([], _age(now, min(unacked, default=None)))
    return [count, oldest]


#: the store gauges every /metrics reports
STORE_GAUGES: list[StoreGauge] = [runs_gauge, partitions_gauge, queue_gauges, outbox_gauges, incident_gauges]


class StoreCollector:
    """The store gauges, read at each scrape; a store that cannot be read gives `quinto_store_up 0`
    (and no store gauges) instead of a failed scrape."""

    def __init__(self, store: Callable[[], Store], gauges: Iterable[StoreGauge] | None = None) -> None:
        self.store = store
        self.gauges = gauges

    def describe(self) -> Iterable[Metric]:
        return []  # nothing is read when registering

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        now = utcnow()
        found: list[Metric] = []
        up = 1.0
        try:
            store = self.store()
            with store.engine.connect() as conn:  # read only: a scrape never migrates the store
                for gauge in self.gauges if self.gauges is not None else STORE_GAUGES:
                    found.extend(gauge(conn, now))
        except Exception:  # noqa: BLE001 - a store that is down is a value of this metric, not a failed scrape
            found, up = [], 0.0
        yield from found
        yield GaugeMetricFamily("quinto_store_up", "1 when the store answered this scrape's queries, else 0.", value=up)
        yield GaugeMetricFamily(
            "quinto_store_scrape_seconds",
            "Seconds the store gauges of this scrape took to read.",
            value=time.perf_counter() - started,
        )


def _info(registry: CollectorRegistry, role: str) -> None:
    info = GaugeMetricFamily(
        "quinto_build_info", "Quinto's version and this process's role.", labels=["version", "role"]
    )
    info.add_metric([__version__, role], 1)

    class _Info:
        def collect(self) -> Iterable[Metric]:
            return [info]

    registry.register(_Info())  # type: ignore[arg-type]


class SchedulerMetrics:
    """What one scheduler process did, counted from its own event log (`EventLog.listeners`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.audits = Counter(
            "quinto_audits",
            "Audits this scheduler completed, by table and verdict.",
            ["table", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "quinto_audit_duration_seconds",
            "Seconds an audit took in this scheduler (warehouse, judging and saving), by trigger.",
            ["trigger"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.statements = Counter(
            "quinto_audit_statements",
            "Warehouse statements sent by this scheduler's audits.",
            ["table"],
            registry=registry,
        )
        self.warehouse = Counter(
            "quinto_warehouse_seconds",
            "Seconds the warehouse spent on this scheduler's audit statements.",
            ["table"],
            registry=registry,
        )
        self.lag = Histogram(
            "quinto_sensor_lag_seconds",
            "Seconds from a sensor first seeing a partition to its verdict being stored.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.deliveries = Counter(
            "quinto_alert_deliveries",
            "Alert deliveries this process attempted, by result.",
            ["result"],
            registry=registry,
        )
        self.events = Counter(
            "quinto_scheduler_events", "Events this scheduler logged, by event name.", ["event"], registry=registry
        )
        self.pruned = Counter(
            "quinto_pruned_rows",
            "Rows this scheduler's daily retention removed, by kind (runs, outcomes, metric_values, statements, "
            "alerts, snoozes; samples: outcomes whose failing-row samples were cleared).",
            ["kind"],
            registry=registry,
        )
        for result in ("sent", "failed"):
            self.deliveries.labels(result)
        for kind in PRUNED_KINDS:
            self.pruned.labels(kind)

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        self.events.labels(event).inc()
        if event == "audit_done" and "table" in fields:
            table = str(fields["table"])
            self.audits.labels(table, str(fields.get("outcome", "ERROR"))).inc()
            if fields.get("duration_s") is not None:
                self.duration.labels(str(fields.get("trigger", ""))).observe(float(fields["duration_s"]))
            self.statements.labels(table).inc(int(fields.get("statements") or 0))
            self.warehouse.labels(table).inc(float(fields.get("warehouse_s") or 0.0))
            if fields.get("sensor_lag_s") is not None:
                self.lag.observe(float(fields["sensor_lag_s"]))
        elif event == "alerts_sent":
            self.deliveries.labels("sent").inc(int(fields.get("sent") or 0))
            self.deliveries.labels("failed").inc(int(fields.get("failed") or 0))
        elif event == "retention_pruned":
            for kind in PRUNED_KINDS:
                self.pruned.labels(kind).inc(int(fields.get(kind) or 0))


class WebMetrics:
    """The requests one web process answered."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "quinto_http_requests",
            "HTTP requests this web process answered, by method and status code.",
            ["method", "code"],
            registry=registry,
        )


def store_registry(store: Callable[[], Store], role: str) -> CollectorRegistry:
    """A registry with the store gauges and the build info (a process adds its own counters)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))  # type: ignore[arg-type]
    _info(registry, role)
    return registry


def not_ready(store: Store) -> str | None:
    """Why `store` cannot serve now (unreachable, or its schema not at this Quinto's newest
    migration), or None when it can: what `/readyz` answers."""
    from quinto.store.db import HEAD_REVISION

    try:
        at = store.db.revision()
    except Exception as exc:  # noqa: BLE001 - any failure to read is "not ready", said in one line
        from quinto.errors import first_line
        from quinto.redact import redact

        return f"store unreachable ({store.where}): {redact(first_line(exc, 300))}"
    if at != HEAD_REVISION:
        return f"store schema at migration {at or 'none'}, this Quinto needs {HEAD_REVISION} (it migrates when opened)"
    return None


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format of everything in `registry`."""
    return generate_latest(registry)


class MetricsServer:
    """`quinto scheduler --metrics-port`: GET /metrics, /healthz (the process answers) and /readyz
    (the store answers and is at the newest migration), on a thread of its own."""

    #: what it serves
    PATHS = ("/metrics", "/healthz", "/readyz")

    def __init__(self, registry: CollectorRegistry, store: Store, host: str, port: int) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE, render(registry))
                elif path == "/healthz":
                    self._send(200, "application/json", b'{"status": "ok"}')
                elif path == "/readyz":
                    import json

                    reason = not_ready(outer.store)
                    body = {"status": "ok"} if reason is None else {"status": "unavailable", "reason": reason}
                    self._send(200 if reason is None else 503, "application/json", json.dumps(body).encode())
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics, /healthz or /readyz\n")

            def _send(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:  # scrapes are not events worth a log line
                return

        self.store = store
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


__all__ = [
    "CONTENT_TYPE",
    "MetricsServer",
    "STORE_GAUGES",
    "SchedulerMetrics",
    "StoreCollector",
    "StoreGauge",
    "WebMetrics",
    "not_ready",
    "render",
    "store_registry",
]
