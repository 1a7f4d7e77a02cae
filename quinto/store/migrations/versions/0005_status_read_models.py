"""status read models: partition_status and table_status, filled from the current outcomes

Revision ID: 0005
Revises: 0004
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

RANK = {"PASS": 0, "WARN": 1, "FAIL": 2, "ERROR": 3}
RECENT = 30


def sort_key(partition: str) -> str:
    # restated from quinto.store (migrations never import the live code)
    if re.fullmatch(r"-?\d{1,19}", partition):
        n = int(partition)
        return ("0" if n < 0 else "1") + f"{n + 10**19 if n < 0 else n:020d}"
    return "2" + partition


def upgrade() -> None:
    partition_status = op.create_table(
        "partition_status",
        sa.Column("table_name", sa.String(512), primary_key=True),
        sa.Column("partition_value", sa.String(256), primary_key=True),
        sa.Column("sort_key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checks", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("warned", sa.Integer, nullable=False),
        sa.Column("errored", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("audited_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_partition_status_order", "partition_status", ["table_name", "sort_key"])
    op.create_index("ix_partition_status_recent", "partition_status", ["status", "audited_at"])
    table_status = op.create_table(
        "table_status",
        sa.Column("table_name", sa.String(512), primary_key=True),
        sa.Column("connection", sa.String(128), nullable=False),
        sa.Column("partition_column", sa.String(256)),
        sa.Column("latest_partition", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failing_recent", sa.Integer, nullable=False),
        sa.Column("partitions", sa.Integer, nullable=False),
        sa.Column("last_run_id", sa.Integer, nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
    )
    # fill both from the outcomes already stored
    conn = op.get_bind()
    o = sa.table(
        "outcomes",
        sa.column("table_name", sa.String),
        sa.column("partition_value", sa.String),
        sa.column("status", sa.String),
        sa.column("run_id", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("current", sa.Boolean),
    )
    r = sa.table(
        "runs",
        sa.column("id", sa.Integer),
        sa.column("connection", sa.String),
        sa.column("partition_column", sa.String),
    )
    rows = conn.execute(
        sa.select(o.c.table_name, o.c.partition_value, o.c.status, o.c.run_id, o.c.created_at, r.c.connection)
        .add_columns(r.c.partition_column)
        .select_from(o.join(r, r.c.id == o.c.run_id))
        .where(o.c.current.is_(True))
    )
    parts: dict[tuple[str, str], dict] = {}
    tables: dict[str, dict] = {}
    for t, p, status, run_id, at, connection, column in rows:
        ps = parts.setdefault(
            (t, p),
            {
                "table_name": t,
                "partition_value": p,
                "sort_key": sort_key(p),
                "status": "PASS",
                "checks": 0,
                "failed": 0,
                "warned": 0,
                "errored": 0,
                "run_id": run_id,
                "audited_at": at,
            },
        )
        ps["checks"] += 1
        ps["failed"] += status == "FAIL"
        ps["warned"] += status == "WARN"
        ps["errored"] += status == "ERROR"
        if RANK.get(status, 3) > RANK[ps["status"]]:
            ps["status"] = status
        if run_id > ps["run_id"]:
            ps["run_id"], ps["audited_at"] = run_id, at
        tables.setdefault(t, {"connection": connection, "partition_column": column})
    if parts:
        op.bulk_insert(partition_status, list(parts.values()))
    for t, info in tables.items():
        mine = sorted((v for (tn, _), v in parts.items() if tn == t), key=lambda v: v["sort_key"])
        recent = mine[-RECENT:]
        last = max(mine, key=lambda v: v["run_id"])
        op.bulk_insert(
            table_status,
            [
                {
                    "table_name": t,
                    **info,
                    "latest_partition": mine[-1]["partition_value"],
                    "status": mine[-1]["status"],
                    "failing_recent": sum(v["status"] in ("FAIL", "ERROR") for v in recent),
                    "partitions": len(mine),
                    "last_run_id": last["run_id"],
                    "last_run_at": last["audited_at"],
                }
            ],
        )


def downgrade() -> None:
    op.drop_table("table_status")
    op.drop_table("partition_status")
