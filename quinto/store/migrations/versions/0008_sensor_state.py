"""sensor turns and a shared rate limit: `sensor_state` (when each sensor table was last listed, so
every scheduler lists the least recently listed first) and `sensor_budget` (a token bucket per
connection for the listing statements of all schedulers)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "sensor_state",
        sa.Column("table_name", sa.String(512), primary_key=True),
        sa.Column("connection", sa.String(256), nullable=False),
        sa.Column("listed_at", sa.DateTime(timezone=True)),
        sa.Column("listings", sa.Integer, nullable=False),
        sa.Column("listed_by", sa.String(256)),
    )
    op.create_index("ix_sensor_state_connection", "sensor_state", ["connection", "listed_at"])
    op.create_table(
        "sensor_budget",
        sa.Column("connection", sa.String(256), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("limited_since", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("sensor_budget")
    op.drop_index("ix_sensor_state_connection", "sensor_state")
    op.drop_table("sensor_state")
