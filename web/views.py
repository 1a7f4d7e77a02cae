"""The pages. Each view calls store functions and renders a template; nothing here speaks SQL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from quinto.web.auth import (
    actor,
    check_csrf,
    match_token,
    require_writer,
    sign_in,
    sign_out,
    signed_in,
    tokens,
    who,
)
from quinto.web.charts import TrendPoint
from quinto.web.context import (
    STATUSES,
    audited_tables,
    check_files,
    check_url,
    owned_tables,
    partition_url,
    project_or_none,
    project_problem,
    run_url,
    store,
    table_spec,
    table_specs,
)
from quinto.web.heatmap import heatmap_html, legend_html
from quinto.web.snoozes import add_snooze
from quinto.web.trends import chart, judged, partition_charts, run_label, run_points, units
from werkzeug.wrappers import Response

from quinto.evaluate import worst
from quinto.incidents import check_kinds, described
from quinto.plan import WHOLE_TABLE
from quinto.scheduler import submit
from quinto.scheduler.queue import UnknownTable
from quinto.store.incidents import IncidentConflict, IncidentNotFound
from quinto.store.records import CheckRef, IncidentState, MarkKind

bp = Blueprint("ui", __name__)

RANGES = (30, 90, 365)
SNOOZE_LENGTHS = ("1h", "4h", "1d", "3d", "7d")
#: the most outcomes the page of one check shows (its newest)
CHECK_HISTORY = 1000


def _context() -> dict[str, Any]:
    """What every page shows: problems, and who is signed in. `signed_in` is true when the caller
    may write (the write forms are shown); `user` is the caller whatever its scope, or None."""
    return {
        "project_problem": project_problem(),
        "scheduler_problems": store().scheduler_problems(),
        "signed_in": signed_in(),
        "user": who(),
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
    """The open incidents, newest first, the acknowledged ones apart; `table` and `owner` filter."""
    table = request.args.get("table", "").strip() or None
    owner = request.args.get("owner", "").strip() or None
    tables = owned_tables(owner) if owner else None
    specs = table_specs()
    kinds = check_kinds(specs.values())
    found = described(store().incidents.find(table=table, tables=tables), kinds)
    closed = store().incidents.find(table=table, tables=tables, states=(IncidentState.CLOSED,), limit=20)
    closed = described(closed, kinds)
    owners = {name: list(spec.owners) for name, spec in specs.items()}
    return render_template(
        "failing.html",
        open=[i for i in found if i.acked_at is None],
        acknowledged=[i for i in found if i.acked_at is not None],
        closed=closed,
        table=table,
        owner=owner,
        owners=owners,
        all_owners=sorted({o for names in owners.values() for o in names}),
        **_context(),
    )


@bp.get("/incidents/<int:incident_id>")
def incident_page(incident_id: int) -> str:
    found = store().incidents.get(incident_id)
    if found is None:
        abort(404, f"no incident {incident_id}")
    spec = table_spec(found.table_name)
    kinds = check_kinds([spec] if spec else [])
    return render_template(
        "incident.html",
        kind=kinds.get((found.table_name, found.check_key)),
        incident=described([found], kinds)[0],
        partitions=store().incidents.partitions(found.id),
        owners=list(spec.owners) if spec else [],
        **_context(),
    )


@bp.post("/incidents/<int:incident_id>/ack")
@require_writer
def acknowledge_incident(incident_id: int) -> Response:
    note = request.form.get("note", "").strip()[:2000] or None
    try:
        store().incidents.acknowledge(incident_id, actor(), note)
    except IncidentNotFound as exc:
        abort(404, exc.message)
    except IncidentConflict as exc:
        abort(409, exc.message)
    flash(f"incident {incident_id} acknowledged: its reminders stop")
    return redirect(url_for("ui.incident_page", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/resolve")
@require_writer
def resolve_incident(incident_id: int) -> Response:
    how = request.form.get("as", "")
    if how not in ("expected", "defect"):
        abort(400, "an incident is resolved as expected or as a defect")
    reason = request.form.get("reason", "").strip()[:2000] or None
    try:
        store().incidents.resolve(incident_id, how, actor(), reason)
    except IncidentNotFound as exc:
        abort(404, exc.message)
    except IncidentConflict as exc:
        abort(409, exc.message)
    marked = "good" if how == "expected" else "bad"
    flash(f"incident {incident_id} resolved as {how}: its failing partitions are marked {marked}")
    return redirect(url_for("ui.incident_page", incident_id=incident_id))


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
    details: dict[tuple[str, str], tuple[float | None, float | None, float | None]] = {}
    labels: dict[str, str] = {}
    if columns == [WHOLE_TABLE]:  # unpartitioned: every audit judges the table; one column per run
        rows = store().results.run_history(table, WHOLE_TABLE, last=last)
        started = {r.id: r.started_at for r in store().runs.of_partition(table, WHOLE_TABLE)}
        columns = sorted({str(o.run_id) for o in rows}, key=int)
        cells = [(str(o.run_id), o.check_key, o.status, o.value, o.judged, o.band_low, o.band_high) for o in rows]
        links = {c: run_url(int(c)) for c in columns}
        labels = {c: run_label(started.get(int(c))) for c in columns}
        part_status = {str(o.run_id): str(o.status) for o in rows}  # not the worst: the heatmap's header only
        marks: dict[str, str] = {}
    else:
        cells = store().results.grid(table, columns)
        links = {p: partition_url(table, p) for p in columns}
        part_status = {p.partition_value: str(p.status) for p in parts}
        marks = store().marks.of(table, columns)
    change = {c.check_key for c in checks if c.threshold.startswith("change vs ")}
    for partition, check, status, value, judged_value, low, high in cells:
        statuses[(check, partition)] = status
        details[(check, partition)] = (judged(value, judged_value, check in change), low, high)
        if check not in known:  # a check no longer declared still has its history shown
            known.add(check)
            checks.append(CheckRef(check, "", ""))
    charts, tips = partition_charts(checks, columns, cells, marks, labels)
    return render_template(
        "table.html",
        snoozes=store().snoozes.active(table),
        snooze_lengths=SNOOZE_LENGTHS,
        table=table,
        summary=store().results.table(table),
        spec=table_spec(table),
        last=last,
        ranges=RANGES,
        heatmap=heatmap_html(columns, checks, statuses, links, part_status, details, marks, labels, tips),
        legend=legend_html(),
        per_run=bool(labels),
        checks=checks,
        charts=charts,
        check_url=check_url,
        **_context(),
    )


@bp.get("/tables/<path:table>/checks/<path:check>")
def check_page(table: str, check: str) -> str:
    """One check's whole history: its chart and every outcome, newest first."""
    summary = store().results.table(table)
    if summary is None:
        abort(404, f"no audits stored for table {table}")
    per_run = summary.latest_partition == WHOLE_TABLE
    if per_run:
        rows = store().results.run_history(table, WHOLE_TABLE, last=CHECK_HISTORY, check=check)
        started = {r.id: r.started_at for r in store().runs.of_partition(table, WHOLE_TABLE)}
        marks: dict[str, str] = {}
    else:
        rows = store().results.check_history(table, check, last=CHECK_HISTORY)
        marks = store().marks.of(table, [o.partition_value for o in rows]) if rows else {}
    if not rows:
        abort(404, f"no outcomes stored for check {check} of table {table}")
    newest = rows[-1]
    ref = CheckRef(check, newest.check_type, newest.source, newest.threshold)
    change = newest.threshold.startswith("change vs ")
    if per_run:
        points = run_points(rows, started)
    else:
        points = [
            TrendPoint(
                o.partition_value,
                judged_of(o.value, o.judged, o.threshold),
                o.band_low,
                o.band_high,
                o.status,
                marks.get(o.partition_value),
                o.value,
            )
            for o in rows
        ]
    u = units(ref.check_type, ref.threshold)
    return render_template(
        "check.html",
        table=table,
        check=ref,
        chart=chart(ref, points),
        outcomes=list(reversed(rows)),
        labels=[p.partition for p in reversed(points)],
        marks=marks,
        units=u,
        change=change,
        per_run=per_run,
        limit=CHECK_HISTORY,
        **_context(),
    )


def judged_of(value: float | None, judged_value: float | None, threshold: str) -> float | None:
    return judged(value, judged_value, threshold.startswith("change vs "))


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
    marks = store().marks.details(table, [partition])
    return render_template(
        "partition.html",
        incidents=store().incidents.of_partition(table, partition),
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
    resolved = store().marks.set(table, partition, verdict, reason, by=actor())
    flash(f"marked {partition} {verdict}")
    for incident in resolved:
        as_ = "expected" if verdict == "good" else "a defect"
        flash(f"incident {incident} resolved as {as_}: every partition failing in it is marked {verdict}")
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
    """Sign in with any of the server's tokens; back to `next` (a path on this site) afterwards."""
    if request.method == "POST":
        check_csrf()
        if not tokens():
            abort(401, "sign-in is disabled: the server has no token (QUINTO_API_TOKENS or QUINTO_API_TOKEN)")
        next_ = _local(request.form.get("next", "")) or ""
        token = match_token(request.form.get("token", ""))
        if token is None:
            page = render_template("signin.html", error="that is not a token of this server", next=next_, **_signin())
            return page, 401
        sign_in(token)
        return redirect(next_ or url_for("ui.overview"))
    return render_template("signin.html", error=None, next=_local(request.args.get("next", "")) or "", **_signin())


def _signin() -> dict[str, Any]:
    """The sign-in page's context: it reads no store (it must answer while reads need a token)."""
    return {"project_problem": None, "scheduler_problems": [], "signed_in": signed_in(), "user": who()}


def _local(target: str) -> str | None:
    """`target` when it is a path on this site, else None (no open redirect after sign-in)."""
    if not target.startswith("/") or any(c in target for c in "\\\t\r\n") or not target.isprintable():
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and not target.startswith("//") else None


@bp.post("/signout")
def signout() -> Response:
    check_csrf()
    sign_out()
    return redirect(url_for("ui.overview"))
