"""Span attributes naming what a span's work touches (bare ids, never personal data)."""

INCIDENT_ID = "icc.incident.id"
UNIT_ID = "icc.unit.id"
# The status a request asks a unit to take (`ON_SCENE`): which step of an incident's life a
# trace belongs to (the trace sink's timeline groups by it).
UNIT_STATUS = "icc.unit.status"
