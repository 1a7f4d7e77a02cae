"""runs, outcomes, metric values and statements

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(512), nullable=False),
        sa.Column("connection", sa.String(128), nullable=False),
        sa.Column("partition_column", sa.String(256)),
        sa.Column("partitions", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("statement_count", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_runs_table_started", "runs", ["table_name", "started_at"])
    op.create_table(
        "outcomes",
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
        sa.Column("judged", sa.Float),
        sa.Column("threshold", sa.Text, nullable=False),
        sa.Column("band_low", sa.Float),
        sa.Column("band_high", sa.Float),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("samples", sa.Text),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outcomes_key", "outcomes", ["table_name", "partition_value", "check_key", "current"])
    op.create_index("ix_outcomes_run", "outcomes", ["run_id"])
    op.create_index("ix_outcomes_status", "outcomes", ["table_name", "current", "status"])
    op.create_table(
        "metric_values",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("table_name", sa.String(512), nullable=False),
        sa.Column("partition_value", sa.String(256), nullable=False),
        sa.Column("metric_key", sa.String(1024), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_metric_values_history", "metric_values", ["table_name", "current", "fingerprint", "partition_value"]
    )
    op.create_index("ix_metric_values_run", "metric_values", ["run_id"])
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_statements_run", "statements", ["run_id"])


def downgrade() -> None:
    for table in ("statements", "metric_values", "outcomes", "runs"):
        op.drop_table(table)
