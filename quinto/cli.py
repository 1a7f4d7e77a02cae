"""The command line: parse, call one library function, map the result to an exit code.

Exit codes: 0 all passed (publish), 1 a check failed (do not publish), 2 bad check file or usage,
3 warehouse, store or other infrastructure error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from quinto import __version__
from quinto.errors import EXIT_BAD_SPEC, EXIT_INFRA, QuintoError, SpecError, UsageError
from quinto.redact import redact

# Commands import the engine, the store and their libraries when they run, not here: `quinto audit
# --via` (a pipeline's step, thousands of times a day) imports only click and the HTTP client.

#: `quinto alerts list --status`: the values of quinto.store.records.OutboxStatus (a test keeps them equal)
OUTBOX_STATUSES = ("pending", "sending", "sent", "held", "digested", "cancelled")

_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with control characters (a terminal escape, NUL, a text-direction override, a lone
    surrogate) shown as escapes: a message never acts on the terminal that shows it."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def fail(exc: QuintoError) -> None:
    if isinstance(exc, SpecError):
        for problem in exc.problems:
            click.echo(f"Error: {printable(redact(str(problem)))}", err=True)
    else:
        click.echo(f"Error: {printable(redact(exc.message))}", err=True)
    sys.exit(exc.exit_code)


class Group(click.Group):
    """Turns every QuintoError into `Error: ...` and its exit code; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QuintoError as exc:
            fail(exc)
        except click.exceptions.UsageError as exc:
            exc.show()
            sys.exit(EXIT_BAD_SPEC)
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug or an unforeseen failure: never exit 1, which means "data failed"
            first = str(exc).splitlines()[0] if str(exc) else ""
            click.echo(f"Error: internal error: {type(exc).__name__}: {redact(first)}", err=True)
            sys.exit(EXIT_INFRA)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="quinto")
def main() -> None:
    """Quinto audits partitions of warehouse tables against checks declared in YAML."""


LIMIT = click.IntRange(1, 100_000)  # rows to list: an integer a database can bind

config_option = click.option(
    "--config", "-c", type=click.Path(dir_okay=False), default=None, help="Project file (default: ./quinto.yaml)."
)


@main.command("validate")
@click.argument("paths", nargs=-1)
@config_option
@click.option(
    "--connect/--no-connect",
    default=None,
    help="Require (or skip) checking every table and column in its warehouse. "
    "By default they are checked whenever the warehouse can be reached.",
)
def validate_cmd(paths: tuple[str, ...], config: str | None, connect: bool | None) -> None:
    """Check that every check file parses and its columns exist (exit 0), or list every problem (exit 2)."""
    from quinto.validation import validate

    report = validate(list(paths) or None, config=config, connect=connect)
    tables = report.suite.tables
    n = sum(len(t.checks) for t in tables.values())
    for table, why in sorted(report.unverified.items()):
        click.echo(f"note: columns of {table} not verified: {why}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"ok: {len(tables)} table(s), {n} check(s); columns verified for {len(report.verified)} table(s)")


@main.command("audit")
@click.argument("table")
@click.option(
    "--partition",
    "-p",
    "partitions",
    multiple=True,
    help="Partition to audit, as column=value (repeat for several; they share one scan).",
)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print outcomes, values, thresholds and the SQL run.")
@click.option(
    "--via",
    default=None,
    metavar="URL",
    help="Ask the Quinto server at URL (e.g. http://quinto:5000) to audit, and wait for its verdict; "
    "the token is read from QUINTO_API_TOKEN.",
)
@click.option("--force", is_flag=True, help="With --via: a fresh audit even if one of the partition is running.")
@click.option(
    "--timeout",
    type=click.FloatRange(0, 30 * 86400),
    default=3600.0,
    show_default=True,
    help="With --via: seconds to wait for the verdict.",
)
def audit_cmd(
    table: str,
    partitions: tuple[str, ...],
    config: str | None,
    as_json: bool,
    via: str | None,
    force: bool,
    timeout: float,
) -> None:
    """Audit partitions of TABLE and store the run. Exit 0 publish, 1 do not publish."""
    if via is not None:
        from quinto.remote import audit_via, print_remote, remote_exit_code

        if len(partitions) > 1:
            raise UsageError("--via audits one partition per request; give one --partition")
        doc = audit_via(via, table, partitions[0] if partitions else None, force=force, timeout=timeout)
        if as_json:
            click.echo(json.dumps(doc, indent=2))  # the server's JSON as it came
        else:
            print_remote(doc)
        sys.exit(remote_exit_code(doc))
    from quinto.app import audit
    from quinto.report import print_result
    from quinto.results import dumps

    result = audit(table, list(partitions), config=config)
    if as_json:
        click.echo(dumps(result.as_dict(), indent=2))
    else:
        print_result(result)
    sys.exit(result.exit_code)


@main.command("scheduler")
@config_option
@click.option(
    "--once", is_flag=True, help="One round (check files, triggers), run every audit the queue holds now, exit."
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve GET /metrics (Prometheus), /healthz and /readyz on this port (0: any free port, logged).",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics port binds.")
def scheduler_cmd(config: str | None, once: bool, metrics_port: int | None, metrics_host: str) -> None:
    """Audit partitions as they land (`on: new_partition`), on cron (`schedule:`) and when asked over
    HTTP; runs until stopped (SIGTERM/Ctrl-C: finish the audits in progress; twice: hand them back).

    Logs one JSON line per event on stdout. Exit 0 when stopped, 2 for a bad quinto.yaml, 3 when the
    store cannot be opened, the metrics port cannot be bound, or another scheduler already runs on
    the same SQLite store."""
    import signal
    import threading

    from quinto.scheduler import Scheduler, single_instance
    from quinto.workspace import Workspace

    ws = Workspace.load(config)
    store = ws.store
    store.migrate()
    lock = single_instance(store)
    scheduler = Scheduler(ws.project, store, workspace=ws)
    metrics = None
    try:
        if metrics_port is not None:
            metrics = _metrics_server(scheduler, metrics_host, metrics_port)
        scheduler.load()
        if once:
            scheduler.step(inline=True)
            scheduler.send_alerts()
            scheduler.retention()
            return
        stop, force = threading.Event(), threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            if stop.is_set():
                force.set()
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        scheduler.serve(stop, force)
        if force.is_set():  # audits handed back: do not wait for their threads
            store.close()
            sys.stdout.flush()
            os._exit(0)
    finally:
        if metrics is not None:
            metrics.close()
        store.close()
        if lock is not None:
            lock.release()


def _metrics_server(scheduler: Any, host: str, port: int) -> Any:
    """The scheduler's metrics port: its own counters (from its event log) and the store gauges."""
    from quinto.metrics import MetricsServer, SchedulerMetrics, store_registry

    registry = store_registry(lambda: scheduler.store, "scheduler")
    scheduler.log.listeners.append(SchedulerMetrics(registry))
    try:
        server = MetricsServer(registry, scheduler.store, host, port)
    except OSError as exc:
        raise QuintoError(f"--metrics-port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    scheduler.log("metrics_listening", host=host, port=server.port)
    return server


@main.group("store", cls=Group)
def store_group() -> None:
    """The results store: retention."""


@store_group.command("prune")
@config_option
@click.option("--keep", required=True, help="History kept in detail: a duration such as 30d, 52w or 400d (>= 1d).")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def store_prune_cmd(config: str | None, keep: str, dry_run: bool, as_json: bool) -> None:
    """Remove superseded runs, statements, failing-row samples, delivered alerts and ended snoozes
    older than --keep; every partition's current outcome and the metric history the baselines read
    are kept, so verdicts do not change. Exit 0 done, 2 bad --keep or quinto.yaml, 3 store error."""
    import sqlalchemy

    from quinto.errors import StoreError
    from quinto.store.retention import parse_keep, prune
    from quinto.workspace import Workspace

    try:
        horizon = parse_keep(keep)
    except ValueError as exc:
        raise UsageError(f"--keep: {exc}") from None
    store = Workspace.load(config).store
    try:
        store.migrate()
        report = prune(store.engine, horizon, dry_run=dry_run)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StoreError(f"store ({store.where}): {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} (older than {report.horizon:%Y-%m-%d %H:%M} UTC): {report.runs} superseded runs, "
        f"{report.outcomes} outcomes, {report.metric_values} metric values, {report.statements} statements, "
        f"{report.alerts} delivered alerts, {report.snoozes} ended snoozes; "
        f"{'would clear' if dry_run else 'cleared'} the failing-row samples of {report.samples} outcomes"
    )


@main.command("backfill")
@click.argument("table")
@click.option("--since", required=True, help="First partition value to audit (inclusive).")
@click.option("--until", default=None, help="Last partition value to audit (inclusive; default: the newest).")
@click.option(
    "--chunk",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Partitions per grouped scan (default: partitions_per_scan).",
)
@config_option
def backfill_cmd(table: str, since: str, until: str | None, chunk: int | None, config: str | None) -> None:
    """Compute and judge every partition of TABLE in a range: one grouped scan per chunk.

    Exit 0 when every chunk ran (failing partitions are listed), 3 on warehouse or store errors."""
    from quinto.app import backfill
    from quinto.evaluate import Status

    with click.progressbar(length=1, label=f"backfilling {table}", file=sys.stderr) as bar:
        state = {"done": 0}

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - state["done"])
            state["done"] = done

        def warn(message: str) -> None:
            click.echo(f"\nwarning: {message}", err=True)

        results = backfill(table, since, until, config=config, chunk=chunk, progress=progress, warn=warn)
    if not results:
        click.echo(f"{table}: no partitions between {since} and {until or 'now'}")
        return
    failing: dict[str, list[str]] = {}
    parts = 0
    for result in results:
        parts += len(result.run.partitions)
        for o in result.outcomes:
            if o.status in (Status.FAIL, Status.ERROR):
                failing.setdefault(o.partition, []).append(f"{o.check} ({o.status})")
    scans = sum(1 for r in results for s in r.run.statements if s["purpose"] == "scan")
    click.echo(f"{table}: {parts} partition(s) in {len(results)} run(s), {scans} scan statement(s)")
    for part, names in sorted(failing.items()):
        click.echo(click.style(f"  FAIL {part}: ", fg="red") + ", ".join(names))
    problems = [r.store_error or r.run.error for r in results if r.store_error or r.run.error]
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    broken = any(o.status == Status.ERROR and o.fault == "check" for r in results for o in r.outcomes)
    sys.exit(EXIT_INFRA if problems else EXIT_BAD_SPEC if broken else 0)


@main.command("mark")
@click.argument("table")
@click.option("--partition", "-p", required=True, help="The partition, as column=value.")
@click.argument("verdict", type=click.Choice(["good", "bad"]))
@click.option("--reason", default=None, help="Why; shown in the UI.")
@config_option
def mark_cmd(table: str, partition: str, verdict: str, reason: str | None, config: str | None) -> None:
    """Mark a partition good (it joins baselines even after a failure) or bad (never in a baseline)."""
    from quinto.app import mark

    resolved = mark(table, partition, verdict, reason, config=config, by=_user())
    click.echo(f"{table} {partition} marked {verdict}")
    as_ = "expected" if verdict == "good" else "defect"
    for incident in resolved:
        click.echo(f"incident {incident} resolved as {as_}: every partition failing in it is marked {verdict}")


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


via_option = click.option(
    "--via", default=None, metavar="URL", help="Through a Quinto server's API, with the token of QUINTO_API_TOKEN."
)
INCIDENT_ID = click.IntRange(1, 2**31 - 1)


def _incident_line(i: dict[str, Any]) -> str:
    shown = i.get("last_value_text") or "NULL"  # in the check's unit: `874 rows`
    span = f"{i['first_partition']}..{i['last_partition']}" if i["failing"] > 1 else i["first_partition"]
    state = str(i["state"]) + (f" ({i['resolution']})" if i.get("resolution") else "")
    ack = f"  acknowledged by {i.get('acked_by') or 'someone'}" if i.get("acked_at") else ""
    note = f": {i['ack_note']}" if ack and i.get("ack_note") else ""
    return printable(
        f"#{i['id']:<5} {state:<18} {i['table']}  {i['check']}  since {span}  "
        f"{i['failing']} failing  last {shown}{ack}{note}"
    )


@main.command("incidents")
@click.option("--table", default=None, help="Only this table's incidents.")
@click.option("--owner", default=None, help="Only the incidents of tables with this owner (from the check files).")
@click.option("--all", "every", is_flag=True, help="Closed and resolved incidents too, not only the open ones.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON, as GET /api/incidents does.")
@via_option
@config_option
def incidents_cmd(
    table: str | None, owner: str | None, every: bool, as_json: bool, via: str | None, config: str | None
) -> None:
    """List the open incidents, newest first: a check failing on consecutive partitions is one incident.

    Exit 0 (listed, whether or not any is open), 2 bad input, 3 store or server error."""
    from quinto import incidents

    rows = incidents.incidents(table=table, owner=owner, every=every, config=config, via=via)
    if as_json:
        click.echo(json.dumps({"incidents": rows}, indent=2))
        return
    for i in rows:
        click.echo(_incident_line(i))
    if not rows:
        click.echo("no incidents" if every else "no open incidents")


@main.command("ack")
@click.argument("incident_id", type=INCIDENT_ID)
@click.option("--note", default=None, help="What is being done; shown with the incident.")
@via_option
@config_option
def ack_cmd(incident_id: int, note: str | None, via: str | None, config: str | None) -> None:
    """Acknowledge an incident: someone is on it, its reminders stop (its recovery is still announced).

    Exit 0 acknowledged, 2 no such incident or resolved already, 3 store or server error."""
    from quinto import incidents

    done = incidents.acknowledge(incident_id, note=note, by=_user(), config=config, via=via)
    click.echo(f"incident {incident_id} acknowledged: no more reminders")
    click.echo(_incident_line(done))


@main.command("resolve")
@click.argument("incident_id", type=INCIDENT_ID)
@click.option(
    "--as",
    "resolution",
    type=click.Choice(["expected", "defect"]),
    required=True,
    help="expected: its failing partitions are marked good (the new normal); defect: marked bad.",
)
@click.option("--reason", default=None, help="Why; kept with the marks.")
@via_option
@config_option
def resolve_cmd(incident_id: int, resolution: str, reason: str | None, via: str | None, config: str | None) -> None:
    """Resolve an incident as expected (marks its failing partitions good) or as a defect (marks them bad).

    Exit 0 resolved, 2 no such incident or resolved already, 3 store or server error."""
    from quinto import incidents

    done = incidents.resolve(incident_id, resolution, reason=reason, by=_user(), config=config, via=via)
    marked = "good" if resolution == "expected" else "bad"
    click.echo(f"incident {incident_id} resolved as {resolution}: its failing partitions are marked {marked}")
    click.echo(_incident_line(done))


@main.command("snooze")
@click.argument("table", required=False)
@click.option("--check", default=None, help="Snooze only this check (its key, as `quinto audit` prints it).")
@click.option("--until", default=None, help="When it ends: ISO time, UTC unless it says, e.g. 2026-11-30T09:00.")
@click.option("--for", "length", default=None, help="How long: 90m, 2h, 3d.")
@click.option("--reason", default=None, help="Why; shown with the snooze.")
@click.option("--list", "list_only", is_flag=True, help="List the snoozes in force (of TABLE, if given).")
@config_option
def snooze_cmd(
    table: str | None,
    check: str | None,
    until: str | None,
    length: str | None,
    reason: str | None,
    list_only: bool,
    config: str | None,
) -> None:
    """No alerts for TABLE (or one of its checks) until a time; --list shows the snoozes in force."""
    from quinto.alerts import commands

    if list_only:
        rows = commands.snoozes(table, config=config)
        for r in rows:
            what = f"{r.table} check '{r.check}'" if r.check else f"{r.table} (all checks)"
            why = f": {r.reason}" if r.reason else ""
            by = f" by {r.created_by}" if r.created_by else ""
            click.echo(f"{what} until {r.until:%Y-%m-%d %H:%M} UTC{by}{why}")
        if not rows:
            click.echo("no snoozes in force")
        return
    if table is None:
        raise UsageError("say which table to snooze, or --list")
    end = commands.snooze_end(until, length)
    commands.snooze(table, until=end, check=check, reason=reason, by=_user(), config=config)
    what = f"check '{check}' of {table}" if check else table
    click.echo(f"{what} snoozed until {end:%Y-%m-%d %H:%M} UTC: no alerts until then")


@main.command("unsnooze")
@click.argument("table")
@click.option("--check", default=None, help="End only this check's snooze.")
@config_option
def unsnooze_cmd(table: str, check: str | None, config: str | None) -> None:
    """End the snoozes of TABLE (or of one of its checks)."""
    from quinto.alerts import commands

    n = commands.unsnooze(table, check=check, by=_user(), config=config)
    what = f"check '{check}' of {table}" if check else table
    click.echo(f"{what}: {n} snooze(s) ended" if n else f"{what} was not snoozed")


@main.group("alerts", cls=Group)
def alerts_group() -> None:
    """Deliver and inspect alerts (the outbox)."""


@alerts_group.command("send")
@config_option
@click.option("--loop", is_flag=True, help="Keep delivering until interrupted.")
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 86400),
    default=30.0,
    show_default=True,
    help="Seconds between passes with --loop.",
)
def alerts_send_cmd(config: str | None, loop: bool, interval: float) -> None:
    """Deliver pending alerts. Exit 0 when all were delivered, 3 when some stay in the outbox."""
    from quinto.alerts import commands
    from quinto.alerts.sender import SendReport

    def show(report: SendReport) -> None:
        if report.reclaimed:
            click.echo(f"note: {report.reclaimed} alert(s) left by a stopped sender are sent again", err=True)
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
        if report.sent or report.digests or not loop:
            digests = f" ({report.digests} digest(s) formed)" if report.digests else ""
            click.echo(f"sent {len(report.sent)} alert(s){digests}")
        error = report.error()
        if error:
            click.echo(f"Error: {error}", err=True)

    def store_down(error: QuintoError) -> None:
        click.echo(f"Error: {error.message}; trying again in {interval:g}s", err=True)

    try:
        report = commands.send(config=config, loop=loop, interval=interval, on_pass=show, on_error=store_down)
    except KeyboardInterrupt:
        sys.exit(0)
    sys.exit(report.exit_code)


@alerts_group.command("list")
@config_option
@click.option("--status", type=click.Choice(OUTBOX_STATUSES), default=None)
@click.option("--limit", type=LIMIT, default=20, show_default=True)
def alerts_list_cmd(config: str | None, status: str | None, limit: int) -> None:
    """The newest outbox rows: what was sent, what waits and why."""
    from quinto.alerts import commands

    for r in commands.outbox(status, limit, config=config):
        error = f"  last error: {redact(r.last_error)}" if r.last_error and r.status != "sent" else ""
        click.echo(
            f"{r.id:>6}  {r.created_at:%Y-%m-%d %H:%M:%S}  {r.status:<9} {r.kind:<11} "
            f"{r.channel}:{r.target}  {r.table_name or ''}  attempts={r.attempts}{error}"
        )


@alerts_group.command("cancel")
@click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1), required=True)
@config_option
def alerts_cancel_cmd(ids: tuple[int, ...], config: str | None) -> None:
    """Give up on undelivered alerts IDS (as `quinto alerts list` shows them); they are kept, never sent."""
    from quinto.alerts import commands

    n = commands.cancel(list(ids), by=_user(), config=config)
    click.echo(f"{n} alert(s) cancelled" + ("" if n == len(ids) else f"; {len(ids) - n} were not pending"))


@main.command("runs")
@config_option
@click.option("--limit", type=LIMIT, default=20, show_default=True)
def runs_cmd(config: str | None, limit: int) -> None:
    """Recent runs from the store."""
    from quinto.workspace import Workspace

    with Workspace.load(config) as ws:
        shown_runs = ws.store.runs.recent(limit)
    for r in shown_runs:
        parts = json.loads(r.partitions)
        shown = parts[0] if len(parts) == 1 else f"{parts[0]}..{parts[-1]} ({len(parts)})"
        click.echo(
            f"{r.id:>6}  {r.started_at:%Y-%m-%d %H:%M:%S}  {r.status:<8}  {r.table_name}  "
            f"{shown}  {r.statement_count} statement(s)"
        )


@main.command("demo")
@click.option(
    "--dir",
    "directory",
    default=".quinto-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the demo warehouse, store and project file are written.",
)
@click.option(
    "--checks",
    "checks_dir",
    default=None,
    type=click.Path(exists=True),
    help="Check files to use (default: the repository's checks/).",
)
@click.option("--end", default=None, help="Last demo partition (default: yesterday).")
@click.option("--serve/--no-serve", default=True, help="Start the web UI on the demo store afterwards.")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True)
def demo_cmd(directory: str, checks_dir: str | None, end: str | None, serve: bool, port: int) -> None:
    """Build a demo DuckDB warehouse with known defects, audit every partition, show the UI."""
    from quinto import demo
    from quinto.app import audit
    from quinto.evaluate import Status
    from quinto.workspace import Workspace

    out = Path(directory)
    checks = Path(checks_dir) if checks_dir else Path(__file__).resolve().parent.parent / "checks"
    if not checks.exists():  # an installed package without the repository's checks/ folder
        raise UsageError(f"no demo check files at {checks}; give the repository's checks/ folder with --checks DIR")
    try:
        end_day = dt.date.fromisoformat(end) if end else demo.default_end()
    except ValueError:
        raise UsageError(f"--end is a date like 2026-11-27, not {end!r}") from None
    click.echo(f"building the demo warehouse in {out / 'demo.duckdb'} ...")
    days = demo.build_warehouse(out / "demo.duckdb", end_day)
    store_file = out / "quinto.db"
    if store_file.exists():
        store_file.unlink()
    ws = Workspace.load(demo.write_project(out, checks))
    project, suite = ws.project, ws.suite()
    worst = 0
    for table, spec in sorted(suite.tables.items()):
        parts = [f"{spec.partition}={d}" for d in days] if spec.partition else []
        result = audit(table, parts, project=project, suite=suite, trigger="demo")
        failing: dict[str, list[str]] = {}
        for o in result.outcomes:
            if o.status in (Status.FAIL, Status.ERROR):
                failing.setdefault(o.partition, []).append(o.check)
        scans = sum(1 for s in result.run.statements if s["purpose"] == "scan")
        click.echo(
            f"\n{table}: {len(result.run.partitions)} partition(s) audited with {scans} scan statement(s), "
            f"{len(result.run.statements)} statement(s) in all; run {result.run.id}"
        )
        for part, names in sorted(failing.items()):
            click.echo(click.style(f"  FAIL {part}: ", fg="red") + ", ".join(names))
        if not failing:
            click.echo(click.style("  all partitions pass", fg="green"))
        worst = max(worst, result.exit_code if result.exit_code != 1 else 0)
    if "dw.fact_playback" in suite.tables:
        drop = days[demo.VOLUME_DROP]
        why = "known defect: the upstream job lost 60% of plays"
        resolved = ws.store.marks.set("dw.fact_playback", drop, "bad", why, by="demo")
        click.echo(f"\nmarked dw.fact_playback {drop} bad, as a person would (kept out of baselines)")
        for incident in resolved:
            click.echo(f"incident {incident} resolved as a defect by that mark (every partition failing in it is bad)")
    click.echo(
        "\nknown defects injected: " + "; ".join(f"day {d + 1} ({days[d]}): {what}" for d, what in demo.DEFECTS.items())
    )
    for line in demo.annotate(ws.store):
        click.echo(line)
    click.echo(f"store: {store_file}; try: quinto --help, or `quinto runs -c {out / 'quinto.yaml'}`")
    if worst:
        sys.exit(EXIT_INFRA)
    if serve:
        from quinto.web import create_app

        token = os.environ.get("QUINTO_API_TOKEN") or secrets.token_urlsafe(12)
        app = create_app({"QUINTO_CONFIG": str(out / "quinto.yaml"), "QUINTO_API_TOKEN": token})
        if "QUINTO_API_TOKEN" not in os.environ:
            click.echo(f"write token for this demo (sign in with it to mark partitions): {token}")
        serve_app(app, "127.0.0.1", port)


@main.command("serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(1, 1000),
    default=8,
    show_default=True,
    help="Requests served at once (waitress threads).",
)
@click.option("--dev", is_flag=True, help="Flask's development server with reloading, instead of waitress.")
def serve_cmd(config: str | None, host: str, port: int, threads: int, dev: bool) -> None:
    """Serve the web UI and JSON API on the results store (waitress, a production WSGI server).
    Writes (marks, reruns) need a token: QUINTO_API_TOKENS (name:scope:secret, ...) or
    QUINTO_API_TOKEN in the environment."""
    from quinto.web import create_app

    app = create_app({"QUINTO_CONFIG": config} if config else None)
    serve_app(app, host, port, threads, dev)


def serve_app(app: Any, host: str, port: int, threads: int = 8, dev: bool = False) -> None:
    known = app.extensions["quinto_tokens"]
    if known:
        click.echo(f"tokens: {', '.join(f'{t.name} ({t.scope})' for t in known)}", err=True)
    else:
        click.echo("read-only: set QUINTO_API_TOKENS (or QUINTO_API_TOKEN) to allow marks and audits", err=True)
    click.echo(f"serving the UI on http://{host}:{port}/ (Ctrl-C to stop)")
    if dev:
        app.run(host=host, port=port, debug=True)
        return
    import waitress

    # waitress refuses (413) a body far beyond the app's limit before spooling it; the app answers 413
    # with a JSON error for the rest
    limit = 8 * int(app.config.get("MAX_CONTENT_LENGTH") or 0) or 1024**3
    waitress.serve(app, host=host, port=port, threads=threads, ident="quinto", max_request_body_size=limit)


if __name__ == "__main__":
    main()
