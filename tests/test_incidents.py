"""Incidents end to end: real audits of a DuckDB warehouse saved into SQLite and PostgreSQL stores
open, extend, close and reopen incidents; reruns never duplicate one; ERROR neither opens nor
closes one; people acknowledge and resolve them (resolving marks the partitions); an upgraded store
gets the incidents of its history from the migration."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from quinto.app import audit
from quinto.spec import load_project, load_suite
from quinto.store import Store
from quinto.store.incidents import IncidentConflict, IncidentNotFound
from quinto.store.records import IncidentState, MarkKind
from tests.warehouse import load_tables

DAYS = [(dt.date(2026, 10, 1) + dt.timedelta(days=i)).isoformat() for i in range(12)]
ROWS = "row_count > 50"
CAST = "kind_number >= 0"
CHECKS = f"""
table: dw.events
partition: ds
owners: [events-team@example.com]
checks:
  - {ROWS}
  - {CAST}:
      sql: select min(cast(kind as integer)) from dw.events where ds = :partition
"""


class Warehouse:
    """dw.events with `counts[day]` rows per day; a day in `broken` has a kind that is not a number
    (its `kind_number` check errs)."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
        self.tmp_path, self.store_url = tmp_path, store_url
        self.url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
        self.counts = {d: 100 for d in DAYS}
        self.broken: set[str] = set()
        monkeypatch.setenv("INC_WAREHOUSE", self.url)
        monkeypatch.setenv("INC_STORE", store_url)
        (tmp_path / "checks").mkdir(exist_ok=True)
        (tmp_path / "checks" / "events.yaml").write_text(CHECKS, encoding="utf-8")
        (tmp_path / "quinto.yaml").write_text(
            "connections: {warehouse: '${INC_WAREHOUSE}'}\nstore: '${INC_STORE}'\nchecks: [checks]\n",
            encoding="utf-8",
        )
        self.project = load_project(tmp_path / "quinto.yaml")
        self.suite = load_suite(self.project)

    def load(self) -> None:
        rows: list[list[object]] = []
        for day, n in self.counts.items():
            rows += [[i, "x" if day in self.broken else str(i % 3), day] for i in range(n)]
        columns = {"id": "INTEGER", "kind": "VARCHAR", "ds": "VARCHAR"}
        load_tables(self.url, {"dw.events": {"columns": columns, "rows": rows}})

    def audit(self, *days: str) -> dict[str, str]:
        self.load()
        result = audit("dw.events", list(days), project=self.project, suite=self.suite)
        return {o.partition: str(o.status) for o in result.outcomes if o.check == ROWS}


@pytest.fixture
def wh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Any:
    w = Warehouse(tmp_path, monkeypatch, store_url)
    yield w


def incidents_of(store: Store, check: str = ROWS, states: tuple[str, ...] = ("open", "closed", "resolved")) -> list:
    return [i for i in store.incidents.find(states=states) if i.check_key == check]


def test_consecutive_failures_are_one_incident_until_a_later_partition_passes(wh: Warehouse) -> None:
    wh.counts[DAYS[3]] = wh.counts[DAYS[4]] = 10
    wh.counts[DAYS[7]] = 12
    for day in DAYS[:4]:
        wh.audit(day)
    store = Store.open(wh.store_url)
    try:
        [inc] = incidents_of(store)
        assert (inc.state, inc.first_partition, inc.failing, inc.last_value) == (IncidentState.OPEN, DAYS[3], 1, 10)
        assert wh.audit(DAYS[4]) == {DAYS[4]: "FAIL"}
        [inc] = incidents_of(store)
        assert (inc.state, inc.first_partition, inc.last_partition, inc.failing) == ("open", DAYS[3], DAYS[4], 2)
        # a rerun of a partition the incident holds changes nothing but its value
        wh.counts[DAYS[4]] = 11
        wh.audit(DAYS[4])
        [inc] = incidents_of(store)
        assert (inc.failing, inc.last_value) == (2, 11)
        # a later partition passes: closed
        assert wh.audit(DAYS[5]) == {DAYS[5]: "PASS"}
        [inc] = incidents_of(store)
        assert (inc.state, inc.closed_partition) == ("closed", DAYS[5])
        assert store.incidents.find() == []  # none open
        # a FAIL after that PASS opens a new incident
        wh.audit(DAYS[6], DAYS[7])
        second = store.incidents.find()
        assert [(i.first_partition, i.failing) for i in second] == [(DAYS[7], 1)]
        assert second[0].id != inc.id
        # the partitions of an incident, newest first
        assert [p.partition_value for p in store.incidents.partitions(inc.id)] == [DAYS[4], DAYS[3]]
        assert store.incidents.of_partition("dw.events", DAYS[3])[0].id == inc.id
        # the repaired partition passes on rerun: nothing fails in the incident any more
        wh.counts[DAYS[7]] = 100
        assert wh.audit(DAYS[7]) == {DAYS[7]: "PASS"}
        again = store.incidents.get(second[0].id)
        assert again is not None and (again.state, again.failing) == ("closed", 0)
        assert store.incidents.find() == []
    finally:
        store.close()


def test_a_backfill_out_of_order_and_reruns_make_no_duplicates(wh: Warehouse) -> None:
    for d in DAYS[2:6]:
        wh.counts[d] = 5
    assert wh.audit(DAYS[6]) == {DAYS[6]: "PASS"}
    wh.audit(DAYS[4])  # failing before a passing partition: closed at once
    wh.audit(*DAYS[:6])  # the rest of the history in one run, then once more
    wh.audit(*DAYS[:6])
    store = Store.open(wh.store_url)
    try:
        [inc] = incidents_of(store)
        assert (inc.state, inc.first_partition, inc.last_partition, inc.failing) == (
            "closed",
            DAYS[2],
            DAYS[5],
            4,
        )
        assert inc.closed_partition == DAYS[6]
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM incident_partitions")).scalar_one()
        assert rows == 4
    finally:
        store.close()


def test_error_neither_opens_nor_closes_an_incident(wh: Warehouse) -> None:
    wh.counts[DAYS[1]] = wh.counts[DAYS[3]] = 5
    wh.broken = {DAYS[2]}  # kind_number errs on day 2 and that is no incident
    wh.audit(DAYS[0], DAYS[1])
    wh.load()
    result = audit("dw.events", [DAYS[2]], project=wh.project, suite=wh.suite)
    assert {str(o.status) for o in result.outcomes if o.check == CAST} == {"ERROR"}
    wh.audit(DAYS[3])
    store = Store.open(wh.store_url)
    try:
        # day 2 passed row_count: days 1 and 3 are two incidents
        assert [(i.first_partition, i.state) for i in incidents_of(store)] == [(DAYS[3], "open"), (DAYS[1], "closed")]
        assert incidents_of(store, CAST) == []
        # day 2 fails on rerun: days 1 to 3 are consecutive failures, one incident
        wh.counts[DAYS[2]] = 5
        wh.audit(DAYS[2])
        [inc] = incidents_of(store)
        assert (inc.state, inc.first_partition, inc.last_partition, inc.failing) == ("open", DAYS[1], DAYS[3], 3)
    finally:
        store.close()


def test_erring_partition_between_failures_keeps_one_incident(wh: Warehouse) -> None:
    """kind_number: FAIL (a negative kind), ERROR (not a number), FAIL: one incident, still open."""
    wh.load()
    rows: list[list[object]] = []
    kinds = {DAYS[0]: "1", DAYS[1]: "-1", DAYS[2]: "x", DAYS[3]: "-2"}
    for day, kind in kinds.items():
        rows += [[i, kind, day] for i in range(100)]
    load_tables(wh.url, {"dw.events": {"columns": {"id": "INTEGER", "kind": "VARCHAR", "ds": "VARCHAR"}, "rows": rows}})
    for day in kinds:
        audit("dw.events", [day], project=wh.project, suite=wh.suite)
    store = Store.open(wh.store_url)
    try:
        [inc] = incidents_of(store, CAST)
        assert (inc.state, inc.first_partition, inc.last_partition, inc.failing) == ("open", DAYS[1], DAYS[3], 2)
    finally:
        store.close()


def test_acknowledge_and_resolve(wh: Warehouse) -> None:
    wh.counts[DAYS[2]] = wh.counts[DAYS[3]] = 5
    wh.audit(*DAYS[:4])
    store = Store.open(wh.store_url)
    try:
        [inc] = store.incidents.find()
        acked = store.incidents.acknowledge(inc.id, "alice", "looking at the loader")
        assert (acked.acked_by, acked.ack_note, acked.acknowledged) == ("alice", "looking at the loader", True)
        assert acked.acked_at is not None and acked.acked_at.tzinfo is not None
        done = store.incidents.resolve(inc.id, "defect", "bob", "injected defect")
        assert (done.state, done.resolution, done.resolved_by, done.resolve_reason) == (
            "resolved",
            "defect",
            "bob",
            "injected defect",
        )
        marks = store.marks.details("dw.events")
        assert {p: (m.kind, m.by, m.reason) for p, m in marks.items()} == {
            DAYS[2]: (MarkKind.BAD, "bob", "injected defect"),
            DAYS[3]: (MarkKind.BAD, "bob", "injected defect"),
        }
        with pytest.raises(IncidentConflict):
            store.incidents.resolve(inc.id, "expected", "bob")
        with pytest.raises(IncidentConflict):
            store.incidents.acknowledge(inc.id, "bob")
        with pytest.raises(IncidentNotFound):
            store.incidents.acknowledge(inc.id + 100, "bob")
        # a resolved incident is final: a rerun of its partitions changes nothing, a later failure
        # opens a new one
        wh.audit(DAYS[3])
        assert store.incidents.find() == []
        wh.counts[DAYS[4]] = 5
        wh.audit(DAYS[4])
        [new] = store.incidents.find()
        assert (new.first_partition, new.failing) == (DAYS[4], 1) and new.id != inc.id
        expected = store.incidents.resolve(new.id, "expected", "carol")
        assert expected.resolve_reason is None
        mark = store.marks.details("dw.events", [DAYS[4]])[DAYS[4]]
        assert (mark.kind, mark.by, mark.reason) == (MarkKind.GOOD, "carol", f"incident {new.id} resolved as expected")
    finally:
        store.close()


def test_marking_every_failing_partition_resolves_the_incident(wh: Warehouse) -> None:
    """Marking each failing partition of an incident, one by one, is what resolving it does: the
    last mark resolves it (bad: a defect, good: expected), whether it is open or passing again."""
    wh.counts[DAYS[1]] = wh.counts[DAYS[2]] = 5  # closed by DAYS[3]
    wh.counts[DAYS[5]] = 5  # open
    wh.audit(*DAYS[:6])
    store = Store.open(wh.store_url)
    try:
        closed, opened = sorted(incidents_of(store), key=lambda i: i.id)
        assert (closed.state, opened.state) == ("closed", "open")
        assert store.marks.set("dw.events", DAYS[1], "bad", "loader lost rows", "alice") == []
        assert store.incidents.get(closed.id).state == "closed"  # type: ignore[union-attr]
        # a good mark on the other partition does not resolve it: the marks disagree
        assert store.marks.set("dw.events", DAYS[2], "good", None, "alice") == []
        assert store.marks.set("dw.events", DAYS[2], "bad", "loader lost rows", "alice") == [closed.id]
        done = store.incidents.get(closed.id)
        assert done is not None
        assert (done.state, done.resolution, done.resolved_by, done.resolve_reason) == (
            "resolved",
            "defect",
            "alice",
            "loader lost rows",
        )
        assert store.marks.set("dw.events", DAYS[5], "good", None, "bob") == [opened.id]
        done = store.incidents.get(opened.id)
        assert done is not None and (done.state, done.resolution, done.resolve_reason) == (
            "resolved",
            "expected",
            "its partitions were marked good",
        )
        assert store.incidents.find(states=("open", "closed")) == []
        # marking a partition of a resolved incident again resolves nothing twice
        assert store.marks.set("dw.events", DAYS[5], "bad", None, "bob") == []
    finally:
        store.close()


def test_an_upgraded_store_lists_the_incidents_of_its_history(wh: Warehouse) -> None:
    wh.counts[DAYS[1]] = 5
    wh.counts[DAYS[4]] = wh.counts[DAYS[5]] = 5
    wh.audit(*DAYS[:6])
    store = Store.open(wh.store_url)
    before = [(i.first_partition, i.last_partition, i.state, i.failing) for i in incidents_of(store)]
    assert before == [(DAYS[4], DAYS[5], "open", 2), (DAYS[1], DAYS[1], "closed", 1)]
    # the store as it was before incidents were stored
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE incident_partitions"))
        conn.execute(sa.text("DROP TABLE incidents"))
        for later in ("peak_memory_bytes", "cpu_ms", "bytes_scanned", "rows_scanned"):  # 0010's columns
            conn.execute(sa.text(f"ALTER TABLE statements DROP COLUMN {later}"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0008'"))
    store.close()
    upgraded = Store.open(wh.store_url)
    try:
        after = [(i.first_partition, i.last_partition, i.state, i.failing) for i in incidents_of(upgraded)]
        assert after == before
        wh.counts[DAYS[6]] = 5
        wh.audit(DAYS[6])  # and the next run goes on from there
        assert [i.last_partition for i in upgraded.incidents.find()] == [DAYS[6]]
    finally:
        upgraded.close()


# -- the API and the pages ----------------------------------------------------------------------------
TOKEN = "incident-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no form on the page"
    return found.group(1)


def test_incidents_through_the_api_and_the_pages(wh: Warehouse) -> None:
    from quinto.web import create_app

    wh.counts[DAYS[1]] = 5  # closed by day 2
    wh.counts[DAYS[3]] = wh.counts[DAYS[4]] = 5  # open
    wh.audit(*DAYS[:5])
    client = create_app({"QUINTO_CONFIG": str(wh.tmp_path / "quinto.yaml"), "QUINTO_API_TOKEN": TOKEN}).test_client()
    listed = client.get("/api/incidents").get_json()["incidents"]
    assert [(i["first_partition"], i["last_partition"], i["failing"], i["state"]) for i in listed] == [
        (DAYS[3], DAYS[4], 2, "open")
    ]
    inc = listed[0]["id"]
    assert len(client.get("/api/incidents?state=all").get_json()["incidents"]) == 2
    assert client.get("/api/incidents?owner=events-team@example.com").get_json()["incidents"] == listed
    assert client.get("/api/incidents?owner=someone@example.com").get_json()["incidents"] == []
    assert client.get("/api/incidents?table=dw.other").get_json()["incidents"] == []
    assert client.get("/api/incidents?state=failing").status_code == 400
    detail = client.get(f"/api/incidents/{inc}").get_json()
    assert [(p["partition"], p["failing"], p["value"], p["mark"]) for p in detail["partitions"]] == [
        (DAYS[4], True, 5, None),
        (DAYS[3], True, 5, None),
    ]
    assert client.get(f"/api/incidents/{inc + 100}").status_code == 404
    assert client.get(f"/api/incidents/{2**40}").status_code == 404

    # writes take the token
    assert client.post(f"/api/incidents/{inc}/ack", json={"note": "on it"}).status_code == 401
    assert client.post(f"/api/incidents/{inc}/ack", json={"note": 3}, headers=AUTH).status_code == 400
    assert client.post(f"/api/incidents/{inc}/ack", json={"by": "x"}, headers=AUTH).status_code == 400
    assert client.post(f"/api/incidents/{inc}/ack", data="not json", headers=AUTH).status_code == 400
    assert client.post(f"/api/incidents/{inc + 100}/ack", json={}, headers=AUTH).status_code == 404
    acked = client.post(f"/api/incidents/{inc}/ack", json={"note": "<b>reloading</b>"}, headers=AUTH)
    assert acked.status_code == 200
    assert (acked.get_json()["acked_by"], acked.get_json()["ack_note"]) == ("api", "<b>reloading</b>")

    # /failing: the acknowledged incident in its own section, escaped; the closed one below
    page = client.get("/failing").get_data(as_text=True)
    acked_part = page[page.index('id="acked-incidents"') : page.index('id="closed-incidents"')]
    assert f'href="/incidents/{inc}"' in acked_part and "&lt;b&gt;reloading&lt;/b&gt;" in acked_part
    assert "Nothing is failing that nobody is looking at." in page
    assert "events-team@example.com" in acked_part
    assert f'/tables/dw.events/partitions/{DAYS[1]}"' in page[page.index('id="closed-incidents"') :]

    # the incident page, and resolving it from there (signed in, with the form's CSRF token)
    view = client.get(f"/incidents/{inc}").get_data(as_text=True)
    assert "Sign in</a> to acknowledge or resolve" in view and DAYS[4] in view
    assert client.get(f"/incidents/{inc + 100}").status_code == 404
    csrf = _csrf(client.get("/signin").get_data(as_text=True))
    assert client.post("/signin", data={"token": TOKEN, "csrf_token": csrf}).status_code == 302
    view = client.get(f"/incidents/{inc}").get_data(as_text=True)
    form = {"as": "defect", "reason": "injected defect", "csrf_token": "forged"}
    assert client.post(f"/incidents/{inc}/resolve", data=form).status_code == 400
    form["csrf_token"] = _csrf(view)
    assert client.post(f"/incidents/{inc}/resolve", data={**form, "as": "maybe"}).status_code == 400
    resp = client.post(f"/incidents/{inc}/resolve", data=form)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/incidents/{inc}")
    view = client.get(f"/incidents/{inc}").get_data(as_text=True)
    assert "as defect by api" in view and view.count("marked bad by api: injected defect") == 2
    assert "Resolve: expected" not in view
    assert client.post(f"/incidents/{inc}/resolve", data=form).status_code == 409
    part = client.get(f"/tables/dw.events/partitions/{DAYS[3]}").get_data(as_text=True)
    assert "marked bad by api: injected defect" in part and f'href="/incidents/{inc}"' in part
    mark = client.get(f"/api/tables/dw.events/partitions/{DAYS[3]}").get_json()["mark"]
    assert (mark["kind"], mark["by"], mark["reason"]) == ("bad", "api", "injected defect")
    assert client.get("/api/incidents").get_json()["incidents"] == []

    # resolving through the API: the closed incident, as expected
    closed = client.get("/api/incidents?state=closed").get_json()["incidents"][0]["id"]
    assert client.post(f"/api/incidents/{closed}/resolve", json={"as": "sure"}, headers=AUTH).status_code == 400
    done = client.post(f"/api/incidents/{closed}/resolve", json={"as": "expected"}, headers=AUTH)
    assert done.status_code == 200 and done.get_json()["resolution"] == "expected"
    again = client.post(f"/api/incidents/{closed}/resolve", json={"as": "expected"}, headers=AUTH)
    assert again.status_code == 409 and "resolved already" in again.get_json()["error"]
    assert client.get(f"/api/tables/dw.events/partitions/{DAYS[1]}").get_json()["mark"]["kind"] == "good"


def test_cli_lists_acknowledges_and_resolves_locally_and_via_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store_url: str
) -> None:
    import json

    from tests.servers import quinto_serve
    from tests.test_bad_input import run_quinto

    wh = Warehouse(tmp_path, monkeypatch, sqlite_store_url)
    wh.counts[DAYS[1]] = 5
    wh.counts[DAYS[3]] = wh.counts[DAYS[4]] = 5
    wh.audit(*DAYS[:5])
    monkeypatch.delenv("QUINTO_API_TOKEN", raising=False)

    def quinto(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        proc = run_quinto([*args], tmp_path, env)
        return proc.returncode, proc.stdout, proc.stderr

    code, out, _ = quinto("incidents", "--json")
    assert code == 0
    (inc,) = json.loads(out)["incidents"]
    assert (inc["first_partition"], inc["last_partition"], inc["failing"]) == (DAYS[3], DAYS[4], 2)
    code, out, _ = quinto("incidents")
    assert code == 0 and out.startswith(f"#{inc['id']} ")
    assert f"since {DAYS[3]}..{DAYS[4]}  2 failing  last 5 rows" in out
    assert len(json.loads(quinto("incidents", "--all", "--json")[1])["incidents"]) == 2
    assert quinto("incidents", "--owner", "nobody@example.com")[1] == "no open incidents\n"
    assert quinto("incidents", "--owner", "events-team@example.com", "--json")[1] == quinto("incidents", "--json")[1]

    code, out, _ = quinto("ack", str(inc["id"]), "--note", "reloading")
    assert code == 0 and "acknowledged" in out and ": reloading" in out
    code, _, err = quinto("ack", "999")
    assert code == 2 and err == "Error: no incident 999\n"
    assert quinto("ack", "zero")[0] == 2
    assert quinto("resolve", str(inc["id"]), "--as", "maybe")[0] == 2
    code, out, _ = quinto("resolve", str(inc["id"]), "--as", "defect", "--reason", "injected defect")
    assert code == 0 and "marked bad" in out
    code, _, err = quinto("resolve", str(inc["id"]), "--as", "expected")
    assert code == 2 and "resolved already" in err
    store = Store.open(wh.store_url)
    try:
        marks = store.marks.details("dw.events")
        assert {p: (m.kind, m.reason) for p, m in marks.items()} == {
            DAYS[3]: ("bad", "injected defect"),
            DAYS[4]: ("bad", "injected defect"),
        }
    finally:
        store.close()

    # the same through a server's API, with its write token
    closed = json.loads(quinto("incidents", "--all", "--json")[1])["incidents"][1]
    assert closed["state"] == "closed"
    with quinto_serve(tmp_path / "quinto.yaml", token=TOKEN, log=tmp_path / "serve.log") as url:
        code, out, _ = quinto("incidents", "--all", "--json", "--via", url)
        assert code == 0 and [i["id"] for i in json.loads(out)["incidents"]] == [inc["id"], closed["id"]]
        code, _, err = quinto("ack", str(closed["id"]), "--via", url)
        assert code == 2 and "QUINTO_API_TOKEN" in err
        code, out, _ = quinto("ack", str(closed["id"]), "--note", "seen", "--via", url, env={"QUINTO_API_TOKEN": TOKEN})
        assert code == 0 and "acknowledged by api: seen" in out
        code, _, err = quinto("ack", "999", "--via", url, env={"QUINTO_API_TOKEN": TOKEN})
        assert code == 2 and err == "Error: no incident 999\n"
        code, out, _ = quinto(
            "resolve", str(closed["id"]), "--as", "expected", "--via", url, env={"QUINTO_API_TOKEN": TOKEN}
        )
        assert code == 0 and "resolved (expected)" in out
    code, _, err = quinto("incidents", "--via", "http://127.0.0.1:1")
    assert code == 3 and "cannot reach" in err
    assert quinto("incidents", "--via", "not a url")[0] == 2


def test_a_mark_through_the_cli_the_api_or_the_page_says_which_incidents_it_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store_url: str
) -> None:
    from quinto.web import create_app

    from tests.test_bad_input import run_quinto

    wh = Warehouse(tmp_path, monkeypatch, sqlite_store_url)
    wh.counts[DAYS[1]] = 5  # closed by day 2
    wh.counts[DAYS[3]] = 7  # open
    wh.counts[DAYS[5]] = 9  # open, two partitions
    wh.counts[DAYS[6]] = 8
    wh.audit(*DAYS[:7])
    store = Store.open(wh.store_url)
    try:
        ids = {i.first_partition: i.id for i in incidents_of(store)}
    finally:
        store.close()
    client = create_app({"QUINTO_CONFIG": str(tmp_path / "quinto.yaml"), "QUINTO_API_TOKEN": TOKEN}).test_client()
    # /failing and the incident page say the last value in the check's unit
    failing = client.get("/failing").get_data(as_text=True)
    assert ">8 rows</td>" in failing and ">7 rows</td>" in failing
    assert "(value 8 rows)" in client.get(f"/incidents/{ids[DAYS[5]]}").get_data(as_text=True)

    monkeypatch.delenv("QUINTO_API_TOKEN", raising=False)
    proc = run_quinto(["mark", "dw.events", "-p", f"ds={DAYS[1]}", "bad", "--reason", "loader"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"dw.events ds={DAYS[1]} marked bad\n"
        f"incident {ids[DAYS[1]]} resolved as defect: every partition failing in it is marked bad\n"
    )
    marked = client.post(f"/api/partitions/dw.events/{DAYS[3]}/mark", json={"mark": "good"}, headers=AUTH)
    assert marked.status_code == 200 and marked.get_json()["resolved_incidents"] == [ids[DAYS[3]]]
    # one of two failing partitions marked: the incident stays open
    marked = client.post(f"/api/partitions/dw.events/{DAYS[5]}/mark", json={"mark": "bad"}, headers=AUTH)
    assert marked.get_json()["resolved_incidents"] == []
    assert client.get(f"/api/incidents/{ids[DAYS[5]]}").get_json()["incident"]["state"] == "open"
    # the page's mark form, signed in, flashes what the mark resolved
    client.post("/signin", data={"token": TOKEN, "csrf_token": _csrf(client.get("/signin").get_data(as_text=True))})
    page = client.get(f"/tables/dw.events/partitions/{DAYS[6]}").get_data(as_text=True)
    done = client.post(
        f"/tables/dw.events/partitions/{DAYS[6]}/mark",
        data={"mark": "bad", "reason": "loader", "csrf_token": _csrf(page)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"incident {ids[DAYS[5]]} resolved as a defect" in done
    assert client.get(f"/api/incidents/{ids[DAYS[5]]}").get_json()["incident"]["resolution"] == "defect"
