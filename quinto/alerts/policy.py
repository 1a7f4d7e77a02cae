"""Who hears about a table's state changes, and how: built from the check file and quinto.yaml at
audit time and carried by the run (`Run.alert_policy`), so a run spooled while the store was down
alerts when it is replayed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quinto.spec import Project, TableSpec
from quinto.spec.targets import parse_target


def recipients(spec: TableSpec, targets: list[str]) -> dict[str, list[str]]:
    """channel name → the addresses `targets` name for it, in the registry's order, each once
    (`email:owners` stands for the owners' email addresses)."""
    if not targets:  # the channel registry is not even loaded
        return {}
    from quinto.alerts.channels import CHANNELS

    named: dict[str, list[str]] = {}
    for text in targets:
        target = parse_target(text)
        named.setdefault(target.channel, []).extend(CHANNELS[target.channel].addresses(target.address, spec.owners))
    return {name: list(dict.fromkeys(named[name])) for name in CHANNELS if named.get(name)}


def routes(spec: TableSpec, settings: Mapping[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    """(the outbox targets of `spec`'s alerts, notes on the targets quinto.yaml does not configure)."""
    alerts = settings.get("alerts") or {}
    out: list[dict[str, str]] = []
    notes: list[str] = []
    for name, addresses in recipients(spec, targets_of(spec, alerts)).items():
        from quinto.alerts.channels import CHANNELS

        channel = CHANNELS[name]
        ok, missing = channel.configured(addresses, settings)
        out += [{"channel": name, "target": t} for t in channel.group(ok)]
        notes += missing
    return out, notes


def targets_of(spec: TableSpec, alerts: Mapping[str, Any]) -> list[str]:
    """The check file's `notify:`, or quinto.yaml's `alerts.notify` when the file has none."""
    return list(spec.notify if spec.notify_declared else alerts.get("notify") or [])


def policy_for(project: Project, spec: TableSpec, trigger: str = "cli") -> dict[str, Any] | None:
    """The routing of `spec`'s alerts, or None when nothing would be delivered anywhere: no target,
    or targets whose channel quinto.yaml does not configure (`quinto validate` notes those)."""
    settings = project.settings
    alerts = settings.get("alerts") or {}
    targets, _ = routes(spec, settings)
    if not targets:
        return None
    from quinto.alerts.channels import CHANNELS

    digest = spec.table in (alerts.get("digest") or [])
    digested = [t for t in targets if digest and CHANNELS[t["channel"]].digests]
    targets = [t for t in targets if t not in digested]
    return {
        "targets": targets,
        "owners": list(spec.owners),
        "levels": {c.key: c.notify for c in spec.checks},
        "bands": [c.key for c in spec.checks if c.anomaly is not None],  # checks whose band is learnt
        "digest": digest,
        # one digest per recipient and day: the targets split into their recipients
        "digest_targets": [
            {"channel": t["channel"], "target": r} for t in digested for r in CHANNELS[t["channel"]].split(t["target"])
        ],
        "reminder_s": alerts.get("reminder"),
        "error_after_s": alerts.get("error_after", 3600.0),
        "base_url": str(settings.get("base_url") or ""),
        "silent": trigger == "backfill",
    }


def routing_notes(project: Project, tables: dict[str, TableSpec]) -> list[str]:
    """Declared targets that will not be delivered because quinto.yaml does not configure them."""
    notes = []
    for name, spec in sorted(tables.items()):
        _, missing = routes(spec, project.settings)
        if missing:
            notes.append(f"alerts of {name} are not delivered to {', '.join(missing)}: not configured in quinto.yaml")
    return notes
