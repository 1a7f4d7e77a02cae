"""runs.run_key: each run's identity, so that saving it twice (a replayed spool file, a retried
write whose acknowledgement was lost) stores it once

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("run_key", sa.String(64)))
    op.create_index("ux_runs_run_key", "runs", ["run_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_runs_run_key", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("run_key")
