"""The pages. Each view calls store functions and renders a template; nothing here speaks SQL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from quinto.web.auth import actor, check_csrf, require_writer, sign_in, signed_in, token_matches
from quinto.web.charts import TrendPoint, trend_svg
from quinto.web.context import (
    STATUSES,
    audited_tables,
    check_files,
    partition_url,
    project_or_none,
    project_problem,
    store,
    table_spec,
    table_specs,
)
from quinto.web.heatmap import heatmap_html
from quinto.web.snoozes import add_snooze
from werkzeug.wrappers import Response

from quinto.evaluate import worst
from quinto.scheduler import submit
from quinto.scheduler.queue import UnknownTable
from quinto.store.records import CheckRef, MarkKind

bp = Blueprint("ui", __name__)

RANGES = (30, 90, 365)
SNOOZE_LENGTHS = ("1h", "4h", "1d", "3d", "7d")


def _context() -> dict[str, Any]:
    return {
        "project_problem": project_problem(),
        "scheduler_problems": store().scheduler_problems(),
        "signed_in": signed_in(),
    }


@bp.get("/")
def overview() -> str:
    f = {k: request.args.get(k, "").strip() for k in ("status", "owner", "connection", "q")}
    rows, shown = audited_tables(**f)
    snoozed = {s.table for s in store().snoozes.active()}
    owners = sorted({o for r in rows for o in r.owners})
    connections = sorted({r.connection for r in rows})
    unaudited = sorted(set(table_specs()) - {r.table_name for r in rows})
    return render_template(
        "overview.html",
        failing_url=url_for("ui.failing"),
        tables=shown,
        snoozed=snoozed,
        total=len(rows),
        filters=f,
        statuses=STATUSES,
        owners=owners,
        connections=connections,
        unaudited=unaudited,
        **_context(),
    )


@bp.get("/failing")
def failing() -> str:
    table = request.args.get("table") or None
    parts = store().results.failing(limit=200, table=table)
    return render_template("failing.html", partitions=parts, table=table, **_context())


def _last() -> int:
    try:
        last = int(request.args.get("last", 90))
    except ValueError:
        last = 90
    return last if last in RANGES else 90


@bp.get("/tables/<path:table>")
def table_page(table: str) -> str:
    last = _last()
    parts = store().results.partitions(table, last=last)
    if not parts:
        abort(404, f"no audits stored for table {table}")
    columns = [p.partition_value for p in reversed(parts)]  # newest on the right
    checks = store().results.checks_of(table, columns[-1])
    known = {c.check_key for c in checks}
    statuses: dict[tuple[str, str], str] = {}
    series: dict[str, list[TrendPoint]] = {}
    for partition, check, status, value, judged, low, high in store().results.grid(table, columns):
        statuses[(check, partition)] = status
        y = judged if judged is not None else value
        series.setdefault(check, []).append(TrendPoint(partition, y, low, high, status))
        if check not in known:  # a check no longer declared still has its history shown
            known.add(check)
            checks.append(CheckRef(check, "", ""))
    order = {p: i for i, p in enumerate(columns)}
    charts = []
    for c in checks:
        points = sorted(series.get(c.check_key, []), key=lambda pt: order[pt.partition])
        if any(pt.y is not None for pt in points):
            charts.append({"check": c, "svg": trend_svg(points, c.check_key)})
    links = {p: partition_url(table, p) for p in columns}
    part_status = {p.partition_value: str(p.status) for p in parts}
    return render_template(
        "table.html",
        snoozes=store().snoozes.active(table),
        snooze_lengths=SNOOZE_LENGTHS,
        table=table,
        summary=store().results.table(table),
        spec=table_spec(table),
        last=last,
        ranges=RANGES,
        heatmap=heatmap_html(columns, checks, statuses, links, part_status),
        checks=checks,
        charts=charts,
        **_context(),
    )


@bp.get("/tables/<path:table>/partitions/<path:partition>")
def partition_page(table: str, partition: str) -> str:
    rows = store().results.current(table, partition)
    if not rows:
        abort(404, f"no audit stored for {table} partition {partition}")
    current_runs = sorted({r.run_id for r in rows})
    statements = []  # (statement, its parameters as text)
    for rid in current_runs:
        for s in store().runs.statements(rid):
            params = json.loads(s.params or "{}")
            # a run over many partitions: keep its scans and the statements about this partition
            if s.purpose in ("scan", "distinct", "reference") or partition in params.values():
                statements.append((s, ", ".join(f":{k} = {v!r}" for k, v in params.items())))
    marks = store().marks.of(table, [partition])
    return render_template(
        "partition.html",
        table=table,
        partition=partition,
        outcomes=rows,
        statements=statements,
        runs=store().runs.of_partition(table, partition),
        mark=marks.get(partition),
        status=str(worst([r.status for r in rows])),
        can_rerun=table_spec(table) is not None,
        **_context(),
    )


@bp.post("/tables/<path:table>/partitions/<path:partition>/mark")
@require_writer
def mark_partition(table: str, partition: str) -> Response:
    verdict = request.form.get("mark", "")
    if verdict not in tuple(MarkKind):
        abort(400, "a partition is marked good or bad")
    if not store().results.current(table, partition):
        abort(404, f"no audit stored for {table} partition {partition}")
    reason = request.form.get("reason", "").strip() or None
    store().marks.set(table, partition, verdict, reason, by=actor())
    flash(f"marked {partition} {verdict}")
    return redirect(url_for("ui.partition_page", table=table, partition=partition))


@bp.post("/tables/<path:table>/snooze")
@require_writer
def snooze_table(table: str) -> Response:
    length = request.form.get("for", "")
    if length not in SNOOZE_LENGTHS:
        abort(400, f"snooze for one of {', '.join(SNOOZE_LENGTHS)}")
    form = {"table": table, "check": request.form.get("check"), "for": length, "reason": request.form.get("reason")}
    made = add_snooze(form, by=actor())
    what = f"check {made.check}" if made.check else "all checks"
    flash(f"alerts of {table} ({what}) snoozed until {made.until:%Y-%m-%d %H:%M} UTC")
    return redirect(url_for("ui.table_page", table=table))


@bp.post("/tables/<path:table>/unsnooze")
@require_writer
def unsnooze_table(table: str) -> Response:
    ended = store().snoozes.end(table, check=request.form.get("check") or None, by=actor())
    flash(f"{ended} snooze(s) of {table} ended")
    return redirect(url_for("ui.table_page", table=table))


@bp.post("/tables/<path:table>/partitions/<path:partition>/rerun")
@require_writer
def rerun_partition(table: str, partition: str) -> Response:
    project = project_or_none()
    if project is None:
        abort(400, "this server reads a store without check files: it cannot queue audits")
    try:
        run_id = submit(project, store(), table, partition, trigger="web", requested_by=actor(), checks=check_files())
    except UnknownTable as exc:
        abort(404, exc.message)
    flash(f"audit of {table} {partition} queued as run {run_id}; `quinto scheduler` runs it")
    return redirect(url_for("ui.run_page", run_id=run_id))


@bp.get("/runs")
def runs_page() -> str:
    before = request.args.get("before", type=int)
    before = before if before is None or 0 <= before < 2**31 else None
    table = request.args.get("table") or None
    status = request.args.get("status") or None
    rows = store().runs.recent(limit=100, table=table, status=status, before=before)
    return render_template(
        "runs.html", runs=rows, table=table, status=status, statuses=STATUSES, before=before, **_context()
    )


@bp.get("/runs/<int:run_id>")
def run_page(run_id: int) -> str:
    run = store().runs.get(run_id) if run_id < 2**31 else None
    if run is None:
        abort(404, f"no run {run_id}")
    return render_template(
        "run.html",
        run=run,
        outcomes=store().results.of_run(run_id),
        statements=store().runs.statements(run_id),
        **_context(),
    )


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    if request.method == "POST":
        check_csrf()
        if not current_app.config.get("QUINTO_API_TOKEN"):
            abort(401, "writes are disabled: the server has no QUINTO_API_TOKEN")
        if not token_matches(request.form.get("token", "")):
            return render_template("signin.html", error="that is not the write token", **_context()), 401
        sign_in()
        return redirect(_local(request.form.get("next", "")) or url_for("ui.overview"))
    return render_template("signin.html", error=None, next=request.args.get("next", ""), **_context())


def _local(target: str) -> str | None:
    """`target` when it is a path on this site, else None (no open redirect after sign-in)."""
    if not target.startswith("/") or any(c in target for c in "\\\t\r\n") or not target.isprintable():
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and not target.startswith("//") else None


@bp.post("/signout")
def signout() -> Response:
    check_csrf()
    session.pop("writer", None)
    return redirect(url_for("ui.overview"))
