"""The UI in real headless Chromium (Debian's `chromium`, driven by Playwright) against a real
`quinto serve` on the audited demo project. Screenshots of every page go to
test-output/browser/ (QUINTO_TEST_OUTPUT overrides)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, engine_unavailable
from tests.servers import quinto_serve
from tests.webdata import build_demo

TOKEN = "browser-token"


def chromium_path() -> str:
    found = os.environ.get("QUINTO_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        engine_unavailable("Chromium: no `chromium` on PATH (apt-get install chromium, or set QUINTO_CHROMIUM)")
    return str(found)


@pytest.fixture(scope="module")
def shots() -> Path:
    d = Path(os.environ.get("QUINTO_TEST_OUTPUT", ROOT / "test-output")) / "browser"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    config = build_demo(tmp / "demo")
    with quinto_serve(config, token=TOKEN, log=tmp / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_from_overview_to_a_failing_partition(browser: object, base_url: str, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base_url + "/")
    page.screenshot(path=str(shots / "1-overview.png"), full_page=True)
    rows = page.locator("#tables tbody tr")
    assert rows.count() == 3
    # the failing table: dw.fact_playback has 9 failing partitions among its last 30
    row = page.locator("#tables tbody tr", has_text="dw.fact_playback")
    assert row.locator("td").nth(3).inner_text() == "9"
    row.locator("a.table-link").click()
    page.wait_for_url("**/tables/dw.fact_playback")
    assert page.locator("h1").inner_text().startswith("dw.fact_playback")
    cells = page.locator("#heatmap td.cell")
    assert cells.count() == 10 * 90
    assert page.locator("#heatmap td.cell.fail").count() == 10  # 7 defects (two fail the volume drop), XX twice more
    # every trend chart is drawn with one point per audited partition
    charts = page.locator("svg.trend")
    assert charts.count() == 10
    first = charts.first
    assert first.locator("circle.pt").count() == 90
    box = first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    page.screenshot(path=str(shots / "2-table.png"), full_page=True)
    # click the failing duplicate cell
    page.locator('#heatmap a[data-partition="2026-11-13"][data-status="FAIL"]').click()
    page.wait_for_url("**/tables/dw.fact_playback/partitions/2026-11-13")
    failing = page.locator("#outcomes tr.outcome.fail")
    assert failing.count() == 1 and "duplicate_count(play_id) = 0" in failing.inner_text()
    sql = page.locator("#sql pre.sql").first
    assert sql.is_visible() and "GROUP BY" in sql.inner_text()
    page.screenshot(path=str(shots / "3-partition.png"), full_page=True)
    page.goto(base_url + "/failing")
    assert page.locator("a.partition-link").count() == 7  # 1 open, 1 acknowledged, 5 closed (the marked drop resolved)
    page.screenshot(path=str(shots / "4-failing.png"), full_page=True)
    page.goto(base_url + "/runs")
    assert page.locator("#runs tbody tr").count() == 3
    page.screenshot(path=str(shots / "5-runs.png"), full_page=True)
    assert errors == []  # no console errors (e.g. a Content-Security-Policy violation)
    page.close()


def test_a_year_of_partitions_stays_readable(browser: object, base_url: str, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page.goto(base_url + "/tables/dw.fact_playback?last=365")
    chart = page.locator("svg.trend").first
    box = chart.bounding_box()
    assert box is not None and box["width"] <= 1400
    page.close()


def test_sign_in_and_mark_a_partition(browser: object, base_url: str, shots: Path) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(base_url + "/tables/dw.fact_signup/partitions/2026-11-16")
    assert page.locator("text=Mark good").count() == 0
    page.locator(".actions a", has_text="Sign in").click()
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/tables/dw.fact_signup/partitions/2026-11-16")
    page.fill("input[name=reason]", "3% malformed emails from a partner feed")
    page.click("button[value=bad]")
    page.wait_for_url("**/tables/dw.fact_signup/partitions/2026-11-16")
    assert page.locator("#mark").inner_text() == "marked bad by api: 3% malformed emails from a partner feed"
    page.screenshot(path=str(shots / "6-marked.png"), full_page=True)
    page.close()


def test_failing_lists_open_and_acknowledged_incidents(
    browser: object, shots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_incidents import DAYS, Warehouse

    wh = Warehouse(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'store.db'}")
    wh.counts[DAYS[2]] = wh.counts[DAYS[3]] = 5  # an open incident of row_count
    wh.broken = set()
    wh.audit(*DAYS[:4])
    # a second table's incident, acknowledged
    (tmp_path / "checks" / "clicks.yaml").write_text(
        "table: dw.events_copy\npartition: ds\nowners: [web-team@example.com]\nchecks:\n  - row_count > 200\n",
        encoding="utf-8",
    )
    from tests.warehouse import load_tables

    rows = [[i, "1", d] for d in DAYS[:4] for i in range(100)]
    load_tables(
        wh.url, {"dw.events_copy": {"columns": {"id": "INTEGER", "kind": "VARCHAR", "ds": "VARCHAR"}, "rows": rows}}
    )
    from quinto.app import audit
    from quinto.spec import load_project, load_suite
    from quinto.store import Store

    project = load_project(tmp_path / "quinto.yaml")
    audit("dw.events_copy", DAYS[2:4], project=project, suite=load_suite(project))
    store = Store.open(wh.store_url)
    (acked,) = store.incidents.find(table="dw.events_copy")
    store.incidents.acknowledge(acked.id, "alice", "the copy job is paused on purpose")
    (opened,) = store.incidents.find(table="dw.events")
    store.close()

    with quinto_serve(tmp_path / "quinto.yaml", token=TOKEN, log=tmp_path / "serve.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url + "/failing")
        open_rows = page.locator("#open-incidents tbody tr")
        acked_rows = page.locator("#acked-incidents tbody tr")
        assert open_rows.count() == 1 and acked_rows.count() == 1
        first = open_rows.first.inner_text()
        assert (
            "dw.events" in first
            and "row_count > 50" in first
            and DAYS[2] in first
            and "events-team@example.com" in first
        )
        second = acked_rows.first.inner_text()
        assert "dw.events_copy" in second and "by alice" in second and "the copy job is paused on purpose" in second
        page.screenshot(path=str(shots / "7-incidents.png"), full_page=True)
        # filter by owner
        page.select_option("select[name=owner]", "web-team@example.com")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**/failing?**owner=web-team**")
        assert (
            page.locator("#open-incidents tbody tr").count() == 0
            and page.locator("#acked-incidents tbody tr").count() == 1
        )
        # the open incident's page: sign in, acknowledge it
        page.goto(url + f"/incidents/{opened.id}")
        assert page.locator("#incident-partitions tbody tr").count() == 2
        page.locator(".actions a", has_text="Sign in").click()
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/incidents/{opened.id}")
        page.fill("#ack-form input[name=note]", "reloading the source")
        page.click("#ack-form button[type=submit]")
        page.wait_for_url(f"**/incidents/{opened.id}")
        assert page.locator("#ack").inner_text().startswith("by api, ")
        page.screenshot(path=str(shots / "8-incident.png"), full_page=True)
        page.goto(url + "/failing")
        assert (
            page.locator("#open-incidents tbody tr").count() == 0
            and page.locator("#acked-incidents tbody tr").count() == 2
        )
        assert errors == []
        page.close()


@pytest.fixture(scope="module")
def charts_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.webdata import build_charts

    tmp = tmp_path_factory.mktemp("browser-charts")
    config = build_charts(tmp / "charts")
    with quinto_serve(config, log=tmp / "serve.log") as url:
        yield url


def _boxes(page: object, selector: str) -> list[dict[str, float]]:
    loc = page.locator(selector)  # type: ignore[attr-defined]
    return [b for b in (loc.nth(i).bounding_box() for i in range(loc.count())) if b]


def _overlapping(boxes: list[dict[str, float]]) -> list[tuple[int, int]]:
    """Pairs of boxes that overlap (each with its right neighbour, in x order)."""
    boxes = sorted(boxes, key=lambda b: b["x"])
    return [(i, i + 1) for i, (a, b) in enumerate(zip(boxes, boxes[1:], strict=False)) if a["x"] + a["width"] > b["x"]]


def test_a_seasonal_table_reads_at_a_glance(browser: object, charts_url: str, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(charts_url + "/tables/dw.seasonal?last=365")
    page.screenshot(path=str(shots / "7-seasonal-table.png"), full_page=True)
    # the heatmap at 120 partitions: a legend, labels that never overlap, the newest one named
    assert page.locator("#heatmap-legend li").count() == 6
    labels = page.locator("#heatmap th.part").all_inner_texts()
    assert len(labels) == 120 and labels[-1] == "11-27" and 10 <= sum(1 for t in labels if t) <= 20
    assert _overlapping(_boxes(page, "#heatmap th.part:not(:empty)")) == []
    # every chart: several dated x ticks that do not overlap, y ticks in the unit
    charts = page.locator("svg.trend")
    assert charts.count() == 6
    for i in range(charts.count()):
        x_ticks = _boxes(charts.nth(i), "text.tick.x")
        assert len(x_ticks) >= 5 and _overlapping(x_ticks) == []
    change = page.locator('svg.trend[aria-label^="row_count change"]')
    assert "%" in (change.locator("text.tick").first.text_content() or "")
    # a tooltip on hover is the point's <title>
    failed = page.locator('svg.trend[aria-label="row_count anomaly"] circle.pt.fail')
    assert failed.count() == 1 and "marked bad" in (failed.locator("title").text_content() or "")
    assert page.locator('svg.trend[aria-label="row_count anomaly"] circle.mark.bad').count() == 1
    assert errors == []
    page.close()


def test_an_unpartitioned_table_and_the_page_of_one_check(browser: object, charts_url: str, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page.goto(charts_url + "/tables/dw.snapshot")
    assert page.locator("#heatmap td.cell").count() == 36
    assert page.locator("svg.trend").first.locator("circle.pt").count() == 12
    page.screenshot(path=str(shots / "8-unpartitioned-table.png"), full_page=True)
    page.goto(charts_url + "/tables/dw.seasonal")
    page.locator("figcaption a.check-link", has_text="max(latency_ms)").click()
    page.wait_for_url("**/checks/**")
    assert page.locator("#history tbody tr").count() == 120
    assert page.locator("#check-chart circle.pt").count() == 120
    page.screenshot(path=str(shots / "9-check.png"), full_page=True)
    page.close()


def test_runs_page_error_cells_are_not_heatmap_cells(browser: object, base_url: str, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 800})  # type: ignore[attr-defined]
    page.goto(base_url + "/runs")
    cell = page.locator("#runs td.run-error").first
    background = cell.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background in ("rgba(0, 0, 0, 0)", "transparent")
    assert page.locator("#runs tbody td", has_text="UTC").count() == 3
    page.screenshot(path=str(shots / "10-runs.png"), full_page=True)
    page.close()
