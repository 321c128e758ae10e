"""the chronology's entries as reasons (codes with parameters)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Entries before this revision have their English words only (read as one TEXT reason).
    with op.batch_alter_table("chronology") as batch:
        batch.add_column(sa.Column("coded", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("chronology") as batch:
        batch.drop_column("coded")
