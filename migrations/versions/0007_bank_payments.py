"""Bank statements and cash application: bank payments, the clerk's decisions, learned IBANs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "bank_payments",
        sa.Column("payment_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("statement", sa.String(200)),
        sa.Column("account", sa.String(100)),
        sa.Column("entry", sa.String(40)),
        sa.Column("booking_date", sa.String(10), nullable=False),
        sa.Column("value_date", sa.String(10)),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payer_name", sa.String(400)),
        sa.Column("payer_iban", sa.String(100)),
        sa.Column("remittance", sa.Text()),
        sa.Column("creditor_ref", sa.String(100)),
        sa.Column("end_to_end_id", sa.String(200)),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_bank_payments_amount_positive"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_bank_payments_action_id_actions"),
        sa.PrimaryKeyConstraint("payment_id", name="pk_bank_payments"),
    )
    op.create_table(
        "bank_decisions",
        sa.Column("payment_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("reference", sa.Text()),
        sa.Column("write_off", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("write_off_line", sa.String(200)),
        sa.Column("note", sa.Text()),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.CheckConstraint("status IN ('confirmed', 'left')", name="ck_bank_decisions_status_known"),
        sa.CheckConstraint("write_off >= 0", name="ck_bank_decisions_write_off_not_negative"),
        sa.ForeignKeyConstraint(["payment_id"], ["bank_payments.payment_id"],
                                name="fk_bank_decisions_payment_id_bank_payments"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_bank_decisions_action_id_actions"),
        sa.PrimaryKeyConstraint("payment_id", name="pk_bank_decisions"),
    )
    op.create_table(
        "bank_ibans",
        sa.Column("iban", sa.String(100), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("learned_from", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_bank_ibans_action_id_actions"),
        sa.PrimaryKeyConstraint("iban", "customer_id", name="pk_bank_ibans"),
    )


def downgrade() -> None:
    op.drop_table("bank_ibans")
    op.drop_table("bank_decisions")
    op.drop_table("bank_payments")
