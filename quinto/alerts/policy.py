"""Who hears about a table's state changes, and how: built from the check file and quinto.yaml at
audit time and carried by the run (`Run.alert_policy`), so a run spooled while the store was down
alerts when it is replayed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quinto.spec import Project, TableSpec
from quinto.spec.targets import EMAIL, parse_target


def recipients(spec: TableSpec, targets: list[str]) -> tuple[list[str], list[str]]:
    """(Slack channels, email addresses) named by `targets`; `email:owners` is the owners' addresses."""
    channels: list[str] = []
    emails: list[str] = []
    for text in targets:
        target = parse_target(text)
        if target.channel == "slack":
            channels.append(target.address)
        elif target.address == "owners":
            emails.extend(o for o in spec.owners if EMAIL.match(o))
        else:
            emails.append(target.address)
    return list(dict.fromkeys(channels)), list(dict.fromkeys(emails))


def targets_of(spec: TableSpec, alerts: Mapping[str, Any]) -> list[str]:
    """The check file's `notify:`, or quinto.yaml's `alerts.notify` when the file has none."""
    return list(spec.notify if spec.notify_declared else alerts.get("notify") or [])


def policy_for(project: Project, spec: TableSpec, trigger: str = "cli") -> dict[str, Any] | None:
    """The routing of `spec`'s alerts, or None when nothing would be delivered anywhere: no target,
    or targets whose channel quinto.yaml does not configure (`quinto validate` notes those)."""
    settings = project.settings
    alerts = settings.get("alerts") or {}
    channels, emails = recipients(spec, targets_of(spec, alerts))
    slack = settings.get("slack") or {}
    channels = [c for c in channels if c in slack]
    if not (settings.get("smtp") or {}).get("host"):
        emails = []
    if not channels and not emails:
        return None
    targets = [{"channel": "slack", "target": c} for c in channels]
    if emails:
        targets.append({"channel": "email", "target": ", ".join(emails)})
    return {
        "targets": targets,
        "owners": list(spec.owners),
        "levels": {c.key: c.notify for c in spec.checks},
        "bands": [c.key for c in spec.checks if c.anomaly is not None],  # checks whose band is learnt
        "digest": spec.table in (alerts.get("digest") or []),
        "reminder_s": alerts.get("reminder"),
        "error_after_s": alerts.get("error_after", 3600.0),
        "base_url": str(settings.get("base_url") or ""),
        "silent": trigger == "backfill",
    }


def routing_notes(project: Project, tables: dict[str, TableSpec]) -> list[str]:
    """Declared targets that will not be delivered because quinto.yaml does not configure them."""
    settings = project.settings
    alerts = settings.get("alerts") or {}
    slack = settings.get("slack") or {}
    notes = []
    for name, spec in sorted(tables.items()):
        channels, emails = recipients(spec, targets_of(spec, alerts))
        missing = [f"slack:{c}" for c in channels if c not in slack]
        if emails and not (settings.get("smtp") or {}).get("host"):
            missing.append("email (no `smtp.host`)")
        if missing:
            notes.append(f"alerts of {name} are not delivered to {', '.join(missing)}: not configured in quinto.yaml")
    return notes
