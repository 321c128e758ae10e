from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest_asyncio
from nats.aio.client import Client

from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_bus import BusConfig
from icc_incidents.main import Config, Running, start
from icc_testing import NatsServer, Pki


@dataclass
class Service:
    running: Running
    stub: pb_grpc.IncidentServiceStub
    channel: grpc.aio.Channel
    nats: NatsServer
    pki: Pki
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    def as_(self, identity: str) -> pb_grpc.IncidentServiceStub:
        """A stub calling as another identity of the test PKI (`police-113`, ...)."""
        channel = self.pki.channel(self.target, identity)
        self.channels.append(channel)
        return pb_grpc.IncidentServiceStub(channel)


@pytest_asyncio.fixture
async def service(nats_server: NatsServer, database_url: str, pki: Pki) -> AsyncIterator[Service]:
    config = Config(
        address="127.0.0.1:0",
        database_url=database_url,
        bus=BusConfig(url=nats_server.url),
        relay_enabled=True,
        tls=pki.tls("incidents"),
    )
    running = await start(config)
    channel = pki.channel(f"127.0.0.1:{running.port}")
    svc = Service(running, pb_grpc.IncidentServiceStub(channel), channel, nats_server, pki)
    try:
        yield svc
    finally:
        for extra in svc.channels:
            await extra.close()
        await channel.close()
        await running.stop()


async def stream_messages(nc: Client, stream: str = "ICC_INCIDENT") -> list[object]:
    """Every message currently in a stream, in order."""
    js = nc.jetstream()
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        out.append(await js.get_msg(stream, seq))
    return out
