"""Metrics end to end: response times from a real dispatch, and a real service's `/metrics`."""

import asyncio
import time
from pathlib import Path

import httpx

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc_testing import NatsServer, Pki, RecordedMetrics, ServiceProcess, free_port
from tests.conftest import City

CALLER = incident_pb2.Caller(name="Trần Thị Đo Lường", phone="+84907654321", language="vi")


async def test_an_automatic_dispatch_records_time_to_dispatch_once(
    city: City, metrics: RecordedMetrics
) -> None:
    fire = await city.create("FIRE.STRUCTURE")  # P1: dispatched with no dispatcher action
    deadline = time.monotonic() + 20
    while True:
        got = (
            await city.incidents.GetIncident(ipb.GetIncidentRequest(name=fire.name), timeout=5)
        ).incident
        # Dispatch fills the plan in several events; wait for all of them.
        if got.state == incident_pb2.INCIDENT_STATE_DISPATCHED and len(got.assignments) >= 3:
            break
        assert time.monotonic() < deadline, f"not dispatched: {got.state}"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # late assignment events, if any, are handled too

    lead = {"icc.incident.agency": "FIRE", "icc.incident.priority": "P1"}
    assert metrics.counter("icc.incidents.created", lead) == 1
    assert metrics.histogram_count("icc.incident.time_to_dispatch") == 1
    assert metrics.histogram_count("icc.incident.time_to_dispatch", lead) == 1
    seconds = metrics.histogram_sum("icc.incident.time_to_dispatch")
    recorded = got.first_dispatch_time.ToDatetime() - got.create_time.ToDatetime()
    assert abs(seconds - recorded.total_seconds()) < 0.01
    assert metrics.histogram_count("icc.incident.time_to_on_scene") == 0


async def test_a_service_serves_its_metrics_for_prometheus(
    nats_server: NatsServer, tmp_path: Path, pki: Pki
) -> None:
    port, metrics_port = free_port(), free_port()
    proc = ServiceProcess(
        "icc_incidents.main",
        f"127.0.0.1:{port}",
        {
            "ICC_INCIDENTS_ADDR": f"127.0.0.1:{port}",
            "ICC_NATS_URL": nats_server.url,
            "ICC_INCIDENTS_DB_URL": f"sqlite+aiosqlite:///{tmp_path / 'incidents.db'}",
            "ICC_METRICS_PORT": str(metrics_port),
            "ICC_LOG_LEVEL": "WARNING",
            **pki.env("incidents"),
        },
        tmp_path / "incidents.log",
        pki.credentials(),
    )
    await asyncio.to_thread(proc.start)
    try:
        async with pki.channel(proc.target) as channel:
            stub = incident_grpc.IncidentServiceStub(channel)
            await stub.CreateIncident(
                ipb.CreateIncidentRequest(
                    incident=incident_pb2.Incident(
                        type_code="MEDICAL.CARDIAC_ARREST",
                        location=common_pb2.Location(lat=10.7769, lon=106.7009),
                        caller=CALLER,
                        description="ngất xỉu",
                    )
                ),
                timeout=5,
            )
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 10
            while True:  # the backlog appears after the relay's first count
                text = (await http.get(url, timeout=5)).text
                if "icc_outbox_backlog" in text or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(proc.stop)

    assert "target_info{" in text and 'service_name="incidents"' in text
    assert "# TYPE icc_incidents_created_total counter" in text
    assert 'icc_incident_agency="MEDICAL"' in text and 'icc_incident_priority="P1"' in text
    assert "# TYPE rpc_server_duration_milliseconds histogram" in text
    assert 'rpc_method="CreateIncident"' in text
    assert "# TYPE icc_outbox_backlog gauge" in text
    assert "process_resident_memory_bytes" in text
    assert "grpc.health.v1.Health" not in text  # health checks are not measured
    for personal in (CALLER.name, CALLER.phone, "ngất xỉu"):
        assert personal not in text
    # The endpoint went away with the process.
    async with httpx.AsyncClient() as http:
        try:
            await http.get(url, timeout=2)
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the metrics endpoint outlived its service")
