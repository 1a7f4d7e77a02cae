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
    op.add_column("runs", sa.Column("run_key", sa.String(64)))  # SQLite adds a column in place
    op.create_index("ux_runs_run_key", "runs", ["run_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_runs_run_key", "runs")
    op.drop_column("runs", "run_key")  # in place (SQLite 3.35+): runs is referenced by other tables
