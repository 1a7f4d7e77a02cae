"""The web UI reads the store and escapes everything it renders."""

from __future__ import annotations

import datetime as dt

from quinto.web import create_app

from quinto.evaluate import Status
from quinto.store import Store
from tests.test_store import make_run


def test_pages_render_and_escape(store_url: str) -> None:
    store = Store(store_url)
    run = make_run("2026-11-01", Status.FAIL, 0, table="dw.<script>x</script>")
    run.outcomes[0].message = "<script>alert(1)</script>"
    run.outcomes[0].samples = [{"email": "<b>bold</b>"}]
    store.save_run(run)
    store.save_run(make_run("2026-11-02", Status.PASS, 3, dt.datetime(2026, 11, 28, tzinfo=dt.UTC)))
    client = create_app({"QUINTO_STORE": store_url}).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "dw.t" in page and "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    table = client.get("/tables/dw.t")
    assert table.status_code == 200 and "row_count &gt; 0" in table.get_data(as_text=True)
    part = client.get("/tables/dw.<script>x</script>/partitions/2026-11-01").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in part and "&lt;script&gt;alert(1)&lt;/script&gt;" in part
    assert "&lt;b&gt;bold&lt;/b&gt;" in part and "SELECT 1" in part
    assert client.get("/tables/dw.nothing").status_code == 404
