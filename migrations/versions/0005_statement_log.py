"""Statement send log: each customer's statement of a date is emailed once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "statement_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("statement_date", sa.String(10), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(400)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime()),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="ck_statement_log_status_known"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_statement_log_action_id_actions"),
        sa.PrimaryKeyConstraint("id", name="pk_statement_log"),
        sa.UniqueConstraint("customer_id", "statement_date", name="uq_statement_log_customer_id_statement_date"),
    )


def downgrade() -> None:
    op.drop_table("statement_log")
