"""What the command line prints of an audit: outcomes coloured by status, the summary line, the
verdict (what `quinto audit --via` prints of a server's answer: quinto/remote.py)."""

from __future__ import annotations

import click

from quinto.audit import AuditResult
from quinto.checks import unit_of
from quinto.evaluate import Status
from quinto.humanize import STATUS_COLORS as COLORS
from quinto.humanize import quantity


def print_result(result: AuditResult) -> None:
    run = result.run
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    same_error = bool(run.error) and all(o.status == Status.ERROR and o.message == run.error for o in result.outcomes)
    for o in [] if same_error else result.outcomes:
        status = click.style(f"{o.status:<8}", fg=COLORS[o.status], bold=o.status.rank > Status.PASS.rank)
        part = f"{o.partition}  " if len(run.partitions) > 1 else ""
        where = f"  ({o.source})" if o.fault == "check" and o.source not in o.message else ""
        click.echo(f"{status} {part}{o.check}  value={quantity(o.value, *unit_of(o.check_type))}  {o.message}{where}")
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
