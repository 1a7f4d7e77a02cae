"""The results store's tables. Alembic migrations (quinto/store/migrations) create and evolve them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(512), nullable=False),
    sa.Column("connection", sa.String(128), nullable=False),
    sa.Column("partition_column", sa.String(256)),
    sa.Column("partitions", sa.Text, nullable=False),  # JSON list
    # QUEUED / RUNNING while a scheduled audit waits or runs, then PASS / WARN / FAIL / ERROR
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("statement_count", sa.Integer, nullable=False, default=0),
    sa.Column("trigger", sa.String(32), nullable=False, default="cli"),
    sa.Column("error", sa.Text),
    # the queue (migration 0003): a run is a queue entry from its request until it completes
    sa.Column("partition_value", sa.String(256)),  # the one partition of a single-partition run
    sa.Column("suite_fingerprint", sa.String(64)),  # the table's check definitions the run used
    sa.Column("requested_at", sa.DateTime(timezone=True)),
    sa.Column("requested_by", sa.String(256)),
    sa.Column("force", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_before", sa.DateTime(timezone=True)),  # a retry waits until then
    sa.Column("claimed_by", sa.String(256)),  # the scheduler running it: host:pid:token
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
    sa.Column("exit_code", sa.Integer),  # 0 publish, 1 do not publish, 2 bad input, 3 infrastructure
    sa.Column("run_key", sa.String(64)),  # Run.key: a run saved twice is stored once (migration 0007)
    sa.Index("ix_runs_table_started", "table_name", "started_at"),
    sa.Index("ix_runs_status", "status", "connection"),
    sa.Index("ix_runs_partition", "table_name", "partition_value", "status"),
    sa.Index("ux_runs_run_key", "run_key", unique=True),
)

outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("table_name", sa.String(512), nullable=False),
    sa.Column("partition_value", sa.String(256), nullable=False),
    sa.Column("check_key", sa.String(1024), nullable=False),
    sa.Column("check_type", sa.String(64), nullable=False),
    sa.Column("metric_key", sa.String(1024), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("judged", sa.Float),  # the number compared: the value, or its change
    sa.Column("threshold", sa.Text, nullable=False),
    sa.Column("band_low", sa.Float),
    sa.Column("band_high", sa.Float),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("source", sa.String(1024), nullable=False),  # file:line:col of the check
    sa.Column("samples", sa.Text),  # JSON list of failing rows
    sa.Column("current", sa.Boolean, nullable=False),  # False once a later run superseded it
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("suite_fingerprint", sa.String(64)),  # the table's check definitions (migration 0003)
    sa.Column("fault", sa.String(16)),  # an ERROR's cause: "check" or "warehouse" (migration 0006)
    sa.Index("ix_outcomes_key", "table_name", "partition_value", "check_key", "current"),
    sa.Index("ix_outcomes_run", "run_id"),
    sa.Index("ix_outcomes_status", "table_name", "current", "status"),
)

metric_values = sa.Table(
    "metric_values",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("table_name", sa.String(512), nullable=False),
    sa.Column("partition_value", sa.String(256), nullable=False),
    sa.Column("metric_key", sa.String(1024), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("current", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_metric_values_history", "table_name", "current", "fingerprint", "partition_value"),
    sa.Index("ix_metric_values_run", "run_id"),
)

statements = sa.Table(
    "statements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("sql", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    # what the statement cost the warehouse, where the engine reports it (0010)
    sa.Column("rows_scanned", sa.BigInteger),
    sa.Column("bytes_scanned", sa.BigInteger),
    sa.Column("cpu_ms", sa.Float),
    sa.Column("peak_memory_bytes", sa.BigInteger),
    sa.Index("ix_statements_run", "run_id"),
)

partition_marks = sa.Table(
    "partition_marks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(512), nullable=False),
    sa.Column("partition_value", sa.String(256), nullable=False),
    sa.Column("mark", sa.String(8), nullable=False),  # "good" or "bad"
    sa.Column("reason", sa.Text),
    sa.Column("marked_by", sa.String(256)),
    sa.Column("current", sa.Boolean, nullable=False),  # False once a later mark replaced it
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_partition_marks_key", "table_name", "current", "partition_value"),
)

# Read models for the UI, maintained by save_run in the same transaction as the outcomes, so that
# the overview and the heatmap read a few hundred rows instead of grouping millions of outcomes.
partition_status = sa.Table(
    "partition_status",
    metadata,
    sa.Column("table_name", sa.String(512), primary_key=True),
    sa.Column("partition_value", sa.String(256), primary_key=True),
    sa.Column("sort_key", sa.String(300), nullable=False),  # integers zero-padded: 9 before 10
    sa.Column("status", sa.String(16), nullable=False),  # the worst current outcome
    sa.Column("checks", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("warned", sa.Integer, nullable=False),
    sa.Column("errored", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("audited_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_partition_status_order", "table_name", "sort_key"),
    sa.Index("ix_partition_status_recent", "status", "audited_at"),
)

table_status = sa.Table(
    "table_status",
    metadata,
    sa.Column("table_name", sa.String(512), primary_key=True),
    sa.Column("connection", sa.String(128), nullable=False),
    sa.Column("partition_column", sa.String(256)),
    sa.Column("latest_partition", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # of the latest partition
    sa.Column("failing_recent", sa.Integer, nullable=False),  # FAIL or ERROR among the last 30 partitions
    sa.Column("partitions", sa.Integer, nullable=False),
    sa.Column("last_run_id", sa.Integer, nullable=False),
    sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
)

scheduler_state = sa.Table(
    "scheduler_state",
    metadata,
    # e.g. `cron:dw.t` → the last cron firing handled, `poll:dw.t` → the last sensor listing
    sa.Column("key", sa.String(600), primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

scheduler_problems = sa.Table(
    "scheduler_problems",
    metadata,
    # a check file the scheduler cannot use (it keeps running the file's last good version)
    sa.Column("file", sa.String(1024), primary_key=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("scheduler", sa.String(256), nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
)

# -- alerts: state per (table, partition, check), the outbox, snoozes ------------------------------

alert_states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(512), nullable=False),
    sa.Column("partition_value", sa.String(256), nullable=False),
    sa.Column("check_key", sa.String(1024), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),  # "ok", "bad" or "error", as of the newest run
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),  # when it entered `state`
    sa.Column("announced", sa.String(8), nullable=False),  # the state last alerted about ("ok" at first)
    sa.Column("announced_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ux_alert_states_key", "table_name", "partition_value", "check_key", unique=True),
)

alert_outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),  # none for a digest
    sa.Column("table_name", sa.String(512)),  # none for a digest, which may span tables
    sa.Column("channel", sa.String(16), nullable=False),  # a channel of quinto.alerts.channels: "email", "slack", ...
    sa.Column("target", sa.Text, nullable=False),  # as the channel groups it: "#dq", "a@x.com, b@x.com", "ops"
    sa.Column("kind", sa.String(16), nullable=False),  # "alert", "digest_item" or "digest"
    # "pending" → "sending" (claimed by one sender) → "sent"; digest items: "held" → "digested"
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON: what changed; rendered when sent
    sa.Column("day", sa.String(10)),  # UTC day of a digest item or digest
    sa.Column("digest_id", sa.Integer),  # the digest a digest item went into
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("claimed_by", sa.String(256)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_alert_outbox_status", "status", "next_attempt_at"),
    sa.Index("ix_alert_outbox_run", "run_id"),
)

alert_snoozes = sa.Table(
    "alert_snoozes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(512), nullable=False),
    sa.Column("check_key", sa.String(1024)),  # none: the whole table
    sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_by", sa.String(256)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),  # set by unsnooze
    sa.Column("ended_by", sa.String(256)),
    sa.Index("ix_alert_snoozes_table", "table_name", "until"),
)

# -- incidents: consecutive failures of a (table, check), acknowledged and resolved by people ------

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(512), nullable=False),
    sa.Column("check_key", sa.String(1024), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # "open", "closed" (it passes again) or "resolved"
    sa.Column("first_partition", sa.String(256), nullable=False),  # its earliest failing partition
    sa.Column("first_sort_key", sa.String(300), nullable=False),
    sa.Column("last_partition", sa.String(256), nullable=False),  # its latest failing partition
    sa.Column("last_sort_key", sa.String(300), nullable=False),
    sa.Column("failing", sa.Integer, nullable=False),  # partitions failing now
    sa.Column("last_value", sa.Float),  # the number judged on the latest failing partition
    sa.Column("closed_partition", sa.String(256)),  # the later partition that passed
    sa.Column("closed_sort_key", sa.String(300)),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("acked_at", sa.DateTime(timezone=True)),
    sa.Column("acked_by", sa.String(256)),
    sa.Column("ack_note", sa.Text),
    sa.Column("resolution", sa.String(16)),  # "expected" or "defect" once resolved
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("resolved_by", sa.String(256)),
    sa.Column("resolve_reason", sa.Text),
    sa.Index("ix_incidents_check", "table_name", "check_key", "state"),
    sa.Index("ix_incidents_state", "state", "first_sort_key"),
)

incident_partitions = sa.Table(
    "incident_partitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("table_name", sa.String(512), nullable=False),
    sa.Column("check_key", sa.String(1024), nullable=False),
    sa.Column("partition_value", sa.String(256), nullable=False),
    sa.Column("sort_key", sa.String(300), nullable=False),
    sa.Column("failing", sa.Boolean, nullable=False),  # False once a rerun of it passed
    sa.Column("value", sa.Float),
    sa.Column("judged", sa.Float),
    sa.Column("run_id", sa.Integer, nullable=False),  # the run that last judged it failing
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ux_incident_partitions", "incident_id", "partition_value", unique=True),
    sa.Index("ix_incident_partitions_key", "table_name", "check_key", "partition_value"),
)
