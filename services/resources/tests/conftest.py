from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest_asyncio

from icc.resource.v1 import resource_service_pb2_grpc as pb_grpc
from icc_bus import BusConfig
from icc_resources.main import Config, Running, start
from icc_testing import NatsServer


@dataclass
class Service:
    running: Running
    stub: pb_grpc.ResourceServiceStub
    channel: grpc.aio.Channel
    nats: NatsServer
    config: Config


def config_for(nats_server: NatsServer, database_url: str, stale_after_s: float = 60) -> Config:
    return Config(
        address="127.0.0.1:0",
        database_url=database_url,
        bus=BusConfig(url=nats_server.url),
        relay_enabled=True,
        stale_after=timedelta(seconds=stale_after_s),
    )


@pytest_asyncio.fixture
async def service(nats_server: NatsServer, database_url: str) -> AsyncIterator[Service]:
    config = config_for(nats_server, database_url, stale_after_s=1.0)
    running = await start(config)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield Service(running, pb_grpc.ResourceServiceStub(channel), channel, nats_server, config)
    finally:
        await channel.close()
        await running.stop()
