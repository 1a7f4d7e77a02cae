"""what each statement cost the warehouse, where the engine reports it: rows and bytes read, CPU
time and peak memory (all NULL where it does not say)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.add_column(sa.Column("rows_scanned", sa.BigInteger))
        batch.add_column(sa.Column("bytes_scanned", sa.BigInteger))
        batch.add_column(sa.Column("cpu_ms", sa.Float))
        batch.add_column(sa.Column("peak_memory_bytes", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        for name in ("peak_memory_bytes", "cpu_ms", "bytes_scanned", "rows_scanned"):
            batch.drop_column(name)
