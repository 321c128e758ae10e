"""Nothing lost, nothing twice: the incidents service killed with SIGKILL."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from icc.common.v1 import common_pb2
from icc.incident.v1 import events_pb2, incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_testing import NatsServer, Pki, ServiceProcess, free_port
from tests.conftest import stream_payloads

pytestmark = pytest.mark.slow


@pytest.fixture
def incidents(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> Iterator[ServiceProcess]:
    port = free_port()
    proc = ServiceProcess(
        "icc_incidents.main",
        f"127.0.0.1:{port}",
        {
            "ICC_INCIDENTS_ADDR": f"127.0.0.1:{port}",
            "ICC_NATS_URL": nats_server.url,
            "ICC_INCIDENTS_DB_URL": f"sqlite+aiosqlite:///{tmp_path / 'incidents.db'}",
            "ICC_LOG_LEVEL": "WARNING",
            **pki.env("incidents"),
        },
        tmp_path / "incidents.log",
        pki.credentials(),
    )
    yield proc
    proc.stop()


def request(request_id: str) -> pb.CreateIncidentRequest:
    return pb.CreateIncidentRequest(
        request_id=request_id,
        incident=incident_pb2.Incident(
            type_code="MEDICAL.CARDIAC_ARREST",
            location=common_pb2.Location(lat=10.7769, lon=106.7009, ward="Sài Gòn"),
        ),
    )


async def created_events(url: str) -> list[str]:
    """Incident names of every `created` event on the stream."""
    payloads = await stream_payloads(url, "ICC_INCIDENT", "icc.incident.created")
    return [events_pb2.IncidentCreated.FromString(p).incident.name for p in payloads]


async def settle(url: str, expected: int, timeout_s: float = 15) -> list[str]:
    names: list[str] = []
    for _ in range(int(timeout_s / 0.1)):
        names = await created_events(url)
        if len(names) >= expected:
            await asyncio.sleep(0.5)
            return await created_events(url)
        await asyncio.sleep(0.1)
    return names


async def test_killed_after_commit_before_publish(
    incidents: ServiceProcess, nats_server: NatsServer
) -> None:
    # The relay is held back, so the incident commits and its event waits in the outbox.
    incidents.start(ICC_OUTBOX_RELAY="off")
    async with grpc.aio.secure_channel(incidents.target, incidents.credentials) as channel:
        created = await pb_grpc.IncidentServiceStub(channel).CreateIncident(
            request("r-1"), timeout=10
        )
    incidents.kill()
    assert await created_events(nats_server.url) == []

    incidents.start()
    assert await settle(nats_server.url, 1) == [created.incident.name]
    # A second restart publishes nothing more.
    incidents.stop()
    incidents.start()
    await asyncio.sleep(1.0)
    assert await created_events(nats_server.url) == [created.incident.name]


async def test_killed_mid_burst_every_incident_announced_exactly_once(
    incidents: ServiceProcess, nats_server: NatsServer
) -> None:
    incidents.start()
    total = 300
    done: dict[str, str] = {}

    async def create_all(stub: pb_grpc.IncidentServiceStub) -> None:
        async def one(n: int) -> None:
            try:
                reply = await stub.CreateIncident(request(f"burst-{n}"), timeout=10)
                done[f"burst-{n}"] = reply.incident.name
            except grpc.aio.AioRpcError:
                pass  # the server died under us: retried below, as a partner would

        await asyncio.gather(*(one(n) for n in range(total)))

    async with grpc.aio.secure_channel(incidents.target, incidents.credentials) as channel:
        stub = pb_grpc.IncidentServiceStub(channel)
        burst = asyncio.create_task(create_all(stub))
        while len(done) < 60:
            await asyncio.sleep(0.005)
        incidents.kill()
        await burst
    answered_before_kill = len(done)
    assert answered_before_kill < total

    incidents.start()
    async with grpc.aio.secure_channel(incidents.target, incidents.credentials) as channel:
        stub = pb_grpc.IncidentServiceStub(channel)
        for n in range(total):
            reply = await stub.CreateIncident(request(f"burst-{n}"), timeout=10)
            if f"burst-{n}" in done:
                assert reply.replayed
                assert reply.incident.name == done[f"burst-{n}"]
            done[f"burst-{n}"] = reply.incident.name
        listed: list[str] = []
        token = ""
        while True:
            page = await stub.ListIncidents(
                pb.ListIncidentsRequest(page_size=500, page_token=token), timeout=10
            )
            listed.extend(i.name for i in page.incidents)
            token = page.next_page_token
            if not token:
                break

    names = await settle(nats_server.url, total)
    assert len(set(done.values())) == total
    assert sorted(listed) == sorted(done.values())  # one incident per request id
    assert sorted(names) == sorted(done.values())  # one event per incident, none lost, none twice
