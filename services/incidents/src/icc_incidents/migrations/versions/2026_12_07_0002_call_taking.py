"""call-taking: the line, further callers, premise cautions, what intake found

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Incidents before this revision: line OTHER (unknown), one caller, nothing found.
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("call_line", sa.Integer(), nullable=False, server_default="6"))
        batch.add_column(
            sa.Column("caller_phone_key", sa.String(length=32), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("caller_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("answers", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("instructions", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("intake", sa.Text(), nullable=False, server_default="{}"))
        batch.create_index("ix_incidents_lat", ["lat"])
        batch.create_index("ix_incidents_caller_phone_key", ["caller_phone_key"])
    op.create_table(
        "callers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("phone_key", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("call_line", sa.Integer(), nullable=False),
        sa.Column("call_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_by_user", sa.String(length=200), nullable=False),
        sa.Column("taken_by_agency", sa.Integer(), nullable=False),
        sa.Column("taken_by_role", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_callers_incident_id", "callers", ["incident_id"])
    op.create_index("ix_callers_phone_key", "callers", ["phone_key"])
    op.create_table(
        "cautions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("ward", sa.String(length=100), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_user", sa.String(length=200), nullable=False),
        sa.Column("created_by_agency", sa.Integer(), nullable=False),
        sa.Column("created_by_role", sa.String(length=64), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_cautions_lat", "cautions", ["lat"])


def downgrade() -> None:
    op.drop_index("ix_cautions_lat", table_name="cautions")
    op.drop_table("cautions")
    op.drop_index("ix_callers_phone_key", table_name="callers")
    op.drop_index("ix_callers_incident_id", table_name="callers")
    op.drop_table("callers")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_caller_phone_key")
        batch.drop_index("ix_incidents_lat")
        for column in ("intake", "instructions", "answers", "caller_count", "caller_phone_key"):
            batch.drop_column(column)
        batch.drop_column("call_line")
