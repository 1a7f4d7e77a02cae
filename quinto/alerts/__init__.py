"""Alerts: one message per table and run for the (table, partition, check) states that changed,
written to the store's outbox with the outcomes, delivered by email or Slack by `send_pending`.

- `quinto.alerts.state`: when a change alerts (pure).
- `quinto.alerts.policy`: who hears about a table, from its check file and quinto.yaml.
- `quinto.alerts.render`: Slack Block Kit and email text/HTML (pure).
- `quinto.alerts.deliver`: SMTP and Slack webhook calls.
- `quinto.alerts.sender`: claim → send → mark, with backoff; `send_pending(store, settings)`.
"""

from quinto.alerts.deliver import DeliveryError
from quinto.alerts.policy import policy_for, routing_notes
from quinto.alerts.sender import SendReport, send_pending

__all__ = ["DeliveryError", "SendReport", "policy_for", "routing_notes", "send_pending"]
