"""public warnings (CAP 1.2) and their messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-11

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warnings",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_warnings_expires", "warnings", ["expires"])
    op.create_table(
        "warning_messages",
        sa.Column("identifier", sa.String(length=120), nullable=False),
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["warning_id"], ["warnings.id"]),
        sa.PrimaryKeyConstraint("identifier"),
    )
    op.create_index("ix_warning_messages_warning_id", "warning_messages", ["warning_id"])


def downgrade() -> None:
    op.drop_index("ix_warning_messages_warning_id", table_name="warning_messages")
    op.drop_table("warning_messages")
    op.drop_index("ix_warnings_expires", table_name="warnings")
    op.drop_table("warnings")
