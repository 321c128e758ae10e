"""calls transferred in as EIDO documents, linked to the incident made of them

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-11

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eido_links",
        sa.Column("document_id", sa.String(300), primary_key=True),
        sa.Column("incident_id", sa.String(32), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("sender_agency", sa.String(300), nullable=False),
        sa.Column("sender_internal_id", sa.String(300), nullable=False),
        sa.Column("last_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_eido_links_incident_id", "eido_links", ["incident_id"])
    op.create_index("ix_incidents_merged_into", "incidents", ["merged_into"])


def downgrade() -> None:
    op.drop_index("ix_incidents_merged_into", table_name="incidents")
    op.drop_index("ix_eido_links_incident_id", table_name="eido_links")
    op.drop_table("eido_links")
