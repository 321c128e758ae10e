"""Wiring of the dispatch service: config, storage, bus, fleet view, loop, gRPC."""

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources

from icc_bus import DurableConsumer, StreamSpec, cancel_and_wait
from icc_dispatch.api import SERVICE_NAME, DispatchApi, add_servicer
from icc_dispatch.consumers import INCIDENTS, UNITS, Consumers
from icc_dispatch.domain.eta import EtaProvider, TravelModel
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.plans import PlanBook
from icc_dispatch.fleet_feed import FleetFeed
from icc_dispatch.osrm import OsrmEtaProvider
from icc_dispatch.policy import POLICY
from icc_dispatch.resources_client import ResourcesClient
from icc_dispatch.service import DispatchService, Settings
from icc_dispatch.store import outbox
from icc_host import (
    Hosted,
    ServiceConfig,
    open_bus,
    open_database,
    serve_grpc,
    start_writer,
    watch_health,
)
from icc_kernel.settings import number, priorities, whole
from icc_rpc.runtime import run_service
from icc_storage import EVERY_BATCH_INLINE

log = logging.getLogger("icc_dispatch")

DISPATCH_STREAM = StreamSpec(
    name="ICC_DISPATCH",
    subjects=["icc.dispatch.>"],
    description="Recommendations, assignments, acknowledgements, escalations and releases",
)


@dataclass(frozen=True)
class Config(ServiceConfig):
    resources_target: str = "127.0.0.1:50052"
    settings: Settings = field(default_factory=Settings)
    # `model` (no network) or `osrm` (ICC_OSRM_URL).
    eta: str = "model"
    osrm_url: str = ""


def config_from_env(env: Mapping[str, str] = os.environ) -> Config:
    settings = Settings(
        auto_priorities=priorities(env, "ICC_DISPATCH_AUTO", "P1,P2"),
        ack_within=timedelta(seconds=number(env, "ICC_DISPATCH_ACK_TIMEOUT_S", 60.0, least=1.0)),
        mutual_aid_eta_s=whole(env, "ICC_DISPATCH_MUTUAL_AID_ETA_S", 900, least=0),
    )
    return Config.from_env(
        "dispatch",
        "127.0.0.1:50053",
        env,
        resources_target=env.get("ICC_RESOURCES_TARGET", "127.0.0.1:50052"),
        settings=settings,
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
class Running(Hosted):
    """A started dispatch service; `stop()` shuts it down in order."""

    # The service itself, for tests that drive it past the bus.
    service: DispatchService


async def _stop_loop(stopping: asyncio.Event, loop: "asyncio.Task[None]") -> None:
    stopping.set()
    with contextlib.suppress(Exception):
        await cancel_and_wait(loop)


async def start(config: Config) -> Running:
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(stack, config.database_url, "icc_dispatch")
        nc = await open_bus(stack, config.bus, "icc-dispatch", [DISPATCH_STREAM])
        # Many small statements per write: every batch on the loop's thread (icc_storage.batch).
        writer = start_writer(stack, db, outbox, nc, config, inline_max_jobs=EVERY_BATCH_INLINE)
        client = ResourcesClient(
            config.resources_target,
            config.tls.channel_credentials() if config.tls else None,
        )
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
            list_hospitals=client.hospitals,
            settings=config.settings,
        )
        await feed.start()
        stack.push_async_callback(feed.stop)
        log.info("fleet loaded", extra={"units": len(fleet)})
        stopping = asyncio.Event()
        loop = asyncio.create_task(service.run(stopping), name="dispatch-loop")
        stack.push_async_callback(_stop_loop, stopping, loop)
        handlers = Consumers(service, config.settings.auto_priorities)
        consumers = []
        for spec, handler in ((INCIDENTS, handlers.on_incident), (UNITS, handlers.on_unit)):
            consumer = DurableConsumer(nc, spec, handler)
            consumer.start()
            stack.push_async_callback(consumer.stop)
            consumers.append(consumer)
        server = await serve_grpc(
            config.address, DispatchApi(service), add_servicer, POLICY, config.tls
        )
        watch_health(stack, server, SERVICE_NAME, db, nc, consumers)
        # Started: the stack's closing now belongs to `Running.stop`.
        return Running(server, stack.pop_all(), service)
    raise AssertionError("unreachable")


def run() -> None:
    run_service("dispatch", lambda: start(config_from_env()), "ICC_DISPATCH_ADDR")


if __name__ == "__main__":
    run()
