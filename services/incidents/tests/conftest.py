from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest_asyncio
from nats.aio.client import Client

from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_bus import BusConfig
from icc_incidents.main import Config, Running, start
from icc_testing import NatsServer


@dataclass
class Service:
    running: Running
    stub: pb_grpc.IncidentServiceStub
    channel: grpc.aio.Channel
    nats: NatsServer

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.running.port}"


@pytest_asyncio.fixture
async def service(nats_server: NatsServer, database_url: str) -> AsyncIterator[Service]:
    config = Config(
        address="127.0.0.1:0",
        database_url=database_url,
        bus=BusConfig(url=nats_server.url),
        relay_enabled=True,
    )
    running = await start(config)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield Service(running, pb_grpc.IncidentServiceStub(channel), channel, nats_server)
    finally:
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
