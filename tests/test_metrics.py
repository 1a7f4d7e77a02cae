"""Operating endpoints, scraped for real and parsed with prometheus_client's own parser: the web app's
/metrics, /healthz and /readyz after real audits (the demo), two app instances (two workers) reporting
the same store gauges, a store that is down or at a migration this Quinto does not know, and a real
`quinto scheduler --metrics-port` process whose counters follow the audits it ran. The Grafana
dashboard uses only metric names a real scrape has."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from quinto.web import create_app

from quinto.store import HEAD_REVISION, Store
from tests.test_scheduler_processes import HANG_GUARD, Schedulers, quinto_exe, wait_for
from tests.warehouse import load_tables
from tests.webdata import build_demo

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "quinto.json"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape: (name, sorted labels) → value, as Prometheus would read them."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def store_gauges(found: Samples) -> Samples:
    """The samples read from the store (the same whichever process answers the scrape)."""
    local = ("quinto_store_scrape_seconds", "quinto_http_requests", "quinto_build_info")
    return {k: v for k, v in found.items() if not k[0].startswith(local)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("metrics") / "demo")


def scrape(client: Any, path: str = "/metrics") -> str:
    resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain")
    return str(resp.get_data(as_text=True))


def test_web_metrics_follow_the_store(demo: Path) -> None:
    app = create_app({"QUINTO_CONFIG": str(demo)})
    client = app.test_client()
    found = samples(scrape(client))
    store = Store.open(f"sqlite:///{demo.parent / 'quinto.db'}")
    try:
        with store.engine.connect() as conn:
            by_status = {
                (t, s): n
                for t, s, n in conn.execute(
                    sa.text("SELECT table_name, status, count(*) FROM partition_status GROUP BY 1, 2")
                )
            }
            runs = {
                (t, s): n
                for t, s, n in conn.execute(sa.text("SELECT table_name, status, count(*) FROM runs GROUP BY 1, 2"))
            }
        assert by_status and any(s == "FAIL" for _, s in by_status)  # the demo's injected defects
        for (table, status), n in by_status.items():
            assert value(found, "quinto_partitions", table=table, status=status) == n
        for (table, status), n in runs.items():
            assert value(found, "quinto_runs", table=table, status=status) == n
        assert value(found, "quinto_queue_depth", status="QUEUED") == 0
        assert value(found, "quinto_queue_oldest_age_seconds") == 0
        assert value(found, "quinto_store_up") == 1
        # the demo's open incidents: the bad country codes acknowledged, the malformed e-mails not
        assert value(found, "quinto_incidents_open", table="dw.fact_playback", acknowledged="true") == 1
        assert value(found, "quinto_incidents_open", table="dw.fact_signup", acknowledged="false") == 1
        assert value(found, "quinto_incidents_oldest_unacknowledged_age_seconds") > 0
        assert value(found, "quinto_build_info", role="web", version=__import__("quinto").__version__) == 1

        # an audit asked for and not yet run: the queue's depth and age, in every worker alike
        _, created = store.enqueue("dw.fact_signup", "warehouse", "ds", "2026-11-27", trigger="http")
        assert created
        other = create_app({"QUINTO_CONFIG": str(demo)}).test_client()
        first, second = samples(scrape(client)), samples(scrape(other))
        assert value(first, "quinto_queue_depth", status="QUEUED") == 1
        assert value(first, "quinto_runs", table="dw.fact_signup", status="QUEUED") == 1
        assert value(first, "quinto_queue_oldest_age_seconds") > 0
        a, b = store_gauges(first), store_gauges(second)
        for aged in ("quinto_queue_oldest_age_seconds", "quinto_incidents_oldest_unacknowledged_age_seconds"):
            a.pop((aged, ())), b.pop((aged, ()))
        assert a == b  # two web workers, one truth
    finally:
        store.close()

    # the process's own requests: counted by method and status code
    client.get("/no-such-page")
    after = samples(scrape(client))
    assert value(after, "quinto_http_requests_total", method="GET", code="404") == 1
    assert value(after, "quinto_http_requests_total", method="GET", code="200") == 2  # the two scrapes before


def test_health_and_readiness(demo: Path, tmp_path: Path) -> None:
    client = create_app({"QUINTO_CONFIG": str(demo)}).test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ok"}

    # the store down: alive, not ready (the reason says why), metrics still answer
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there
    down = create_app({"QUINTO_STORE": f"postgresql+psycopg://q:q@127.0.0.1:{port}/q?connect_timeout=2"})
    c = down.test_client()
    assert c.get("/healthz").status_code == 200
    resp = c.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["status"] == "unavailable" and "127.0.0.1" in resp.get_json()["reason"]
    found = samples(scrape(c))
    assert value(found, "quinto_store_up") == 0
    assert not any(name == "quinto_partitions" for name, _ in found)

    # a store a newer Quinto migrated: this one cannot serve it
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    Store.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    resp = create_app({"QUINTO_STORE": url}).test_client().get("/readyz")
    assert resp.status_code == 503 and "9999" in resp.get_json()["reason"]
    assert HEAD_REVISION != "9999"


# -- a real scheduler ---------------------------------------------------------------------------

EVENTS = """table: wh.events
partition: ds
on: new_partition
notify: [webhook:ops]
checks:
  - row_count > 0
  - max(amount) < 100
"""


@pytest.fixture(scope="module")
def scheduler_scrape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A `quinto scheduler --metrics-port 0` that audits two partitions seen by its sensor (one
    failing, whose alert cannot be delivered), scraped once it is done."""
    root = tmp_path_factory.mktemp("sched")
    wh = f"duckdb:///{root / 'warehouse.duckdb'}"
    rows = [[1, 5, "2026-11-01"], [2, 7, "2026-11-01"], [3, 500, "2026-11-02"]]
    load_tables(wh, {"wh.events": {"columns": {"id": "INTEGER", "amount": "INTEGER", "ds": "VARCHAR"}, "rows": rows}})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    (root / "checks").mkdir()
    (root / "checks" / "events.yaml").write_text(EVENTS, encoding="utf-8")
    (root / "quinto.yaml").write_text(
        "connections: {warehouse: '${WH_URL}'}\nstore: '${STORE_URL}'\nchecks: [checks]\n"
        "queue_interval: 0.1\nsensor_interval: 0.3\nheartbeat_interval: 0.5\n"
        "webhook:\n  ops:\n    url: ${HOOK_URL}\n",
        encoding="utf-8",
    )
    store_url = f"sqlite:///{root / 'store.db'}"
    sched = Schedulers(root, {"WH_URL": wh, "STORE_URL": store_url, "HOOK_URL": f"http://127.0.0.1:{dead}/hook"})
    log = root / "scheduler-0.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [quinto_exe(), "scheduler", "--metrics-port", "0"], cwd=root, env=sched.env, stdout=out, stderr=out
        )
    sched.procs.append((proc, log))
    try:
        wait_for(lambda: any(e["event"] == "metrics_listening" for e in sched.events()), "the metrics port", sched)
        listening = next(e for e in sched.events() if e["event"] == "metrics_listening")
        assert listening["host"] == "127.0.0.1"
        base = f"http://127.0.0.1:{listening['port']}"
        wait_for(lambda: any(e["event"] == "audit_done" for e in sched.events()), "the sensor's audit", sched)
        wait_for(
            lambda: any(e["event"] == "alerts_sent" and e.get("failed") for e in sched.events()),
            "a failed delivery",
            sched,
        )

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(base + path, timeout=HANG_GUARD) as resp:
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        yield {
            "metrics": get("/metrics")[1],
            "healthz": get("/healthz"),
            "readyz": get("/readyz"),
            "missing": get("/nothing")[0],
            "events": sched.events(),
            "store_url": store_url,
        }
    finally:
        sched.stop()


def test_scheduler_metrics_count_its_audits(scheduler_scrape: dict[str, Any]) -> None:
    found = samples(scheduler_scrape["metrics"])
    done = [e for e in scheduler_scrape["events"] if e["event"] == "audit_done"]
    assert done and all(e["trigger"] == "sensor" for e in done)
    for status in {e["outcome"] for e in done}:
        n = sum(1 for e in done if e["outcome"] == status)
        assert value(found, "quinto_audits_total", table="wh.events", status=status) == n
    assert value(found, "quinto_audit_duration_seconds_count", trigger="sensor") == len(done)
    assert value(found, "quinto_audit_statements_total", table="wh.events") == sum(e["statements"] for e in done)
    assert value(found, "quinto_warehouse_seconds_total", table="wh.events") > 0
    # a sensor saw the partitions, then their verdict was stored: one lag per run
    assert value(found, "quinto_sensor_lag_seconds_count") == len(done)
    lags = [e["sensor_lag_s"] for e in done]
    assert value(found, "quinto_sensor_lag_seconds_sum") == pytest.approx(sum(lags), abs=1e-6)
    # the alert of the failing partition could not be delivered: counted, and still in the outbox
    assert value(found, "quinto_alert_deliveries_total", result="failed") >= 1
    assert value(found, "quinto_alert_outbox", status="pending") >= 1
    assert value(found, "quinto_alert_outbox_failing") >= 1
    assert value(found, "quinto_alert_outbox_oldest_pending_age_seconds") > 0
    # the store gauges, as on the web app
    parts = {(e["partition"], e["outcome"]) for e in done}
    assert value(found, "quinto_partitions", table="wh.events", status="FAIL") >= 1, parts
    assert value(found, "quinto_store_up") == 1
    assert value(found, "quinto_scheduler_events_total", event="audit_done") == len(done)
    assert value(found, "quinto_build_info", role="scheduler", version=__import__("quinto").__version__) == 1


def test_scheduler_health_endpoints(scheduler_scrape: dict[str, Any]) -> None:
    assert scheduler_scrape["healthz"] == (200, '{"status": "ok"}')
    code, body = scheduler_scrape["readyz"]
    assert code == 200 and json.loads(body) == {"status": "ok"}
    assert scheduler_scrape["missing"] == 404


def test_scheduler_metrics_port_in_use(tmp_path: Path) -> None:
    (tmp_path / "quinto.yaml").write_text(f"store: sqlite:///{tmp_path / 's.db'}\nchecks: []\n", encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [quinto_exe(), "scheduler", "--metrics-port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
        )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr


# -- the dashboard ------------------------------------------------------------------------------


def dashboard_metrics() -> set[str]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    assert exprs, "the dashboard has no queries"
    return {m for e in exprs for m in re.findall(r"\b(quinto_[a-z_]+)\b", e)}


def test_dashboard_uses_only_metrics_a_scrape_has(demo: Path, scheduler_scrape: dict[str, Any]) -> None:
    web = create_app({"QUINTO_CONFIG": str(demo)}).test_client()
    scrape(web)  # a served request: the request counter has a sample from now on
    names = {n for n, _ in samples(scrape(web))} | {n for n, _ in samples(scheduler_scrape["metrics"])}
    used = dashboard_metrics()
    assert used - names == set(), f"the dashboard reads metrics no scrape has: {sorted(used - names)}"
    # and it shows each kind: the queue, the audits, the sensors, the alerts, the store
    for wanted in (
        "quinto_queue_depth",
        "quinto_audits_total",
        "quinto_sensor_lag_seconds_bucket",
        "quinto_alert_outbox",
        "quinto_store_up",
    ):
        assert wanted in used


def test_documented_metric_names(demo: Path, scheduler_scrape: dict[str, Any]) -> None:
    """Every family a scrape has is named in README.md and deploy/README.md."""
    web = create_app({"QUINTO_CONFIG": str(demo)}).test_client()
    families = {f.name for f in text_string_to_metric_families(scrape(web))}
    families |= {f.name for f in text_string_to_metric_families(scheduler_scrape["metrics"])}
    for doc in (ROOT / "README.md", ROOT / "deploy" / "README.md"):
        text = doc.read_text(encoding="utf-8")
        missing = sorted(f for f in families if f not in text)
        assert not missing, f"{doc.name} does not name {missing}"
