"""partition marks: a person says a partition is good or bad

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "partition_marks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(512), nullable=False),
        sa.Column("partition_value", sa.String(256), nullable=False),
        sa.Column("mark", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("marked_by", sa.String(256)),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_partition_marks_key", "partition_marks", ["table_name", "current", "partition_value"])


def downgrade() -> None:
    op.drop_table("partition_marks")
