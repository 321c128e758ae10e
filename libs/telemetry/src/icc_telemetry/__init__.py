"""Telemetry for ICC processes: one call sets up traces, metrics and JSON logs."""

from icc_telemetry.grpc import client_interceptors, tag_request
from icc_telemetry.ids import INCIDENT_ID, UNIT_ID, UNIT_STATUS
from icc_telemetry.propagation import extract, inject
from icc_telemetry.setup import Telemetry, TelemetryConfig, setup_telemetry

__all__ = [
    "INCIDENT_ID",
    "UNIT_ID",
    "UNIT_STATUS",
    "Telemetry",
    "TelemetryConfig",
    "client_interceptors",
    "extract",
    "inject",
    "setup_telemetry",
    "tag_request",
]
