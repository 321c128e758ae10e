"""Dispatch's tables (SQLAlchemy Core): its copies of incidents, its assignments, and the
outbox and inbox. The migrations build exactly these (`tests/test_migrations.py`)."""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from icc_dispatch.domain.model import AssignmentState
from icc_storage import inbox_table, outbox_table

metadata = MetaData()

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("type_code", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("phase", Integer, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    # The incidents service's version of the incident.
    Column("version", Integer, nullable=False),
    Column("auto", Boolean, nullable=False),
    Column("exercise", Boolean, nullable=False),
    # Units that must not be offered again (escalated away), as a JSON list.
    Column("excluded", Text, nullable=False),
    # Set when the incident may need units: the dispatch loop looks at these.
    Column("attention", Boolean, nullable=False),
    # Auto-dispatched but short of units: looked at again when units free up.
    Column("waiting", Boolean, nullable=False),
    # The unit kinds it waits for, as ",1,6," (see `kinds_text`).
    Column("waiting_for", String(100), nullable=False),
    # The incident version last recommended to a dispatcher (0: never).
    Column("recommended_version", Integer, nullable=False),
    # Bumped by every dispatch decision: two replicas cannot both act on one state.
    Column("rev", Integer, nullable=False),
    # W3C headers (JSON) of the latest news: the dispatch work it causes continues that trace.
    Column("trace_context", Text, nullable=False),
    # The incident's premise cautions, passed on to the units assigned (JSON, see `rows`).
    Column("cautions", Text, nullable=False),
)
Index(
    "ix_incidents_attention", incidents.c.attention, incidents.c.priority, incidents.c.create_time
)
# Only the incidents that wait for units: a freed unit looks there, not at every incident
# of the day.
Index(
    "ix_incidents_waiting",
    incidents.c.priority,
    incidents.c.create_time,
    sqlite_where=incidents.c.waiting.is_(True),
    postgresql_where=incidents.c.waiting.is_(True),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("incident_id", String(32), nullable=False, index=True),
    Column("unit_id", String(64), nullable=False),
    Column("call_sign", String(32), nullable=False),
    Column("agency", Integer, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("role", String(64), nullable=False),
    Column("state", Integer, nullable=False),
    Column("eta_s", Integer, nullable=False),
    Column("request_id", String(64), nullable=False, index=True),
    Column("actor_user", String(200), nullable=False),
    Column("actor_agency", Integer, nullable=False),
    Column("actor_role", String(50), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("assign_time", DateTime(timezone=True)),
    Column("ack_deadline", DateTime(timezone=True)),
    Column("ack_time", DateTime(timezone=True)),
    Column("release_time", DateTime(timezone=True)),
    Column("override_reason", String(500), nullable=False),
    Column("release_reason", String(500), nullable=False),
    Column("release_pending", Boolean, nullable=False),
    Column("vacated", Boolean, nullable=False),
    Column("unit_version", Integer, nullable=False),
    # The trip the unit was chosen for: road metres, and where its time came from
    # (`EtaSource`; 0 unknown).
    Column("distance_m", Integer, nullable=False),
    Column("eta_source", Integer, nullable=False),
    # Why it was released, as reasons (`icc_kernel.reasons.to_json`); "" while it holds
    # its unit. `release_reason` has the same in English (for the resources service).
    Column("release_coded", Text, nullable=False),
    # Where a transporting unit takes its patient (a hospital id; "" for other units).
    Column("destination_hospital", String(64), nullable=False),
)
# A unit is held by at most one active assignment, whatever the code above does.
Index(
    "ux_assignments_active_unit",
    assignments.c.unit_id,
    unique=True,
    sqlite_where=assignments.c.state != int(AssignmentState.RELEASED),
    postgresql_where=assignments.c.state != int(AssignmentState.RELEASED),
)
Index("ix_assignments_state", assignments.c.state, assignments.c.ack_deadline)
Index(
    "ix_assignments_release_pending",
    assignments.c.id,
    sqlite_where=assignments.c.release_pending.is_(True),
    postgresql_where=assignments.c.release_pending.is_(True),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
