"""the scheduler: runs are queue entries (QUEUED, RUNNING), scheduler state and problems

Revision ID: 0003
Revises: 0002
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

RUN_COLUMNS: tuple[tuple[str, Any, dict[str, Any]], ...] = (
    ("partition_value", sa.String(256), {}),
    ("suite_fingerprint", sa.String(64), {}),
    ("requested_at", sa.DateTime(timezone=True), {}),
    ("requested_by", sa.String(256), {}),
    ("force", sa.Boolean, {"nullable": False, "server_default": sa.false()}),
    ("attempts", sa.Integer, {"nullable": False, "server_default": "0"}),
    ("not_before", sa.DateTime(timezone=True), {}),
    ("claimed_by", sa.String(256), {}),
    ("heartbeat_at", sa.DateTime(timezone=True), {}),
    ("exit_code", sa.Integer, {}),
)


def upgrade() -> None:
    for name, type_, kwargs in RUN_COLUMNS:
        op.add_column("runs", sa.Column(name, type_, **kwargs))
    op.create_index("ix_runs_status", "runs", ["status", "connection"])
    op.create_index("ix_runs_partition", "runs", ["table_name", "partition_value", "status"])
    op.add_column("outcomes", sa.Column("suite_fingerprint", sa.String(64)))
    op.create_table(
        "scheduler_state",
        sa.Column("key", sa.String(600), primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "scheduler_problems",
        sa.Column("file", sa.String(1024), primary_key=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("scheduler", sa.String(256), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    # audits still waiting are requests, not results: without the queue they mean nothing
    op.execute(sa.text("DELETE FROM runs WHERE status IN ('QUEUED', 'RUNNING')"))
    op.drop_table("scheduler_problems")
    op.drop_table("scheduler_state")
    op.drop_index("ix_runs_partition", "runs")
    op.drop_index("ix_runs_status", "runs")
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of `runs` would have to drop the
    # table that outcomes reference
    op.drop_column("outcomes", "suite_fingerprint")
    for name, _, _ in reversed(RUN_COLUMNS):
        op.drop_column("runs", name)
