"""outcomes.fault: whose fault an ERROR is, "check" (the engine refused what the check asks) or
"warehouse" (down, timed out, out of memory)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("outcomes") as batch:
        batch.add_column(sa.Column("fault", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("fault")
