"""Trace context in headers, and trace ids in every JSON log line."""

import io
import json
import logging

from opentelemetry import trace

from icc_telemetry import TelemetryConfig, extract, inject
from icc_telemetry.setup import json_log_handler


def test_context_round_trips_through_message_headers() -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("producer") as span:
        headers: dict[str, str] = {}
        inject(headers)
    assert headers["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
    parent = trace.get_current_span(extract(headers)).get_span_context()
    assert parent.span_id == span.get_span_context().span_id
    assert not trace.get_current_span(extract(None)).get_span_context().is_valid


def test_log_lines_are_json_with_trace_and_span_ids() -> None:
    handler = json_log_handler("incidents")
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]
    log = logging.getLogger("test.json")
    log.addHandler(handler)
    log.propagate = False
    try:
        with trace.get_tracer("test").start_as_current_span("work") as span:
            log.warning("unit late", extra={"unit": "u-17"})
        log.warning("outside any span")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["message"] == "unit late"
    assert first["service"] == "incidents"
    assert first["level"] == "WARNING"
    assert first["unit"] == "u-17"
    assert first["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert first["span_id"] == format(span.get_span_context().span_id, "016x")
    assert second["trace_id"] is None


def test_no_endpoint_means_no_exporter() -> None:
    config = TelemetryConfig.from_env("x", {})
    assert config.otlp_endpoint is None
    assert TelemetryConfig.from_env("x", {"ICC_OTLP_ENDPOINT": "http://c:4317"}).otlp_endpoint


def test_client_spans_name_the_incident_the_units_and_the_status_asked_for() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from icc.resource.v1 import resource_pb2
    from icc.resource.v1 import resource_service_pb2 as rpb
    from icc_telemetry import tag_request

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("update") as span:
        tag_request(
            span,
            rpb.UpdateUnitStatusRequest(
                name="units/U-17", status=resource_pb2.UNIT_STATUS_ON_SCENE
            ),
        )
    assert span.attributes == {"icc.unit.id": "U-17", "icc.unit.status": "ON_SCENE"}  # type: ignore[attr-defined]
    with tracer.start_as_current_span("reserve") as span:
        tag_request(
            span, rpb.ReserveUnitsRequest(incident="incidents/abc", units=["units/A", "units/B"])
        )
    assert span.attributes == {"icc.incident.id": "abc", "icc.unit.id": ("A", "B")}  # type: ignore[attr-defined]
