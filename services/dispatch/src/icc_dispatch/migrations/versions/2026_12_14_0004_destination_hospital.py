"""the destination hospital of a transporting unit's assignment

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-14

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Assignments before this revision recorded no destination.
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(
            sa.Column("destination_hospital", sa.String(64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("destination_hospital")
