"""Real OpenTelemetry SDK exporters into a real receiver, read back from the SQLite file."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from icc_testing import free_port
from icc_tracesink.receiver import Receiver, start_receiver
from icc_tracesink.store import SpanStore


@dataclass
class Sink:
    receiver: Receiver
    store: SpanStore
    db_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.receiver.port}"


@pytest_asyncio.fixture
async def sink(tmp_path: Path) -> AsyncIterator[Sink]:
    path = tmp_path / "traces.db"
    store = SpanStore.open(path)
    receiver = await start_receiver(f"127.0.0.1:{free_port()}", store)
    try:
        yield Sink(receiver, store, path)
    finally:
        await receiver.stop()
        store.close()


def provider(service: str, sink: Sink) -> TracerProvider:
    """One per service and test: the global provider belongs to the test plugin."""
    p = TracerProvider(resource=Resource.create({"service.name": service}))
    p.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=sink.endpoint, insecure=True))
    )
    return p


async def flush(*providers: TracerProvider) -> None:
    # The exporter is blocking gRPC; off the loop, or it waits for a server that cannot answer.
    for p in providers:
        assert await asyncio.to_thread(p.force_flush, 10_000)
        await asyncio.to_thread(p.shutdown)


async def test_exported_spans_are_stored_with_parents_services_attributes_and_links(
    sink: Sink,
) -> None:
    incidents = provider("incidents", sink)
    dispatch = provider("dispatch", sink)
    tracer = incidents.get_tracer("test")
    with tracer.start_as_current_span(
        "CreateIncident",
        kind=SpanKind.SERVER,
        attributes={
            "icc.incident.id": "abc123",
            "rpc.grpc.status_code": 0,
            "sampled": True,
            "share": 0.5,
            "agencies": ["FIRE", "MEDICAL"],
        },
    ) as parent:
        with tracer.start_as_current_span("publish icc.incident.created", kind=SpanKind.PRODUCER):
            pass
        with tracer.start_as_current_span("insert") as failing:
            failing.set_status(Status(StatusCode.ERROR, "database is locked"))
            failing.add_event("retry", {"attempt": 2})
    published = parent.get_span_context()
    # Another process picks the event up later, in its own trace linked to the publisher's.
    with dispatch.get_tracer("test").start_as_current_span(
        "consume icc.incident.created",
        context=trace.set_span_in_context(trace.INVALID_SPAN),
        kind=SpanKind.CONSUMER,
        links=[Link(published)],
    ) as consumer:
        consumer.set_attribute("icc.unit.id", "u-7")
    with incidents.get_tracer("test").start_as_current_span(
        "GetIncident",
        context=trace.set_span_in_context(trace.INVALID_SPAN),
        attributes={"icc.incident.id": "other"},
    ):
        pass
    await flush(incidents, dispatch)

    first = format(published.trace_id, "032x")
    second = format(consumer.get_span_context().trace_id, "032x")
    reader = SpanStore.open_readonly(sink.db_path)  # another connection, as `icc trace` does
    try:
        assert reader.traces_of_incident("abc123") == [first, second]
        spans = {s.name: s for s in reader.spans_of([first, second])}
    finally:
        reader.close()

    assert set(spans) == {
        "CreateIncident",
        "publish icc.incident.created",
        "insert",
        "consume icc.incident.created",
    }
    root = spans["CreateIncident"]
    assert root.parent_span_id is None
    assert root.span_id == format(published.span_id, "016x")
    assert root.service == "incidents"
    assert root.kind == "SERVER"
    assert root.incident_id == "abc123"
    assert root.attributes == {
        "icc.incident.id": "abc123",
        "rpc.grpc.status_code": 0,
        "sampled": True,
        "share": 0.5,
        "agencies": ["FIRE", "MEDICAL"],
    }
    assert root.end_ns > root.start_ns
    for child in ("publish icc.incident.created", "insert"):
        assert spans[child].parent_span_id == root.span_id
        assert spans[child].trace_id == first
        assert root.start_ns <= spans[child].start_ns <= spans[child].end_ns <= root.end_ns
    assert spans["publish icc.incident.created"].kind == "PRODUCER"
    failed = spans["insert"]
    assert (failed.status_code, failed.status_message) == ("ERROR", "database is locked")
    [event] = failed.events
    assert (event.name, event.attributes) == ("retry", {"attempt": 2})
    assert failed.start_ns <= event.time_ns <= failed.end_ns
    linked = spans["consume icc.incident.created"]
    assert (linked.service, linked.kind, linked.parent_span_id) == ("dispatch", "CONSUMER", None)
    assert [(link.trace_id, link.span_id) for link in linked.links] == [(first, root.span_id)]
    assert linked.unit_id == "u-7"
    assert linked.incident_id is None


async def test_a_span_exported_twice_is_stored_once(sink: Sink) -> None:
    incidents = provider("incidents", sink)
    with incidents.get_tracer("test").start_as_current_span(
        "CreateIncident", attributes={"icc.incident.id": "x"}
    ):
        pass
    await flush(incidents)
    (trace_id,) = sink.store.traces_of_incident("x")
    spans = sink.store.spans_of([trace_id])
    sink.store.insert(spans)  # what an exporter's retry after a lost answer amounts to
    assert sink.store.spans_of([trace_id]) == spans


async def test_metrics_sent_to_the_same_endpoint_are_accepted(sink: Sink) -> None:
    exporter = OTLPMetricExporter(endpoint=sink.endpoint, insecure=True)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    meters = MeterProvider(
        resource=Resource.create({"service.name": "incidents"}), metric_readers=[reader]
    )
    meters.get_meter("test").create_counter("icc.incidents.created").add(1)
    # force_flush is False when the export failed (UNIMPLEMENTED without a metrics service).
    assert await asyncio.to_thread(meters.force_flush, 10_000)
    await asyncio.to_thread(meters.shutdown)


async def test_a_taken_port_is_an_os_error(sink: Sink) -> None:
    with pytest.raises(OSError, match="cannot listen"):
        await start_receiver(f"127.0.0.1:{sink.receiver.port}", sink.store)


async def test_a_store_failure_is_unavailable_so_the_exporter_retries(tmp_path: Path) -> None:
    store = SpanStore.open(tmp_path / "traces.db")
    receiver = await start_receiver("127.0.0.1:0", store)
    store.close()  # every write now fails inside SQLite
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.port}") as channel:
            request = ExportTraceServiceRequest(
                resource_spans=[
                    ResourceSpans(
                        scope_spans=[
                            ScopeSpans(
                                spans=[Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="x")]
                            )
                        ]
                    )
                ]
            )
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.Export(request, timeout=5)
            assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await receiver.stop()
