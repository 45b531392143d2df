"""Collections (SPEC §15): adjustments, promises to pay, each customer's next action and collector.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "adjustments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("line_code", sa.String(200), nullable=False),
        sa.Column("payment_id", sa.String(200)),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("on_date", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("dispute_id", sa.Integer()),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("cancelled_at", sa.DateTime()),
        sa.Column("cancelled_by", sa.String(200)),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_adjustments_amount_positive"),
        sa.CheckConstraint("kind IN ('write_off', 'apply', 'credit_note')", name="ck_adjustments_kind_known"),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name="ck_adjustments_status_known"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_adjustments_action_id_actions"),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], name="fk_adjustments_dispute_id_disputes"),
        sa.PrimaryKeyConstraint("id", name="pk_adjustments"),
    )
    op.create_index("ix_adjustments_line_code", "adjustments", ["line_code"])
    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("promised_date", sa.String(10), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("line_codes_json", sa.Text(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("cancelled_at", sa.DateTime()),
        sa.Column("cancelled_by", sa.String(200)),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_promises_amount_positive"),
        sa.CheckConstraint("grace_days >= 0", name="ck_promises_grace_not_negative"),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name="ck_promises_status_known"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_promises_action_id_actions"),
        sa.PrimaryKeyConstraint("id", name="pk_promises"),
    )
    op.create_index("ix_promises_customer_id", "promises", ["customer_id"])
    op.create_table(
        "next_actions",
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("next_action_date", sa.String(10)),
        sa.Column("collector", sa.String(200)),
        sa.Column("note", sa.Text()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_next_actions_action_id_actions"),
        sa.PrimaryKeyConstraint("customer_id", name="pk_next_actions"),
    )


def downgrade() -> None:
    op.drop_table("next_actions")
    op.drop_index("ix_promises_customer_id", table_name="promises")
    op.drop_table("promises")
    op.drop_index("ix_adjustments_line_code", table_name="adjustments")
    op.drop_table("adjustments")
