"""The web UI and JSON API through Flask's test client, on a real store: the audited demo project
(SQLite) and hand-made runs on SQLite and PostgreSQL. Everything from the store is escaped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from quinto.web import create_app

from quinto.evaluate import Status
from quinto.store import Store, sort_key
from tests.test_bad_input import run_quinto
from tests.test_store import make_run
from tests.webdata import build_demo

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("web") / "demo")


@pytest.fixture
def client(demo: Path) -> FlaskClient:
    return create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN}).test_client()


def text(resp: object) -> str:
    return resp.get_data(as_text=True)  # type: ignore[attr-defined]


def test_pages_render_and_escape(store_url: str) -> None:
    store = Store(store_url)
    run = make_run("2026-11-01", Status.FAIL, 0, table="dw.<script>x</script>")
    run.outcomes[0].message = "<script>alert(1)</script>"
    run.outcomes[0].samples = [{"email": "<b>bold</b>"}]
    store.save_run(run)
    store.save_run(make_run("2026-11-02", Status.PASS, 3, dt.datetime(2026, 11, 28, tzinfo=dt.UTC)))
    client = create_app({"QUINTO_STORE": store_url}).test_client()
    for url in ("/", "/failing", "/runs", "/runs/1"):
        page = text(client.get(url))
        assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page, url
    table = client.get("/tables/dw.t")
    assert table.status_code == 200 and "row_count &gt; 0" in text(table)
    part = text(client.get("/tables/dw.<script>x</script>/partitions/2026-11-01"))
    assert "<script>alert(1)</script>" not in part and "&lt;script&gt;alert(1)&lt;/script&gt;" in part
    assert "&lt;b&gt;bold&lt;/b&gt;" in part and "SELECT 1" in part
    assert client.get("/tables/dw.nothing").status_code == 404
    api = client.get("/api/tables").get_json()
    assert {t["table"] for t in api["tables"]} == {"dw.<script>x</script>", "dw.t"}
    assert client.get("/").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_overview_lists_tables_with_owners_and_filters(client: FlaskClient) -> None:
    page = text(client.get("/"))
    for table in ("dw.fact_playback", "dw.fact_signup", "dw.dim_title"):
        assert f">{table}</a>" in page
    assert "playback-data@example.com" in page
    only = text(client.get("/?owner=growth-data@example.com"))
    assert ">dw.fact_signup</a>" in only and ">dw.fact_playback</a>" not in only
    assert ">dw.fact_playback</a>" in text(client.get("/?q=PLAY")) and ">dw.fact_signup</a>" not in text(
        client.get("/?q=PLAY")
    )
    assert "No table matches" in text(client.get("/?connection=elsewhere"))
    rows = {t["table"]: t for t in client.get("/api/tables").get_json()["tables"]}
    assert (
        rows["dw.fact_playback"]["failing_recent"] == 9 and rows["dw.fact_playback"]["latest_partition"] == "2026-11-27"
    )
    assert rows["dw.fact_signup"]["failing_recent"] == 2
    # an anomaly check still learning does not colour its table WARN
    assert [t["table"] for t in client.get("/api/tables?status=WARN").get_json()["tables"]] == []
    # the newest partition of both facts fails (the bad country codes; the malformed e-mails again)
    assert [t["table"] for t in client.get("/api/tables?status=PASS").get_json()["tables"]] == ["dw.dim_title"]
    failing = [t["table"] for t in client.get("/api/tables?status=FAIL").get_json()["tables"]]
    assert sorted(failing) == ["dw.fact_playback", "dw.fact_signup"]


def test_failing_page_lists_the_incidents(client: FlaskClient) -> None:
    page = text(client.get("/failing"))
    # open: the malformed e-mails of the last day (nobody on it), and apart, the bad country codes
    # the demo acknowledged; the closed ones nobody resolved after them (the duplicates were
    # resolved as a defect by the demo)
    opened = page[page.index('id="open-incidents"') : page.index('id="acked-incidents"')]
    assert re.findall(r'class="partition-link" href="([^"]+)"', opened) == [
        "/tables/dw.fact_signup/partitions/2026-11-27"
    ]
    acked = page[page.index('id="acked-incidents"') : page.index('id="closed-incidents"')]
    assert "partner feed sends country &#39;XX&#39;; a fix" in acked
    assert re.findall(r'class="partition-link" href="([^"]+)"', acked) == [
        "/tables/dw.fact_playback/partitions/2026-11-25"
    ]
    closed = page[page.index('id="closed-incidents"') :]
    since = re.findall(r'class="partition-link" href="([^"]+)"', closed)
    assert len(since) == 5
    assert "/tables/dw.fact_playback/partitions/2026-11-13" not in since  # resolved
    assert "/tables/dw.fact_playback/partitions/2026-11-18" not in since  # marked bad: resolved by the mark
    only = text(client.get("/failing?owner=growth-data@example.com"))
    since = re.findall(r'class="partition-link" href="([^"]+)"', only)
    assert since == ["/tables/dw.fact_signup/partitions/2026-11-27", "/tables/dw.fact_signup/partitions/2026-11-16"]
    assert "dw.fact_signup" not in text(client.get("/failing?table=dw.fact_playback"))
    # the failing partitions themselves, in the API
    api = client.get("/api/failing?table=dw.fact_signup").get_json()["partitions"]
    assert [(p["partition"], [f["check"] for f in p["failures"] if f["status"] == "FAIL"]) for p in api] == [
        ("2026-11-27", ["invalid_count(email) = 0"]),
        ("2026-11-16", ["invalid_count(email) = 0"]),
    ]


def test_marks_are_shown_with_who_and_why(client: FlaskClient) -> None:
    page = text(client.get("/tables/dw.fact_playback/partitions/2026-11-13"))
    assert "marked bad by demo: injected defect: 250 duplicated play_id" in page
    api = client.get("/api/tables/dw.fact_playback/partitions/2026-11-13").get_json()["mark"]
    assert (api["kind"], api["by"], api["reason"]) == ("bad", "demo", "injected defect: 250 duplicated play_id")
    assert api["at"].endswith("+00:00")
    assert client.get("/api/tables/dw.fact_playback/partitions/2026-11-12").get_json()["mark"] is None
    heat = text(client.get("/tables/dw.fact_playback?last=30"))
    # two partitions marked bad (the duplicates and the volume drop), ten checks each
    assert heat.count('data-mark="bad"') == 20
    assert 'class="part status-fail marked-bad" title="2026-11-13 · marked bad"' in heat


def test_table_page_heatmap_trends_and_sources(client: FlaskClient) -> None:
    page = text(client.get("/tables/dw.fact_playback?last=30"))
    heat = page[page.index('id="heatmap"') : page.index("</table>", page.index('id="heatmap"'))]
    cells = re.findall(r'<td class="cell (\w+)">', heat)
    # 7 defects (the volume drop fails two checks), the bad country codes on two more days
    assert len(cells) == 10 * 30 and cells.count("fail") == 10
    # newest on the right: the last column header is the newest partition
    assert re.findall(r'<th class="part[^"]*" title="([^"]+)"', heat)[-1] == "2026-11-27"
    assert 'data-partition="2026-11-13" data-status="FAIL"' in heat
    charts = re.findall(r'<svg class="trend"[^>]*aria-label="([^"]+)"[^>]*data-points="(\d+)"', page)
    # the change check charts changes, never a raw value: 30 (the first shown has its previous partition)
    assert len(charts) == 10
    assert {n for key, n in charts if "change vs" not in key} == {"30"}
    assert [n for key, n in charts if "change vs" in key] == ["30"]
    assert "checks/dw/fact_playback.yaml:11:5" in page  # duplicate_count's declaration
    default = text(client.get("/tables/dw.fact_playback?last=7"))  # 7 is not a range: the default 90
    assert default.count('<td class="cell ') == 10 * 90
    assert client.get("/tables/dw.unknown").status_code == 404


def test_partition_page_shows_values_sql_samples_and_run_log(client: FlaskClient) -> None:
    page = text(client.get("/tables/dw.fact_playback/partitions/2026-11-13"))
    assert "duplicate_count(play_id) = 0" in page and "p-2026-11-13-" in page  # failing-row samples
    sql = re.findall(r'<pre class="sql">(.*?)</pre>', page, re.S)
    assert sql and "GROUP BY" in sql[0]  # the grouped scan that computed all 30 partitions, with its binds
    assert re.search(r'<pre class="params">:qp\d+ = ', page)
    log = page[page.index('id="runlog"') :]
    assert re.findall(r'<a href="/runs/(\d+)">', log) == ["2"] and "<td>demo</td>" in log
    assert "Mark good" not in page and "Sign in</a> to mark" in page
    assert client.get("/tables/dw.fact_playback/partitions/1999-01-01").status_code == 404


def test_runs_page_and_run_page(client: FlaskClient) -> None:
    page = text(client.get("/runs"))
    assert page.count('<tr><td><a href="/runs/') == 3 and "dw.fact_signup" in page
    run = text(client.get("/runs/2"))
    # 3 grouped scans, the orphan check's own query for each of 90 partitions, the failing-row samples of all
    assert "dw.fact_playback</a>" in run and run.count('<pre class="sql">') == 3 + 90 + 1 and "superseded" not in run
    assert client.get("/runs/999").status_code == 404
    assert len(client.get("/api/runs?limit=2").get_json()["runs"]) == 2
    assert [r["id"] for r in client.get("/api/runs?before=2").get_json()["runs"]] == [1]


def test_api_endpoints(client: FlaskClient) -> None:
    parts = client.get("/api/tables/dw.fact_playback/partitions?last=5").get_json()["partitions"]
    assert [p["partition"] for p in parts] == [f"2026-11-{d}" for d in (27, 26, 25, 24, 23)]
    assert parts[2]["status"] == "FAIL" and parts[2]["failed"] == 1
    detail = client.get("/api/tables/dw.fact_playback/partitions/2026-11-25").get_json()
    assert any(o["status"] == "FAIL" and o["check"].startswith("invalid_percent") for o in detail["outcomes"])
    metrics = client.get("/api/tables/dw.fact_playback/metrics").get_json()["metrics"]
    assert "row_count" in metrics and "duplicate_count(play_id)" in metrics
    hist = client.get("/api/tables/dw.fact_playback/metrics/row_count/history").get_json()["points"]
    assert len(hist) == 90 and hist[0]["partition"] == "2026-08-30" and hist[-1]["partition"] == "2026-11-27"
    assert len(client.get("/api/tables/dw.fact_playback/metrics/row_count/history?last=7").get_json()["points"]) == 7
    run = client.get("/api/runs/1").get_json()
    assert run["verdict"] in ("publish", "do not publish") and run["statements"] and run["outcomes"]
    for url, code in [
        ("/api/tables/dw.nope/partitions", 404),
        ("/api/tables/dw.fact_playback/metrics/nope/history", 404),
        ("/api/tables/dw.fact_playback/partitions?last=abc", 400),
        ("/api/tables/dw.fact_playback/partitions?last=0", 400),
        ("/api/runs/12345", 404),
        ("/api/nothing", 404),
    ]:
        resp = client.get(url)
        assert resp.status_code == code and "error" in resp.get_json(), url


def test_openapi_document_is_valid_and_covers_the_routes(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)
        for r in client.application.url_map.iter_rules()
        if r.rule.startswith("/api/") and r.rule != "/api/openapi.json"
    }
    assert routes == set(doc["paths"])


def _conforms(body: object, schema: dict[str, Any], schemas: dict[str, Any], where: str) -> None:
    """`body` has exactly the properties its schema declares, of the declared types, all the way down."""
    nullable = bool(schema.get("nullable"))  # a nullable $ref: {"allOf": [{"$ref": ...}], "nullable": true}
    while "$ref" in schema or "allOf" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema["allOf"][0]
    if body is None:
        assert nullable or schema.get("nullable"), f"{where}: null, not declared nullable"
    elif schema.get("type") == "object" and "properties" in schema:
        assert isinstance(body, dict) and set(body) == set(schema["properties"]), where
        for key, value in body.items():
            _conforms(value, schema["properties"][key], schemas, f"{where}.{key}")
    elif schema.get("type") == "array":
        assert isinstance(body, list), where
        for i, item in enumerate(body):
            _conforms(item, schema["items"], schemas, f"{where}[{i}]")
    elif "type" in schema:
        types = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict}
        assert isinstance(body, types[schema["type"]]), f"{where}: {body!r} is not {schema['type']}"
        assert "enum" not in schema or body in schema["enum"], f"{where}: {body!r} not in {schema['enum']}"
        if schema.get("format") == "date-time":
            assert dt.datetime.fromisoformat(body).tzinfo is not None, f"{where}: {body} has no offset"


def test_api_responses_are_exactly_their_generated_schemas(client: FlaskClient) -> None:
    from quinto.web.openapi import COMPONENTS

    from quinto.store.records import OutcomeRecord, json_name

    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    # generated from the classes: every field is there under its JSON name, described where the
    # class documents it; the JSON names are the vocabulary of `quinto audit --json`
    assert set(schemas["Outcome"]["properties"]) == {json_name(f) for f in dataclasses.fields(OutcomeRecord)}
    assert {"table", "partition", "check"} <= set(schemas["Outcome"]["properties"])
    assert "sort_key" not in schemas["PartitionStatus"]["properties"]
    assert schemas["Outcome"]["properties"]["source"]["description"] == "file:line:col of the check"
    assert set(COMPONENTS) <= set(schemas)
    assert client.post("/api/snoozes", json={"table": "dw.fact_signup", "for": "2h"}, headers=AUTH).status_code == 201
    run_id = client.get("/api/runs?limit=1").get_json()["runs"][0]["id"]
    incident_id = client.get("/api/incidents?state=resolved").get_json()["incidents"][0]["id"]
    urls = [
        ("/api/tables", "Tables"),
        ("/api/tables/dw.fact_playback/partitions?last=5", "Partitions"),
        ("/api/tables/dw.fact_playback/partitions/2026-11-18", "PartitionDetail"),
        ("/api/tables/dw.fact_playback/metrics", "Metrics"),
        ("/api/failing", "Failing"),
        ("/api/tables/dw.fact_playback/partitions/2026-11-13", "PartitionDetail"),
        ("/api/incidents?state=all", "Incidents"),
        (f"/api/incidents/{incident_id}", "IncidentDetail"),
        ("/api/runs", "Runs"),
        (f"/api/runs/{run_id}", "Run"),
        ("/api/snoozes", "Snoozes"),
    ]
    try:
        for url, name in urls:
            _conforms(client.get(url).get_json(), {"$ref": f"#/components/schemas/{name}"}, schemas, url)
        assert client.get("/api/snoozes").get_json()["snoozes"] and client.get("/api/failing").get_json()["partitions"]
    finally:
        client.delete("/api/snoozes?table=dw.fact_signup", headers=AUTH)


def test_api_writes_need_the_bearer_token(demo: Path) -> None:
    url = "/api/partitions/dw.fact_playback/2026-11-18/mark"
    body = {"mark": "good", "reason": "a known holiday dip"}
    closed = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": None}).test_client()
    assert closed.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    client = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN}).test_client()
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(url, json={"mark": "maybe"}, headers=auth).status_code == 400
    assert client.post(url, data="not json", headers=auth).status_code == 400
    assert client.post("/api/partitions/dw.fact_playback/1999-01-01/mark", json=body, headers=auth).status_code == 404
    resp = client.post(url, json=body, headers=auth)
    assert resp.status_code == 200 and resp.get_json()["mark"] == "good"
    mark = client.get("/api/tables/dw.fact_playback/partitions/2026-11-18").get_json()["mark"]
    assert (mark["kind"], mark["by"], mark["reason"]) == ("good", "api", "a known holiday dip")
    client.post(url, json={"mark": "bad"}, headers=auth)  # leave the demo store as the other tests expect
    assert "marked bad" in text(client.get("/tables/dw.fact_playback/partitions/2026-11-18"))


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_ui_writes_need_sign_in_and_csrf(demo: Path) -> None:
    client = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN}).test_client()
    part = "/tables/dw.fact_signup/partitions/2026-11-16"
    csrf = _csrf(text(client.get("/signin")))
    # a form post without our CSRF token is refused, signed in or not
    assert client.post(part + "/mark", data={"mark": "bad"}).status_code == 400
    assert client.post(part + "/mark", data={"mark": "bad", "csrf_token": csrf}).status_code == 401
    assert client.post("/signin", data={"token": "wrong", "csrf_token": csrf}).status_code == 401
    assert client.post("/signin", data={"token": TOKEN}).status_code == 400
    resp = client.post("/signin", data={"token": TOKEN, "csrf_token": csrf, "next": part})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(part)
    page = text(client.get(part))
    assert "Mark good" in page
    resp = client.post(part + "/mark", data={"mark": "bad", "reason": "<i>typo wave</i>", "csrf_token": "forged"})
    assert resp.status_code == 400
    resp = client.post(part + "/mark", data={"mark": "bad", "reason": "<i>typo wave</i>", "csrf_token": _csrf(page)})
    assert resp.status_code == 302
    assert "marked bad" in text(client.get(part))
    assert (
        client.post("/signin", data={"token": TOKEN, "csrf_token": csrf, "next": "//evil.example"}).headers["Location"]
        == "/"
    )
    other = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN}).test_client()
    assert other.post(part + "/mark", data={"mark": "good", "csrf_token": csrf}).status_code == 400  # not its session


def test_read_models_follow_supersedes_and_integer_order(store_url: str) -> None:
    store = Store(store_url)
    for hour in (9, 10, 8):
        store.save_run(make_run(str(hour), Status.PASS, hour))
    assert [p.partition_value for p in store.results.partitions("dw.t")] == ["10", "9", "8"]
    assert store.results.table("dw.t").latest_partition == "10"  # type: ignore[union-attr]
    later = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    store.save_run(make_run("10", Status.FAIL, 0, later))
    summary = store.results.table("dw.t")
    assert summary is not None and (summary.status, summary.failing_recent, summary.partitions) == (
        "FAIL",
        1,
        3,
    )
    store.save_run(make_run("10", Status.PASS, 5, later + dt.timedelta(hours=1)))
    assert store.results.table("dw.t").failing_recent == 0  # type: ignore[union-attr]
    assert [p.status for p in store.results.failing()] == []
    assert sort_key("-5") < sort_key("0") < sort_key("9") < sort_key("10") < sort_key("2026-11-01")


def test_migration_fills_read_models_from_stored_outcomes(sqlite_store_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from quinto.store import MIGRATIONS

    store = Store(sqlite_store_url)
    for i, status in enumerate([Status.PASS, Status.FAIL, Status.WARN]):
        store.save_run(make_run(f"2026-11-0{i + 1}", status, i))
    before = store.results.tables()
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")  # to just before the read models
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    after = Store(sqlite_store_url).results.tables()
    assert [(t.latest_partition, t.status, t.failing_recent, t.partitions) for t in after] == [
        ("2026-11-03", "WARN", 1, 3)
    ]
    assert [t.last_run_id for t in after] == [t.last_run_id for t in before]


@pytest.fixture
def counted() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SELECT VERSION_NUM")):
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)


@pytest.mark.parametrize(
    ("url", "most"),
    [
        ("/", 3),
        ("/failing", 5),
        ("/tables/dw.fact_playback?last=365", 7),
        ("/tables/dw.fact_playback/partitions/2026-11-13", 6),  # with its mark and its incidents
        ("/runs", 2),
        ("/api/tables", 1),
    ],
)
def test_pages_need_few_store_queries(client: FlaskClient, counted: list[str], url: str, most: int) -> None:
    client.get(url)  # the store is migrated and the project loaded once
    counted.clear()
    assert client.get(url).status_code == 200
    assert len(counted) <= most, counted


def test_every_rendered_link_resolves(sqlite_store_url: str) -> None:
    store = Store(sqlite_store_url)
    for part in ("2026-11-01T10:00+01:00", "region=eu/2026 11 02", "100%"):
        store.save_run(make_run(part, Status.FAIL, 1, table="dw.odd name+x?#"))
    client = create_app({"QUINTO_STORE": sqlite_store_url}).test_client()
    seen: set[str] = set()
    todo = ["/", "/failing", "/runs"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        resp = client.get(url)
        assert resp.status_code == 200, url
        for href in re.findall(r'href="(/[^"]*)"', text(resp)):
            href = href.replace("&amp;", "&")
            if not href.startswith(("/static/", "/signin")) and "last=" not in href:
                todo.append(href)
    assert sum("/partitions/" in u for u in seen) == 3 and any(u.startswith("/runs/") for u in seen)


def test_snoozes_through_the_api_and_the_ui(demo: Path) -> None:
    client = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN}).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"table": "dw.fact_signup", "for": "2h", "reason": "<b>partner feed</b> outage"}
    assert client.post("/api/snoozes", json=body).status_code == 401
    for bad in [
        {"table": "dw.fact_signup"},
        {"table": "dw.fact_signup", "for": "2 hours"},
        {"table": "dw.fact_signup", "until": "2000-01-01T00:00Z"},
        {"table": "dw.fact_signup", "for": "400d"},
        {"table": "dw.fact_signup", "for": "2h", "check": "row_count > 1"},
    ]:
        resp = client.post("/api/snoozes", json=bad, headers=auth)
        assert resp.status_code == 400, bad
    assert "did you mean" in client.post("/api/snoozes", json=bad, headers=auth).get_json()["error"]
    assert client.post("/api/snoozes", json={"table": "dw.nope", "for": "2h"}, headers=auth).status_code == 404
    made = client.post("/api/snoozes", json=body, headers=auth)
    assert made.status_code == 201 and made.get_json()["check"] is None
    listed = client.get("/api/snoozes?table=dw.fact_signup").get_json()["snoozes"]
    assert [(s["table"], s["reason"], s["created_by"]) for s in listed] == [
        ("dw.fact_signup", "<b>partner feed</b> outage", "api")
    ]
    page = text(client.get("/tables/dw.fact_signup"))
    assert "Alerts snoozed until" in page and "&lt;b&gt;partner feed&lt;/b&gt; outage" in page
    assert '<span class="snoozed"' in text(client.get("/?q=signup"))
    assert client.delete("/api/snoozes?table=dw.fact_signup", headers=auth).get_json() == {"ended": 1}
    assert client.get("/api/snoozes").get_json()["snoozes"] == []
    # the UI: signed in, snooze one check for a day from the table page, then end it
    csrf = _csrf(text(client.get("/signin")))
    client.post("/signin", data={"token": TOKEN, "csrf_token": csrf})
    form = {"check": "invalid_count(email) = 0", "for": "1d", "reason": "known", "csrf_token": csrf}
    assert client.post("/tables/dw.fact_signup/snooze", data={**form, "for": "1y"}).status_code == 400
    assert client.post("/tables/dw.fact_signup/snooze", data=form).status_code == 302
    page = text(client.get("/tables/dw.fact_signup"))
    assert "Alerts snoozed for <strong>invalid_count(email) = 0</strong>" in page and "End snooze" in page
    data = {"check": "invalid_count(email) = 0", "csrf_token": csrf}
    assert client.post("/tables/dw.fact_signup/unsnooze", data=data).status_code == 302
    assert "Alerts snoozed" not in text(client.get("/tables/dw.fact_signup"))


def test_rerun_button_queues_an_audit_the_scheduler_runs(tmp_path: Path) -> None:
    config = build_demo(tmp_path / "demo")
    client = create_app({"QUINTO_CONFIG": str(config), "QUINTO_API_TOKEN": TOKEN}).test_client()
    part = "/tables/dw.fact_signup/partitions/2026-11-16"
    csrf = _csrf(text(client.get("/signin")))
    assert client.post(part + "/rerun", data={"csrf_token": csrf}).status_code == 401  # not signed in
    client.post("/signin", data={"token": TOKEN, "csrf_token": csrf})
    assert "Rerun audit" in text(client.get(part))
    resp = client.post(part + "/rerun", data={"csrf_token": csrf})
    assert resp.status_code == 302
    run_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    queued = client.get(f"/api/runs/{run_id}").get_json()
    assert (queued["status"], queued["verdict"], queued["trigger"]) == ("QUEUED", None, "web")
    assert "QUEUED" in text(client.get("/runs"))
    proc = run_quinto(["scheduler", "--once", "-c", str(config)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    done = client.get(f"/api/runs/{run_id}").get_json()
    assert (done["status"], done["verdict"], done["exit_code"]) == ("FAIL", "do not publish", 1)
    assert any(o["check"] == "invalid_count(email) = 0" and o["status"] == "FAIL" for o in done["outcomes"])
    log = text(client.get(part))
    assert re.findall(r'<a href="/runs/(\d+)">', log[log.index('id="runlog"') :]) == [str(run_id), "3"]


def test_scheduler_problems_are_shown_on_every_page(sqlite_store_url: str) -> None:
    store = Store(sqlite_store_url)
    store.save_run(make_run("2026-11-01", Status.PASS, 1))
    store.report_problems("host:1", {"checks/dw/t.yaml": "checks/dw/t.yaml:3:5: unknown check type '<rowcount>'"})
    client = create_app({"QUINTO_STORE": sqlite_store_url}).test_client()
    for url in ("/", "/tables/dw.t", "/runs"):
        page = text(client.get(url))
        assert "keeps running their last good version" in page and "&lt;rowcount&gt;" in page


@pytest.mark.parametrize("target", ["//evil.example", "/\t/evil.example", "/\\evil.example", "https://evil.example/"])
def test_sign_in_never_redirects_off_site(demo: Path, target: str) -> None:
    client = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN}).test_client()
    csrf = _csrf(text(client.get("/signin")))
    resp = client.post("/signin", data={"token": TOKEN, "csrf_token": csrf, "next": target})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


@pytest.fixture(scope="module")
def charts_client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    from tests.webdata import build_charts

    config = build_charts(tmp_path_factory.mktemp("charts") / "charts")
    return create_app({"QUINTO_CONFIG": str(config)}).test_client()


def _titles(svg: str) -> list[str]:
    return re.findall(r"<title>([^<]+)</title>", svg)


def test_change_charts_plot_the_change_and_every_point_has_a_tooltip(charts_client: FlaskClient) -> None:
    page = text(charts_client.get("/tables/dw.seasonal?last=365"))
    svgs = {
        m.group(1): m.group(0) for m in re.finditer(r'<svg class="trend"[^>]*aria-label="([^"]+)".*?</svg>', page, re.S)
    }
    change = svgs["row_count change vs previous partition between -40% and +60%"]
    tips = _titles(change)
    assert len(tips) == 119  # the first partition has no change: nothing charted, never its raw count
    assert all(" · expected \u221240 % to 60 % · " in t and ": change " in t for t in tips)
    assert all(re.search(r"change [\u2212+]?[\d.,]+ % \([\d,]+ rows\)", t) for t in tips), tips[:3]
    # the y axis of a change is in percent, at round numbers
    assert re.findall(r'text-anchor="end">([^<]+)</text>', change)[:3] == ["\u2212100 %", "\u221250 %", "0 %"]
    anomaly = svgs["row_count anomaly"]
    assert len(_titles(anomaly)) == 120 and '<rect class="learning"' in anomaly
    drop = [t for t in _titles(anomaly) if t.startswith("2026-11-08:")]
    assert len(drop) == 1 and drop[0].endswith(" · FAIL · marked bad") and " rows · expected " in drop[0]
    fresh = svgs["freshness(event_ts) &lt; 26h"]
    assert all(t.split(": ")[1].split(" · ")[0].endswith((" h", " d", " min", " s")) for t in _titles(fresh))
    assert "expected \u2264 26 h" in fresh
    assert "3.59 M" in svgs["percentile(amount, 0.95) &lt; 10000000"] and "e+06" not in page
    # the heatmap: a legend and a tooltip per cell naming the check, value, range, status, mark
    assert 'id="heatmap-legend"' in page
    assert 'title="row_count anomaly · 2026-11-08: 154 rows · expected' in page and "· FAIL · marked bad" in page


def test_the_page_of_one_check(charts_client: FlaskClient) -> None:
    table = text(charts_client.get("/tables/dw.seasonal"))
    url = "/tables/dw.seasonal/checks/max(latency_ms)%20%3C%20600000"
    assert f'href="{url}"' in table
    page = text(charts_client.get(url))
    assert "<h1>" in page and "max(latency_ms) &lt; 600000" in page
    assert len(re.findall(r"<circle class=\"pt", page)) == 120  # the whole history, not the last 90
    rows = re.findall(r'<tr class="outcome (\w+)">', page)
    assert len(rows) == 120 and rows.count("fail") == 1
    assert re.search(r'<td class="num">900,080</td>', page)  # thousands separators
    assert charts_client.get("/tables/dw.seasonal/checks/nope").status_code == 404
    change = text(
        charts_client.get(
            "/tables/dw.seasonal/checks/row_count%20change%20vs%20previous%20partition%20between%20-40%25%20and%20%2B60%25"
        )
    )
    assert "<th>Change</th>" in change and '<td class="num">\u221267.6 %</td>' in change


def test_an_unpartitioned_table_is_charted_per_run(charts_client: FlaskClient) -> None:
    page = text(charts_client.get("/tables/dw.snapshot"))
    heat = page[page.index('id="heatmap"') : page.index("</table>", page.index('id="heatmap"'))]
    assert len(re.findall(r'<td class="cell (\w+)">', heat)) == 3 * 12  # one column per audit
    assert re.findall(r'<td class="cell (\w+)">', heat).count("fail") == 1
    charts = re.findall(r'<svg class="trend"[^>]*data-points="(\d+)"', page)
    assert charts == ["12", "12", "12"]
    assert "2026-11-27 06:00: 3,970 rows · expected ≥ 100 rows · PASS" in page and "2026-11-16 06:00: 150 rows" in page
    check = text(charts_client.get("/tables/dw.snapshot/checks/missing_count(name)%20=%200"))
    assert len(re.findall(r'<tr class="outcome (\w+)">', check)) == 12 and "Audit (UTC)" in check


def test_queued_run_page_reloads_until_its_verdict(sqlite_store_url: str) -> None:
    store = Store(sqlite_store_url)
    store.save_run(make_run("2026-11-01", Status.PASS, 1))
    client = create_app({"QUINTO_STORE": sqlite_store_url}).test_client()
    done = client.get("/runs/1")
    assert 'http-equiv="refresh"' not in text(done)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE runs SET status = 'QUEUED' WHERE id = 1"))
    queued = client.get("/runs/1")
    assert '<meta http-equiv="refresh" content="3">' in text(queued) and 'id="pending"' in text(queued)
    assert queued.headers["Content-Security-Policy"].startswith("default-src 'none'")
    runs = text(client.get("/runs"))
    assert '<td class="run-error">' in runs and 'class="error"' not in runs.split('id="runs"')[1]
    assert " UTC</td>" in runs


def test_a_run_answer_can_be_held_until_the_verdict_is_in(tmp_path: Path) -> None:
    """`GET /api/runs/<id>?wait=N` (what `quinto audit --via` asks): a pending run's answer comes when
    the run completes, or after N seconds with the run still pending; a complete run's at once."""
    import threading

    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    run_id, _ = store.enqueue("dw.t", "warehouse", "ds", "2026-11-01", fingerprint="f")
    client = create_app({"QUINTO_STORE": url}).test_client()
    pending = client.get(f"/api/runs/{run_id}?wait=1").get_json()  # held a second, still queued
    assert (pending["status"], pending["verdict"]) == ("QUEUED", None)
    started = threading.Event()

    def complete() -> None:
        started.wait()
        run = make_run("2026-11-01", Status.FAIL, 0, dt.datetime.now(dt.UTC))
        run.id = run_id
        store.save_run(run)

    saver = threading.Thread(target=complete)
    saver.start()
    started.set()
    done = client.get(f"/api/runs/{run_id}?wait=20").get_json()  # answered when the run is saved
    saver.join()
    assert (done["status"], done["verdict"], done["exit_code"]) == ("FAIL", "do not publish", 1)
    assert client.get(f"/api/runs/{run_id}?wait=20").get_json()["verdict"] == "do not publish"  # at once
    for bad in ("21", "-1", "soon"):
        assert client.get(f"/api/runs/{run_id}?wait={bad}").status_code == 400
    assert client.get("/api/runs/999999?wait=5").status_code == 404
