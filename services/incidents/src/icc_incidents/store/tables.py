"""The incidents service's tables (SQLAlchemy Core), the outbox and the inbox among them:
the migrations compare the database with `metadata`."""

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from icc_storage import inbox_table, outbox_table

metadata = MetaData()


def actor_columns(prefix: str) -> tuple[Column[Any], ...]:
    """Who did something (an `Actor`), as the columns `{prefix}_user`, `{prefix}_agency`
    and `{prefix}_role` (`rows.actor_values`, `rows.actor_from`)."""
    return (
        Column(f"{prefix}_user", String(200), nullable=False),
        Column(f"{prefix}_agency", Integer, nullable=False),
        Column(f"{prefix}_role", String(64), nullable=False),
    )


incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("type_code", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("address", String(500), nullable=False),
    Column("ward", String(100), nullable=False),
    # Bit per agency (1 << agency): filtering by agency is one indexed-free AND.
    Column("agency_mask", Integer, nullable=False),
    Column("agencies", String(64), nullable=False),
    Column("caller_name", String(200), nullable=False),
    Column("caller_phone", String(32), nullable=False),
    Column("caller_language", String(35), nullable=False),
    Column("description", Text, nullable=False),
    Column("exercise", Boolean, nullable=False),
    *actor_columns("created_by"),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("first_dispatch_time", DateTime(timezone=True)),
    Column("first_on_scene_time", DateTime(timezone=True)),
    Column("close_time", DateTime(timezone=True)),
    Column("merged_into", String(64)),
    Column("resolution", Text, nullable=False),
    Column("assignments", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("request_id", String(64), unique=True),
    Column("call_line", Integer, nullable=False),
    # The first caller's phone as duplicates compare it (`duplicates.phone_key`).
    Column("caller_phone_key", String(32), nullable=False),
    Column("caller_count", Integer, nullable=False),
    Column("answers", Text, nullable=False),
    Column("instructions", Text, nullable=False),
    # What intake found (possible duplicates, cautions, history), as JSON.
    Column("intake", Text, nullable=False),
)
Index("ix_incidents_create_time", incidents.c.create_time, incidents.c.id)
Index("ix_incidents_state", incidents.c.state)
# Reads near a point (duplicates, history) take a band of latitude, then filter.
Index("ix_incidents_lat", incidents.c.lat)
# A phone's incidents, the latest first (intake reads a few of them at every call).
Index("ix_incidents_caller_phone_key", incidents.c.caller_phone_key, incidents.c.update_time)
# An EIDO document names the incidents merged into the one it describes.
Index("ix_incidents_merged_into", incidents.c.merged_into)

# Further callers about an incident's event (personal data, like the first caller).
callers = Table(
    "callers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("phone_key", String(32), nullable=False, index=True),
    Column("language", String(35), nullable=False),
    Column("call_line", Integer, nullable=False),
    Column("call_time", DateTime(timezone=True), nullable=False),
    *actor_columns("taken_by"),
    Column("request_id", String(64), unique=True),
)

cautions = Table(
    "cautions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("lat", Float, nullable=False, index=True),
    Column("lon", Float, nullable=False),
    Column("address", String(500), nullable=False),
    Column("ward", String(100), nullable=False),
    Column("radius_m", Float, nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    *actor_columns("created_by"),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("request_id", String(64), unique=True),
)

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False, index=True),
    Column("text", Text, nullable=False),
    *actor_columns("author"),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

# Append-only: the store has no update or delete of chronology rows (`trail.py` appends).
chronology = Table(
    "chronology",
    metadata,
    Column("incident_id", String(32), ForeignKey("incidents.id"), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("time", DateTime(timezone=True), nullable=False),
    *actor_columns("actor"),
    Column("action", String(32), nullable=False),
    # `coded` in English, as older clients read it.
    Column("detail", Text, nullable=False),
    # What happened as reasons (`icc_kernel.reasons.to_json`); "" in entries made before.
    Column("coded", Text, nullable=False),
)

# Calls transferred in as EIDO documents: the sender's incident (the document's id) and the
# incident ICC made of it, so a document sent again updates that incident.
eido_links = Table(
    "eido_links",
    metadata,
    Column("document_id", String(300), primary_key=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False, index=True),
    Column("sender_agency", String(300), nullable=False),
    Column("sender_internal_id", String(300), nullable=False),
    # The document's lastUpdateTimeStamp: an older or equal one changes nothing.
    Column("last_update", DateTime(timezone=True), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

# The audit of personal data (`icc_incidents.audit`): append-only, here and in the
# database (migration 0005 refuses UPDATE and DELETE of its rows).
audit = Table(
    "audit",
    metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("action", String(16), nullable=False),
    Column("rpc", String(64), nullable=False),
    # Field names, comma-separated; never their values.
    Column("fields", String(500), nullable=False),
    Column("caller", String(200), nullable=False),
    Column("person", String(200), nullable=False),
    Column("agency", Integer, nullable=False),
    Column("role", String(64), nullable=False),
    Index("ix_audit_incident", "incident_id", "sequence"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
