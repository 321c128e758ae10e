from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
import pytest_asyncio

from icc.resource.v1 import resource_service_pb2_grpc as pb_grpc
from icc_bus import BusConfig
from icc_resources.main import Config, Running, start
from icc_testing import NatsServer, Pki


@dataclass
class Service:
    running: Running
    stub: pb_grpc.ResourceServiceStub
    channel: grpc.aio.Channel
    nats: NatsServer
    config: Config
    pki: Pki
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def as_(self, identity: str) -> pb_grpc.ResourceServiceStub:
        """A stub calling as another identity of the test PKI (`dispatch`, a device)."""
        channel = self.pki.channel(f"127.0.0.1:{self.running.port}", identity)
        self.channels.append(channel)
        return pb_grpc.ResourceServiceStub(channel)


def config_for(
    nats_server: NatsServer, database_url: str, pki: Pki, stale_after_s: float = 60
) -> Config:
    return Config(
        address="127.0.0.1:0",
        database_url=database_url,
        bus=BusConfig(url=nats_server.url),
        relay_enabled=True,
        stale_after=timedelta(seconds=stale_after_s),
        tls=pki.tls("resources"),
    )


@pytest_asyncio.fixture
async def service(nats_server: NatsServer, database_url: str, pki: Pki) -> AsyncIterator[Service]:
    config = config_for(nats_server, database_url, pki, stale_after_s=1.0)
    running = await start(config)
    channel = pki.channel(f"127.0.0.1:{running.port}")
    svc = Service(running, pb_grpc.ResourceServiceStub(channel), channel, nats_server, config, pki)
    try:
        yield svc
    finally:
        for extra in svc.channels:
            await extra.close()
        await channel.close()
        await running.stop()
