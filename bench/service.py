"""The incidents service as deployed: `python -m icc_incidents.main` in its own process,
with its own nats-server and SQLite file, driven over gRPC like any client would (mutual
TLS, as the command center's supervisor, through the authorization policy); once with
tracing off (no exporter), once exporting every span to the trace sink, and once with
mutual TLS and authorization off (`bench.plain_incidents`: the only plaintext server).
"""

import random

import grpc
import nats

from bench.incident_requests import create_request
from bench.load import EventWatcher, call_and_event_figures, prefixed, watch_consumer
from bench.procs import Processes, wait_channel_ready, wait_serving
from bench.settings import Settings
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_testing import free_port

SERVICE_NAME = "icc.incident.v1.IncidentService"
STREAM = "ICC_INCIDENT"
SUBJECT = "icc.incident.created"
CALL_TIMEOUT_S = 10.0


async def incidents_service(procs: Processes, settings: Settings) -> dict[str, float]:
    """Tracing off: no exporter (the SDK still makes spans)."""
    return prefixed("svc", await _incidents(procs, settings, otlp_endpoint=""))


async def incidents_plain(procs: Processes, settings: Settings) -> dict[str, float]:
    """Tracing off, and mutual TLS and authorization off: what they cost is `svc` beside it."""
    figures = await _incidents(procs, settings, otlp_endpoint="", secure=False)
    return prefixed("plain", figures)


async def incidents_traced(procs: Processes, settings: Settings) -> dict[str, float]:
    """Tracing on as `make run` has it: batch span processor exporting to the trace sink."""
    port = free_port()
    sink = procs.python(
        "tracesink",
        ["-m", "icc_tracesink.main"],
        env={
            "ICC_TRACESINK_ADDR": f"127.0.0.1:{port}",
            "ICC_TRACESINK_DB": str(procs.fresh_dir("traces") / "traces.db"),
            "ICC_TRACESINK_QUERY_ADDR": "",
        },
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await wait_channel_ready(channel, sink, settings.start_timeout_s)
    figures = await _incidents(procs, settings, otlp_endpoint=f"http://127.0.0.1:{port}")
    return prefixed("traced", figures)


async def _incidents(
    procs: Processes, settings: Settings, otlp_endpoint: str, secure: bool = True
) -> dict[str, float]:
    server = procs.nats_server("nats-service")
    port = free_port()
    db = procs.fresh_dir("incidents-db") / "incidents.db"
    target = f"127.0.0.1:{port}"
    service = procs.python(
        "incidents",
        ["-m", "icc_incidents.main" if secure else "bench.plain_incidents"],
        env={
            **(procs.pki.env("incidents") if secure else {}),
            "ICC_INCIDENTS_ADDR": f"127.0.0.1:{port}",
            "ICC_NATS_URL": server.url,
            "ICC_INCIDENTS_DB_URL": f"sqlite+aiosqlite:///{db}",
            "ICC_LOG_LEVEL": "WARNING",
            # Empty: no exporter, whatever the caller's environment says.
            "ICC_OTLP_ENDPOINT": otlp_endpoint,
            # As `make run` has it: spans to the sink, metrics only on Prometheus.
            "ICC_OTLP_METRICS": "0",
            "OTEL_BSP_SCHEDULE_DELAY": "500",
        },
    )
    nc = await nats.connect(server.url, name="bench-driver")
    watcher = EventWatcher()
    try:
        channel = procs.channel(target) if secure else grpc.aio.insecure_channel(target)
        async with channel:
            await wait_serving(channel, service, SERVICE_NAME, settings.start_timeout_s)
            await watch_consumer(procs, nc, watcher, settings, STREAM, SUBJECT, "incident")
            stub = pb_grpc.IncidentServiceStub(channel)
            rng = random.Random(7)

            async def call() -> str:
                response = await stub.CreateIncident(create_request(rng), timeout=CALL_TIMEOUT_S)
                return str(response.incident.name)

            figures = await call_and_event_figures(call, watcher, settings)
    finally:
        await watcher.stop()
        await nc.close()
    return figures
