"""a caller's phone read with the latest first: the index holds the update time

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-13

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_incidents_caller_phone_key", table_name="incidents")
    op.create_index(
        "ix_incidents_caller_phone_key", "incidents", ["caller_phone_key", "update_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_caller_phone_key", table_name="incidents")
    op.create_index("ix_incidents_caller_phone_key", "incidents", ["caller_phone_key"])
