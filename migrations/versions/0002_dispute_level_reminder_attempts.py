"""Dispute level and per-dispute review days; reminder attempts, error, claim and send times.

Existing rows are carried over: disputes already escalated (escalated_at set)
get level 2, the others level 1; existing reminder log rows get attempts 0
(1 when already sent or failed), claimed_at = created_at, and sent_at =
created_at for those already sent (the best time known).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("disputes", recreate="never") as batch:
        batch.add_column(sa.Column("level", sa.Integer(), server_default=sa.text("1"), nullable=False))
        batch.add_column(sa.Column("review_days", sa.Integer(), nullable=True))
    op.execute("UPDATE disputes SET level = 2 WHERE escalated_at IS NOT NULL")

    with op.batch_alter_table("reminder_log", recreate="never") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE reminder_log SET claimed_at = created_at")
    op.execute("UPDATE reminder_log SET attempts = 1 WHERE status IN ('sent', 'failed')")
    op.execute("UPDATE reminder_log SET sent_at = created_at WHERE status = 'sent'")


def downgrade() -> None:
    with op.batch_alter_table("reminder_log") as batch:
        for col in ("sent_at", "claimed_at", "error", "attempts"):
            batch.drop_column(col)
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("review_days")
        batch.drop_column("level")
