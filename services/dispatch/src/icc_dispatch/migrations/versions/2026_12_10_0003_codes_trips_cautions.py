"""reasons as codes, the trip an assignment was chosen for, an incident's cautions

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
    # Rows before this revision: no cautions, an unknown trip, releases in words only.
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("cautions", sa.Text(), nullable=False, server_default="[]"))
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("distance_m", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("eta_source", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("release_coded", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("release_coded")
        batch.drop_column("eta_source")
        batch.drop_column("distance_m")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("cautions")
