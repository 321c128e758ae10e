"""Wiring of the dispatch service: config, storage, bus, fleet view, loop, gRPC."""

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path

from nats.aio.client import Client

from icc_bus import (
    DLQ_STREAM,
    BusConfig,
    DurableConsumer,
    StreamSpec,
    cancel_and_wait,
    connect,
    ensure_streams,
)
from icc_dispatch.api import DOMAIN_ERRORS, SERVICE_NAME, DispatchApi, register, to_rpc_error
from icc_dispatch.consumers import INCIDENTS, UNITS, Consumers
from icc_dispatch.domain.eta import EtaProvider, TravelModel
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import Priority
from icc_dispatch.domain.plans import PlanBook
from icc_dispatch.fleet_feed import FleetFeed
from icc_dispatch.osrm import OsrmEtaProvider
from icc_dispatch.resources_client import ResourcesClient
from icc_dispatch.service import DispatchService, Settings
from icc_dispatch.store import outbox
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

log = logging.getLogger("icc_dispatch")

DISPATCH_STREAM = StreamSpec(
    name="ICC_DISPATCH",
    subjects=["icc.dispatch.>"],
    description="Recommendations, assignments, acknowledgements, escalations and releases",
)


def _priorities(text: str) -> frozenset[Priority]:
    names = [p.strip().upper() for p in text.split(",") if p.strip()]
    try:
        return frozenset(Priority[n] for n in names)
    except KeyError as exc:
        raise SystemExit(f"ICC_DISPATCH_AUTO: expected e.g. 'P1,P2', got {text!r}") from exc


@dataclass(frozen=True)
class Config:
    address: str
    database_url: str
    bus: BusConfig
    relay_enabled: bool
    resources_target: str
    settings: Settings
    # `model` (no network) or `osrm` (ICC_OSRM_URL).
    eta: str = "model"
    osrm_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        return cls(
            address=env.get("ICC_DISPATCH_ADDR", "127.0.0.1:50053"),
            database_url=database_url_from_env("dispatch", env),
            bus=BusConfig.from_env(env),
            relay_enabled=relay_enabled_from_env(env),
            resources_target=env.get("ICC_RESOURCES_TARGET", "127.0.0.1:50052"),
            settings=Settings(
                auto_priorities=_priorities(env.get("ICC_DISPATCH_AUTO", "P1,P2")),
                ack_within=timedelta(seconds=float(env.get("ICC_DISPATCH_ACK_TIMEOUT_S", "60"))),
                mutual_aid_eta_s=int(env.get("ICC_DISPATCH_MUTUAL_AID_ETA_S", "900")),
            ),
            eta=env.get("ICC_DISPATCH_ETA", "model"),
            osrm_url=env.get("ICC_OSRM_URL", ""),
        )


def load_plans() -> PlanBook:
    text = (resources.files("icc_dispatch") / "data" / "response_plans.json").read_text("utf-8")
    return PlanBook.from_data(json.loads(text))


def eta_provider(config: Config) -> EtaProvider:
    if config.eta == "osrm":
        if not config.osrm_url:
            raise SystemExit("ICC_DISPATCH_ETA=osrm needs ICC_OSRM_URL (e.g. http://osrm:5000)")
        return OsrmEtaProvider(config.osrm_url)
    if config.eta != "model":
        raise SystemExit(f"ICC_DISPATCH_ETA: 'model' or 'osrm', got {config.eta!r}")
    return TravelModel()


@dataclass
class Running:
    server: GrpcServer
    # Everything else the service started, closed in the reverse order.
    resources: contextlib.AsyncExitStack
    # The service itself, for tests that drive it past the bus.
    service: DispatchService

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop(grace_s=3)
        await self.resources.aclose()


async def _drain(nc: Client) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


async def _stop_loop(stopping: asyncio.Event, loop: "asyncio.Task[None]") -> None:
    stopping.set()
    with contextlib.suppress(Exception):
        await cancel_and_wait(loop)


async def start(config: Config) -> Running:
    async with contextlib.AsyncExitStack() as stack:
        db = Database(config.database_url)
        stack.push_async_callback(db.dispose)
        await upgrade(db, Path(str(resources.files("icc_dispatch") / "migrations")))
        nc = await connect(config.bus, name="icc-dispatch")
        stack.push_async_callback(_drain, nc)
        js = nc.jetstream()
        await ensure_streams(js, [DISPATCH_STREAM, DLQ_STREAM], replicas=config.bus.replicas)
        # Many small statements per write: every batch on the loop's thread
        # (see icc_storage.batch).
        writer = Writer.start(
            db, outbox, js, relay_enabled=config.relay_enabled, inline_max_jobs=EVERY_BATCH_INLINE
        )
        stack.push_async_callback(writer.stop)
        client = ResourcesClient(config.resources_target)
        stack.push_async_callback(client.close)
        eta = eta_provider(config)
        if isinstance(eta, OsrmEtaProvider):
            stack.push_async_callback(eta.close)
        fleet = Fleet()
        # The feed tells the service of freed units; the service asks the feed to
        # re-read units it was wrong about.
        feed = FleetFeed(nc, client, fleet, lambda kind: service.units_freed(kind))
        service = DispatchService(
            db=db,
            batcher=writer.batcher,
            plans=load_plans(),
            fleet=fleet,
            eta=eta,
            reserve_units=client.reserve,
            release_units=client.release,
            refresh_units=feed.refresh,
            settings=config.settings,
        )
        await feed.start()
        stack.push_async_callback(feed.stop)
        log.info("fleet loaded", extra={"units": len(fleet)})
        stopping = asyncio.Event()
        loop = asyncio.create_task(service.run(stopping), name="dispatch-loop")
        stack.push_async_callback(_stop_loop, stopping, loop)
        handlers = Consumers(service, config.settings.auto_priorities)
        for spec, handler in ((INCIDENTS, handlers.on_incident), (UNITS, handlers.on_unit)):
            consumer = DurableConsumer(nc, spec, handler)
            consumer.start()
            stack.push_async_callback(consumer.stop)
        server = await start_server(
            config.address,
            register(DispatchApi(service)),
            [SERVICE_NAME],
            domain_errors=DOMAIN_ERRORS,
            translate=to_rpc_error,
        )
        # Started: the stack's closing now belongs to `Running.stop`.
        return Running(server, stack.pop_all(), service)
    raise AssertionError("unreachable")


def run() -> None:
    config = Config.from_env()
    run_service("dispatch", lambda: start(config), "ICC_DISPATCH_ADDR")


if __name__ == "__main__":
    run()
