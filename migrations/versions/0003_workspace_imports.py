"""Workspace: imports (who, when, what was read, how), their normalised tables as Parquet chunks,
and the workspace's current-import pointer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("source_kind", sa.String(20), nullable=False),
        sa.Column("source_label", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("files_json", sa.Text(), nullable=False),
        sa.Column("options_json", sa.Text(), nullable=False),
        sa.Column("mapping_json", sa.Text()),
        sa.Column("layout_key", sa.String(64)),
        sa.Column("counts_json", sa.Text(), nullable=False),
        sa.Column("notes_json", sa.Text(), nullable=False),
        sa.Column("meta_json", sa.Text(), nullable=False),
        sa.Column("n_lines", sa.Integer(), nullable=False),
        sa.Column("n_payments", sa.Integer(), nullable=False),
        sa.Column("n_quarantined", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"], name="fk_imports_action_id_actions"),
        sa.PrimaryKeyConstraint("id", name="pk_imports"),
        sa.UniqueConstraint("fingerprint", name="uq_imports_fingerprint"),
    )
    op.create_table(
        "import_chunks",
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["imports.id"], name="fk_import_chunks_import_id_imports",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id", "name", "seq", name="pk_import_chunks"),
    )
    op.create_table(
        "workspace_pointer",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["imports.id"], name="fk_workspace_pointer_import_id_imports"),
        sa.PrimaryKeyConstraint("name", name="pk_workspace_pointer"),
    )


def downgrade() -> None:
    op.drop_table("workspace_pointer")
    op.drop_table("import_chunks")
    op.drop_table("imports")
