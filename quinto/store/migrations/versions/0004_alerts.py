"""alerts: state per (table, partition, check), the outbox written with the outcomes, snoozes

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "alert_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(512), nullable=False),
        sa.Column("partition_value", sa.String(256), nullable=False),
        sa.Column("check_key", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("announced", sa.String(8), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_alert_states_key", "alert_states", ["table_name", "partition_value", "check_key"], unique=True)
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("table_name", sa.String(512)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("day", sa.String(10)),
        sa.Column("digest_id", sa.Integer),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("claimed_by", sa.String(256)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_alert_outbox_status", "alert_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_alert_outbox_run", "alert_outbox", ["run_id"])
    op.create_table(
        "alert_snoozes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(512), nullable=False),
        sa.Column("check_key", sa.String(1024)),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_by", sa.String(256)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("ended_by", sa.String(256)),
    )
    op.create_index("ix_alert_snoozes_table", "alert_snoozes", ["table_name", "until"])


def downgrade() -> None:
    for table in ("alert_snoozes", "alert_outbox", "alert_states"):
        op.drop_table(table)
