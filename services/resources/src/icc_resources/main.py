"""Wiring of the resources service: config, storage, seed data, bus, AVL, gRPC."""

import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path

from nats.aio.client import Client

from icc_bus import DLQ_STREAM, BusConfig, StreamSpec, connect, ensure_streams
from icc_resources.api import DOMAIN_ERRORS, SERVICE_NAME, ResourceApi, register, to_rpc_error
from icc_resources.avl import Avl, PositionView
from icc_resources.seed import load_reference_data, seed
from icc_resources.service import ResourceService, utc_now
from icc_resources.store import outbox
from icc_rpc import GrpcServer, start_server
from icc_rpc.runtime import run_service
from icc_storage import (
    EVERY_BATCH_INLINE,
    Database,
    Writer,
    database_url_from_env,
    relay_enabled_from_env,
    upgrade,
)

log = logging.getLogger("icc_resources")

UNIT_STREAM = StreamSpec(
    name="ICC_UNIT",
    # Status only: positions are high-rate and live in the key-value bucket.
    subjects=["icc.unit.status.>"],
    description="Unit status changes published by the resources service",
)
HOSPITAL_STREAM = StreamSpec(
    name="ICC_HOSPITAL",
    subjects=["icc.hospital.>"],
    description="Hospital capacity changes published by the resources service",
)


@dataclass(frozen=True)
class Config:
    address: str
    database_url: str
    bus: BusConfig
    relay_enabled: bool
    stale_after: timedelta

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        return cls(
            address=env.get("ICC_RESOURCES_ADDR", "127.0.0.1:50052"),
            database_url=database_url_from_env("resources", env),
            bus=BusConfig.from_env(env),
            relay_enabled=relay_enabled_from_env(env),
            stale_after=timedelta(seconds=float(env.get("ICC_RESOURCES_STALE_AFTER_S", "60"))),
        )


@dataclass
class Running:
    server: GrpcServer
    nc: Client
    db: Database
    writer: Writer
    avl: Avl
    view: PositionView

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop(grace_s=3)
        await self.avl.stop()
        await self.writer.stop()
        with contextlib.suppress(Exception):
            await self.nc.drain()
        await self.db.dispose()


async def start(config: Config) -> Running:
    db = Database(config.database_url)
    await upgrade(db, Path(str(resources.files("icc_resources") / "migrations")))
    nc = await connect(config.bus, name="icc-resources")
    js = nc.jetstream()
    await ensure_streams(
        js, [UNIT_STREAM, HOSPITAL_STREAM, DLQ_STREAM], replicas=config.bus.replicas
    )
    # Many small statements per write: every batch on the loop's thread (icc_storage.batch).
    writer = Writer.start(
        db, outbox, js, relay_enabled=config.relay_enabled, inline_max_jobs=EVERY_BATCH_INLINE
    )
    batcher = writer.batcher
    service = ResourceService(db=db, batcher=batcher)
    added = await batcher.submit(lambda tx: seed(tx, load_reference_data(utc_now())))
    log.info("reference data loaded", extra={"added": added})
    view = PositionView(config.stale_after)
    view.known_units = await service.unit_ids()
    avl = Avl(nc, view, replicas=config.bus.replicas)
    await avl.start()
    try:
        server = await start_server(
            config.address,
            register(ResourceApi(service, view, avl)),
            [SERVICE_NAME],
            domain_errors=DOMAIN_ERRORS,
            translate=to_rpc_error,
        )
    except OSError:
        await avl.stop()
        await writer.stop()
        await nc.close()
        await db.dispose()
        raise
    return Running(server, nc, db, writer, avl, view)


def run() -> None:
    config = Config.from_env()
    run_service("resources", lambda: start(config), "ICC_RESOURCES_ADDR")


if __name__ == "__main__":
    run()
