"""Workspace members (SPEC §14): who may sign in with which role, besides [roles] in the secrets.

Changes to members are audited in audit_events (entity "member"), like every
other action; refusals of actions are audit events too (entity "permission"),
so this revision needs no table for them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("pattern", sa.String(320), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'finance', 'admin')", name="ck_members_role_known"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_members_action_id_actions"),
        sa.PrimaryKeyConstraint("pattern", name="pk_members"),
    )


def downgrade() -> None:
    op.drop_table("members")
