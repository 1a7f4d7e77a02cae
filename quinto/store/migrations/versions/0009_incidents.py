"""incidents: consecutive failures of a (table, check) as one incident, acknowledged and resolved by
people (`incidents`), and the partitions each one holds (`incident_partitions`); the stored history
is turned into incidents here, so an upgraded store lists its open incidents at once

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(512), nullable=False),
        sa.Column("check_key", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("first_partition", sa.String(256), nullable=False),
        sa.Column("first_sort_key", sa.String(300), nullable=False),
        sa.Column("last_partition", sa.String(256), nullable=False),
        sa.Column("last_sort_key", sa.String(300), nullable=False),
        sa.Column("failing", sa.Integer, nullable=False),
        sa.Column("last_value", sa.Float),
        sa.Column("closed_partition", sa.String(256)),
        sa.Column("closed_sort_key", sa.String(300)),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True)),
        sa.Column("acked_by", sa.String(256)),
        sa.Column("ack_note", sa.Text),
        sa.Column("resolution", sa.String(16)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.String(256)),
        sa.Column("resolve_reason", sa.Text),
    )
    op.create_index("ix_incidents_check", "incidents", ["table_name", "check_key", "state"])
    op.create_index("ix_incidents_state", "incidents", ["state", "first_sort_key"])
    op.create_table(
        "incident_partitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("table_name", sa.String(512), nullable=False),
        sa.Column("check_key", sa.String(1024), nullable=False),
        sa.Column("partition_value", sa.String(256), nullable=False),
        sa.Column("sort_key", sa.String(300), nullable=False),
        sa.Column("failing", sa.Boolean, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("judged", sa.Float),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_incident_partitions", "incident_partitions", ["incident_id", "partition_value"], unique=True)
    op.create_index("ix_incident_partitions_key", "incident_partitions", ["table_name", "check_key", "partition_value"])
    from quinto.store.incidents import backfill  # the same rules as every saved run

    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_incident_partitions_key", "incident_partitions")
    op.drop_index("ux_incident_partitions", "incident_partitions")
    op.drop_table("incident_partitions")
    op.drop_index("ix_incidents_state", "incidents")
    op.drop_index("ix_incidents_check", "incidents")
    op.drop_table("incidents")
