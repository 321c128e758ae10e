"""Wiring of the incidents service: config, telemetry, storage, bus, gRPC, shutdown."""

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nats.aio.client import Client

from icc_bus import DLQ_STREAM, BusConfig, DurableConsumer, connect, ensure_streams
from icc_city.area import service_area
from icc_incidents.api import DOMAIN_ERRORS, SERVICE_NAME, IncidentApi, register, to_rpc_error
from icc_incidents.consumers import DISPATCH, UNITS, Consumers
from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.validation import Rules
from icc_incidents.service import IncidentService
from icc_incidents.store import outbox
from icc_incidents.watch import INCIDENT_STREAM, IncidentWatch
from icc_rpc import GrpcServer, start_server
from icc_rpc.runtime import run_service
from icc_storage import (
    Database,
    Writer,
    database_url_from_env,
    relay_enabled_from_env,
    upgrade,
)


@dataclass(frozen=True)
class Config:
    address: str
    database_url: str
    bus: BusConfig
    relay_enabled: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        return cls(
            address=env.get("ICC_INCIDENTS_ADDR", "127.0.0.1:50051"),
            database_url=database_url_from_env("incidents", env),
            bus=BusConfig.from_env(env),
            relay_enabled=relay_enabled_from_env(env),
        )


def load_rules() -> Rules:
    types = resources.files("icc_incidents") / "data" / "incident_types.json"
    return Rules(catalog=Catalog.from_json(types.read_text(encoding="utf-8")), area=service_area())


@dataclass
class Running:
    """A started incidents service; `stop()` shuts it down in order."""

    server: GrpcServer
    nc: Client
    db: Database
    writer: Writer
    consumers: list[DurableConsumer]

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop(grace_s=3)
        for consumer in self.consumers:
            await consumer.stop()
        await self.writer.stop()
        with contextlib.suppress(Exception):
            await self.nc.drain()
        await self.db.dispose()


async def start(config: Config) -> Running:
    db = Database(config.database_url)
    await upgrade(db, Path(str(resources.files("icc_incidents") / "migrations")))
    nc = await connect(config.bus, name="icc-incidents")
    js = nc.jetstream()
    await ensure_streams(js, [INCIDENT_STREAM, DLQ_STREAM], replicas=config.bus.replicas)
    writer = Writer.start(db, outbox, js, relay_enabled=config.relay_enabled)
    batcher = writer.batcher
    rules = load_rules()
    service = IncidentService(db=db, batcher=batcher, rules=rules)
    api = IncidentApi(service, rules.catalog, IncidentWatch(js))
    # Dispatch's and the units' streams may not exist yet: the consumers keep
    # trying until they do.
    handlers = Consumers(service)
    consumers = [
        DurableConsumer(nc, DISPATCH, handlers.on_dispatch),
        DurableConsumer(nc, UNITS, handlers.on_unit),
    ]
    for consumer in consumers:
        consumer.start()
    try:
        server = await start_server(
            config.address,
            register(api),
            [SERVICE_NAME],
            domain_errors=DOMAIN_ERRORS,
            translate=to_rpc_error,
        )
    except OSError:
        for consumer in consumers:
            await consumer.stop()
        await writer.stop()
        await nc.close()
        await db.dispose()
        raise
    return Running(server, nc, db, writer, consumers)


def run() -> None:
    config = Config.from_env()
    run_service("incidents", lambda: start(config), "ICC_INCIDENTS_ADDR")


if __name__ == "__main__":
    run()
