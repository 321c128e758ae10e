"""One incident, one story: every service as its own process, exporting OTLP to the real
trace sink, and a partner agency's traced gRPC client making the call.

Also the PII guard: a made-up caller (name and phone) and a medical note planted in the
incident must not appear in any exported span, log line or metric.
"""

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from typer.testing import CliRunner

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc
from icc_bus import subject_template
from icc_cli.main import app
from icc_telemetry import tag_request
from icc_testing import NatsServer, Pki, ServiceProcess, free_port
from icc_tracesink.model import Span
from icc_tracesink.store import SpanStore
from icc_tracesink.timeline import load

pytestmark = pytest.mark.slow

# Made up for this test; any of them in telemetry output is a leak.
CANARY_NAME = "Trần Thị Canarywren"
CANARY_PHONE = "0909717202"
CANARY_NOTE = "tiền sử bệnh tim, dị ứng penicillin (canary-note-5521)"
CANARIES = (CANARY_NAME, "Canarywren", CANARY_PHONE, "717202", "canary-note-5521")

PARTNER = "partner-agency"


@dataclass
class Stack:
    sink_db: Path
    logs: list[Path]
    metrics_urls: list[str]
    incidents: incident_grpc.IncidentServiceStub
    resources: resource_grpc.ResourceServiceStub
    provider: TracerProvider


def _wait_tcp(port: int, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the trace sink exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("the trace sink did not listen")


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    db = tmp_path / "traces.db"
    log = (tmp_path / "tracesink.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "icc_tracesink.main"],
        env={
            **os.environ,
            "ICC_TRACESINK_ADDR": f"127.0.0.1:{port}",
            "ICC_TRACESINK_DB": str(db),
            "ICC_TRACESINK_QUERY_ADDR": "",  # not needed here; 4320 may be taken
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_tcp(port, process)
        yield f"http://127.0.0.1:{port}", db
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest_asyncio.fixture
async def stack(
    nats_server: NatsServer, tmp_path: Path, sink: tuple[str, Path], pki: Pki
) -> AsyncIterator[Stack]:
    endpoint, db = sink
    common = {
        "ICC_NATS_URL": nats_server.url,
        "ICC_VAR_DIR": str(tmp_path),
        "ICC_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        # Everything a service may say, so that the PII search sees all of it.
        "ICC_LOG_LEVEL": "DEBUG",
    }
    ports = {name: free_port() for name in ("incidents", "resources", "dispatch")}
    metrics = {name: free_port() for name in ports}
    procs = {
        name: ServiceProcess(
            f"icc_{name}.main",
            f"127.0.0.1:{port}",
            {
                **common,
                f"ICC_{name.upper()}_ADDR": f"127.0.0.1:{port}",
                "ICC_METRICS_PORT": str(metrics[name]),
                "ICC_RESOURCES_TARGET": f"127.0.0.1:{ports['resources']}",
                **pki.env(name),
            },
            tmp_path / f"{name}.log",
            pki.credentials(),
        )
        for name, port in ports.items()
    }
    provider = TracerProvider(resource=Resource.create({"service.name": PARTNER}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, insecure=True), schedule_delay_millis=200
        )
    )
    interceptors = aio_client_interceptors(tracer_provider=provider, request_hook=tag_request)
    channels: list[grpc.aio.Channel] = []
    try:
        for proc in procs.values():
            await asyncio.to_thread(proc.start, 60)
        channels = [
            grpc.aio.secure_channel(
                f"127.0.0.1:{ports[n]}", pki.credentials(), interceptors=interceptors
            )
            for n in ("incidents", "resources")
        ]
        yield Stack(
            db,
            [p.log_path for p in procs.values()],
            [f"http://127.0.0.1:{metrics[n]}/metrics" for n in ports],
            incident_grpc.IncidentServiceStub(channels[0]),
            resource_grpc.ResourceServiceStub(channels[1]),
            provider,
        )
    finally:
        for ch in channels:
            await ch.close()
        provider.shutdown()
        for proc in procs.values():
            await asyncio.to_thread(proc.stop)


async def _wait_incident(
    stack: Stack, name: str, state: int, timeout_s: float = 30
) -> incident_pb2.Incident:
    deadline = time.monotonic() + timeout_s
    while True:
        incident = (
            await stack.incidents.GetIncident(ipb.GetIncidentRequest(name=name), timeout=5)
        ).incident
        if incident.state == state and incident.assignments:
            return incident
        assert time.monotonic() < deadline, f"{name} stuck in {incident.state}"
        await asyncio.sleep(0.2)


def _spans_by_trace(db: Path, incident_id: str) -> dict[str, list[Span]]:
    store = SpanStore.open_readonly(db)
    try:
        spans = store.spans_of(store.traces_of_incident(incident_id))
    finally:
        store.close()
    out: dict[str, list[Span]] = {}
    for s in spans:
        out.setdefault(s.trace_id, []).append(s)
    return out


async def _wait_spans(db: Path, incident_id: str, ready: object, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await asyncio.to_thread(_spans_by_trace, db, incident_id) if db.exists() else {}  # noqa: ASYNC240
        if ready(found):  # type: ignore[operator]
            return
        assert time.monotonic() < deadline, "the incident's spans did not reach the sink"
        await asyncio.sleep(0.3)


async def test_one_incident_reads_as_one_trace_and_no_pii_escapes(stack: Stack) -> None:
    # A partner agency's call-taker reports a house fire; the caller has a heart condition.
    created = (
        await stack.incidents.CreateIncident(
            ipb.CreateIncidentRequest(
                request_id="partner-113-0001",
                incident=incident_pb2.Incident(
                    type_code="FIRE.STRUCTURE",
                    location=common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn"),
                    caller=incident_pb2.Caller(name=CANARY_NAME, phone=CANARY_PHONE),
                    description="Cháy nhà phố, khói nhiều",
                ),
            ),
            timeout=10,
        )
    ).incident
    incident_id = created.name.removeprefix("incidents/")
    await stack.incidents.AddNote(
        ipb.AddNoteRequest(parent=created.name, text=CANARY_NOTE), timeout=10
    )
    # A caller name far too long, quoting the canary: refused, and not echoed anywhere.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.incidents.CreateIncident(
            ipb.CreateIncidentRequest(
                incident=incident_pb2.Incident(
                    type_code="FIRE.STRUCTURE",
                    location=common_pb2.Location(lat=10.7740, lon=106.7035),
                    caller=incident_pb2.Caller(name=CANARY_NAME * 40, phone=CANARY_PHONE * 20),
                ),
            ),
            timeout=10,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # Dispatch assigns units with nobody's action; the first one arrives.
    dispatched = await _wait_incident(stack, created.name, incident_pb2.INCIDENT_STATE_DISPATCHED)
    unit = dispatched.assignments[0].unit
    for status in (resource_pb2.UNIT_STATUS_EN_ROUTE, resource_pb2.UNIT_STATUS_ON_SCENE):
        await stack.resources.UpdateUnitStatus(
            rpb.UpdateUnitStatusRequest(name=unit, status=status), timeout=10
        )
    await _wait_incident(stack, created.name, incident_pb2.INCIDENT_STATE_ON_SCENE)
    stack.provider.force_flush()

    def complete(traces: dict[str, list[Span]]) -> bool:
        services = {s.service for spans in traces.values() for s in spans}
        names = {s.name for spans in traces.values() for s in spans}
        return {PARTNER, "incidents", "resources", "dispatch"} <= services and any(
            "icc.dispatch" in n for n in names
        )

    await _wait_spans(stack.sink_db, incident_id, complete)
    await asyncio.sleep(1.0)  # the last batches (on-scene) land too
    traces = _spans_by_trace(stack.sink_db, incident_id)

    # The call's own trace runs through every service, from the partner's client on.
    root = next(
        t
        for t, spans in traces.items()
        if any(s.service == PARTNER and s.name.endswith("CreateIncident") for s in spans)
    )
    spans = traces[root]
    by_id = {s.span_id: s for s in spans}
    assert {s.service for s in spans} >= {PARTNER, "incidents", "dispatch", "resources"}

    # Across NATS a consumer's span continues the span that made the message (the context
    # stored with it in the outbox); the relay's send span for it is the first of its batch
    # (a sibling of the consumer) or links to that context.
    consumers = [s for s in spans if s.kind == "CONSUMER"]
    assert {s.service for s in consumers} >= {"dispatch", "incidents"}
    sends = [s for t in traces.values() for s in t if s.kind == "PRODUCER"]
    for c in consumers:
        made_by = by_id.get(c.parent_span_id or "")
        assert made_by is not None, c.name
        destination = str(c.attributes["messaging.destination.name"])
        assert any(
            send.name in ("send", "send " + subject_template(destination))
            and (
                send.parent_span_id == made_by.span_id
                or made_by.span_id in {link.span_id for link in send.links}
            )
            for send in sends
        ), c.name
    intake = next(
        s
        for s in consumers
        if s.service == "dispatch" and s.name.startswith("process icc.incident")
    )
    assert by_id[intake.parent_span_id or ""].service == "incidents"
    # Dispatch's choice continues from its intake, and the reservation from the choice.
    choice = next(s for s in spans if s.name == "dispatch incident")
    reserve = next(s for s in spans if s.kind == "SERVER" and s.name.endswith("ReserveUnits"))
    assert _ancestors(choice, by_id) >= {intake.span_id}
    assert _ancestors(reserve, by_id) >= {choice.span_id}
    # The assignment reaches the incident within the same trace.
    assert any(
        s.service == "incidents" and s.name == "process icc.dispatch.assigned" for s in spans
    )

    # Every span that touches the incident says which: RPCs about it, events about it,
    # dispatch's work on it. (Not the partner's CreateIncident call: the id is the answer;
    # nor dispatch's read of the hospital list, which its proposal of an ambulance may
    # refresh on the way: a list of every hospital, about no incident.)
    touching = [
        s
        for s in spans
        if (
            s.kind in ("PRODUCER", "CONSUMER", "SERVER")
            or s.name == "dispatch incident"
            or (s.kind == "CLIENT" and s.service != PARTNER)
        )
        and not s.name.endswith("/ListHospitals")
    ]
    missing = [f"{s.service}: {s.name}" for s in touching if s.incident_id != incident_id]
    assert not missing, missing

    # `icc trace` prints the waterfall.
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["trace", incident_id, "--db", str(stack.sink_db)]
    )
    assert result.exit_code == 0, result.output
    for text in ("incidents", "dispatch", "resources", "dispatch incident", "ReserveUnits"):
        assert text in result.output
    # ... grouped by the steps of the incident's life (the note is none of them).
    store = SpanStore.open_readonly(stack.sink_db)
    try:
        steps = [s.step.value for s in load(store, incident_id).steps()]
    finally:
        store.close()
    assert steps == ["intake", "decision", "reservation", "acknowledgement", "on_scene", "other"]
    for label in ("Intake", "Dispatch decision", "Reservation", "Acknowledgement", "On scene"):
        assert f"▸ {label}" in result.output

    # PII guard: nothing of the caller or the note anywhere in spans, logs or metrics.
    conn = sqlite3.connect(stack.sink_db)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert len(dump) > 10_000  # the search covers the whole store
    seen = {"spans": dump}
    for log in stack.logs:
        seen[log.name] = log.read_text(encoding="utf-8", errors="replace")
    async with httpx.AsyncClient() as http:
        for url in stack.metrics_urls:
            seen[url] = (await http.get(url, timeout=5)).text
            assert "# TYPE" in seen[url], url
    # Structured logs escape non-ASCII: search their decoded form as well.
    for name in [n for n in seen if n.endswith(".log")]:
        decoded = []
        for line in seen[name].splitlines():
            try:
                decoded.append(json.dumps(json.loads(line), ensure_ascii=False))
            except ValueError:
                decoded.append(line)
        seen[name + " (decoded)"] = "\n".join(decoded)
    leaks = [(where, c) for where, text in seen.items() for c in CANARIES if c in text]
    assert not leaks, leaks


def _ancestors(span: Span, by_id: dict[str, Span]) -> set[str]:
    out: set[str] = set()
    parent = span.parent_span_id
    while parent and parent in by_id and parent not in out:
        out.add(parent)
        parent = by_id[parent].parent_span_id
    return out
