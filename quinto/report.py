"""What the command line prints of an audit: outcomes coloured by status, the summary line, the
verdict; and the exit code of a run answered by a Quinto server (`quinto audit --via`)."""

from __future__ import annotations

from typing import Any

import click

from quinto.audit import AuditResult
from quinto.checks import display_unit
from quinto.errors import EXIT_INFRA
from quinto.evaluate import Status, fmt
from quinto.results import exit_code_of

COLORS = {
    Status.LEARNING: "cyan",
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "red",
    Status.ERROR: "magenta",
}


def print_result(result: AuditResult) -> None:
    run = result.run
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    same_error = bool(run.error) and all(o.status == Status.ERROR and o.message == run.error for o in result.outcomes)
    for o in [] if same_error else result.outcomes:
        unit = display_unit(o.check_type)
        status = click.style(f"{o.status:<8}", fg=COLORS[o.status], bold=o.status.rank > Status.PASS.rank)
        part = f"{o.partition}  " if len(run.partitions) > 1 else ""
        where = f"  ({o.source})" if o.fault == "check" and o.source not in o.message else ""
        click.echo(f"{status} {part}{o.check}  value={fmt(o.value, unit)}  {o.message}{where}")
    counts = {s: sum(1 for o in result.outcomes if o.status == s) for s in Status}
    summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
    where = f"run {run.id}" if run.id is not None else "not stored"
    click.echo(
        f"{run.table} {', '.join(run.partitions)}: {summary or 'no checks'}; "
        f"{len(run.statements)} statement(s); {where}; verdict: {result.verdict}"
    )
    if run.error:
        click.echo(f"Error: {run.error}", err=True)
    if result.store_error:
        click.echo(f"Error: {result.store_error}", err=True)


def remote_exit_code(doc: dict[str, Any]) -> int:
    """The exit code a finished run answers with: its stored code, else its status's."""
    stored = doc.get("exit_code")
    code = exit_code_of(
        str(doc.get("status")), stored if isinstance(stored, int) and not isinstance(stored, bool) else None
    )
    return EXIT_INFRA if code is None else code


def print_remote(doc: dict[str, Any]) -> None:
    for o in doc.get("outcomes") or []:
        status = Status(o["status"])
        styled = click.style(f"{status:<8}", fg=COLORS[status], bold=status.rank > Status.PASS.rank)
        check = o.get("check")
        click.echo(f"{styled} {check}  value={fmt(o.get('value'))}  {o.get('message', '')}")
    table = doc.get("table")
    parts = doc.get("partitions") or []
    click.echo(
        f"{table} {', '.join(map(str, parts))}: {doc.get('status')}; run {doc.get('run_id') or doc.get('id')}; "
        f"verdict: {doc.get('verdict')}"
    )
    if doc.get("error"):
        click.echo(f"Error: {doc['error']}", err=True)
