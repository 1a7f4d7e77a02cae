"""The Flask UI: reads the results store, never the warehouse. `create_app(config)` is the factory."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, g, render_template

from quinto.audit import open_store
from quinto.errors import QuintoError
from quinto.spec import load_project
from quinto.store import Store

from .api_audits import audits_api


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(QUINTO_CONFIG=os.environ.get("QUINTO_CONFIG"), QUINTO_STORE=None)
    app.config.update(config or {})
    app.register_blueprint(audits_api)

    def store() -> Store:
        if "store" not in g:
            url = app.config.get("QUINTO_STORE")
            if url:
                g.store = Store(url)
            else:
                g.store = open_store(load_project(app.config["QUINTO_CONFIG"]))
        return g.store

    @app.teardown_appcontext
    def close_store(_exc: BaseException | None) -> None:
        s = g.pop("store", None)
        if s is not None:
            s.close()

    @app.get("/")
    def overview() -> str:
        return render_template("overview.html", tables=store().table_summaries(), runs=store().recent_runs(10))

    @app.get("/tables/<path:table>")
    def table_page(table: str) -> str:
        rows = store().current_outcomes(table)
        if not rows:
            abort(404)
        partitions = sorted({r["partition_value"] for r in rows})[-90:]
        checks: list[str] = []
        cells: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            if r["check_key"] not in checks:
                checks.append(r["check_key"])
            cells[(r["check_key"], r["partition_value"])] = r
        return render_template("table.html", table=table, partitions=partitions, checks=checks, cells=cells)

    @app.errorhandler(QuintoError)
    def quinto_error(exc: QuintoError) -> tuple[str, int]:
        return render_template("error.html", message=exc.message), 503

    @app.get("/tables/<path:table>/partitions/<path:partition>")
    def partition_page(table: str, partition: str) -> str:
        rows = store().current_outcomes(table, partition)
        if not rows:
            abort(404)
        for r in rows:
            r["samples_list"] = json.loads(r["samples"]) if r["samples"] else []
        run_ids = sorted({r["run_id"] for r in rows})
        statements = [s for rid in run_ids for s in store().statements_of_run(rid)]
        return render_template("partition.html", table=table, partition=partition, outcomes=rows, statements=statements)

    return app
