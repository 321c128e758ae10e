"""index of the incidents waiting for units

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_incidents_waiting",
        "incidents",
        ["priority", "create_time"],
        unique=False,
        sqlite_where=sa.text("waiting IS 1"),
        postgresql_where=sa.text("waiting IS true"),
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_waiting", table_name="incidents")
