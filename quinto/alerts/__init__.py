"""Alerts: one message per table and run for the (table, partition, check) states that changed,
written to the store's outbox with the outcomes, delivered through its channel by `send_pending`.

- `quinto.alerts.state`: when a change alerts (pure).
- `quinto.alerts.policy`: who hears about a table, from its check file and quinto.yaml.
- `quinto.alerts.render`: what every message says (headline, labels, links; pure).
- `quinto.alerts.channels`: one module per channel (email, Slack, webhook, Teams, PagerDuty, and
  those of installed packages), each rendering and sending its own messages; the registry `CHANNELS`.
- `quinto.alerts.sender`: claim → send → mark, with backoff; `send_pending(store, settings)`.
"""

from quinto.alerts.channels import CHANNELS, Channel, Delivery, DeliveryError
from quinto.alerts.policy import policy_for, routing_notes
from quinto.alerts.sender import SendReport, send_pending

__all__ = [
    "CHANNELS",
    "Channel",
    "Delivery",
    "DeliveryError",
    "SendReport",
    "policy_for",
    "routing_notes",
    "send_pending",
]
