"""Alerts: one message per table and run for the (table, partition, check) states that changed,
written to the store's outbox with the outcomes, delivered through its channel by `send_pending`.

- `quinto.alerts.state`: when a change alerts (pure).
- `quinto.alerts.policy`: who hears about a table, from its check file and quinto.yaml.
- `quinto.alerts.render`: what every message says (headline, labels, links; pure).
- `quinto.alerts.channels`: one module per channel (email, Slack, webhook, Teams, PagerDuty, and
  those of installed packages), each rendering and sending its own messages; the registry `CHANNELS`.
- `quinto.alerts.sender`: claim → send → mark, with backoff; `send_pending(store, settings)`.
- `quinto.alerts.record`: which alert states and outbox rows a saved run writes; `Store.save_run`
  runs it in the results' transaction as a save hook (`quinto.workspace.open_store` installs it).

The package itself imports none of them, and the store imports none of them either.
"""
