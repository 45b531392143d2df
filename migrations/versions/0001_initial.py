"""Initial action store: actions, disputes, dispute lines and log, audit events, column mappings,
reminder log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APPEND_ONLY = ("audit_events", "dispute_log")


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("result_json", sa.Text()),
        sa.PrimaryKeyConstraint("action_id", name="pk_actions"),
    )
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("invoice_no", sa.String(200)),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("review_started_at", sa.DateTime()),
        sa.Column("escalated_at", sa.DateTime()),
        sa.Column("closed_at", sa.DateTime()),
        sa.Column("outcome", sa.String(40)),
        sa.Column("resolved_amount", sa.BigInteger()),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_disputes_amount_positive"),
        sa.CheckConstraint(
            "status IN ('open', 'in_review', 'escalated', 'resolved', 'rejected', 'withdrawn')",
            name="ck_disputes_status_known"),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
    )
    op.create_index("ix_disputes_customer_id", "disputes", ["customer_id"])
    op.create_index("ix_disputes_status", "disputes", ["status"])
    op.create_table(
        "dispute_lines",
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("line_code", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"],
                                name="fk_dispute_lines_dispute_id_disputes"),
        sa.PrimaryKeyConstraint("dispute_id", "line_code", name="pk_dispute_lines"),
    )
    op.create_index("ux_dispute_lines_open_line", "dispute_lines", ["line_code"], unique=True,
                    sqlite_where=sa.text("is_open = 1"), postgresql_where=sa.text("is_open"))
    op.create_table(
        "dispute_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"],
                                name="fk_dispute_log_action_id_actions"),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], name="fk_dispute_log_dispute_id_disputes"),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_log"),
    )
    op.create_index("ix_dispute_log_dispute_id", "dispute_log", ["dispute_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(400), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("before_json", sa.Text()),
        sa.Column("after_json", sa.Text()),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"],
                                name="fk_audit_events_action_id_actions"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_entity", "audit_events", ["entity", "entity_id"])
    op.create_table(
        "column_mappings",
        sa.Column("source_key", sa.String(400), nullable=False),
        sa.Column("mapping_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"],
                                name="fk_column_mappings_action_id_actions"),
        sa.PrimaryKeyConstraint("source_key", name="pk_column_mappings"),
    )
    op.create_table(
        "reminder_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("line_code", sa.String(200), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="ck_reminder_log_status_known"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.action_id"],
                                name="fk_reminder_log_action_id_actions"),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_log"),
        sa.UniqueConstraint("line_code", "level", name="uq_reminder_log_line_code_level"),
    )
    op.create_index("ix_reminder_log_customer_id", "reminder_log", ["customer_id"])

    # Audit events and the communication log are append-only, whoever connects.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    elif dialect == "postgresql":
        op.execute("CREATE FUNCTION linewise_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION linewise_append_only()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS linewise_append_only()")
    for table in ("reminder_log", "column_mappings", "audit_events", "dispute_log", "dispute_lines",
                  "disputes", "actions"):
        op.drop_table(table)
