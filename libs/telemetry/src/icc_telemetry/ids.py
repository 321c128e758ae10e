"""Span attributes naming what a span's work touches (bare ids, never personal data)."""

INCIDENT_ID = "icc.incident.id"
UNIT_ID = "icc.unit.id"
