"""failed sign-ins (login throttling)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index(
        "ix_login_failures_last_failure_time",
        "login_failures",
        ["last_failure_time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_login_failures_last_failure_time", table_name="login_failures")
    op.drop_table("login_failures")
