"""Wiring of the resources service: config, storage, seed data, bus, AVL, gRPC."""

import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from icc_bus import StreamSpec
from icc_host import (
    Hosted,
    ServiceConfig,
    open_bus,
    open_database,
    serve_grpc,
    start_writer,
    watch_health,
)
from icc_kernel.clock import utc_now
from icc_kernel.settings import number
from icc_resources import events, store
from icc_resources.api import SERVICE_NAME, ResourceApi, add_servicer
from icc_resources.avl import Avl, PositionView
from icc_resources.hospital_watch import HospitalWatch
from icc_resources.policy import POLICY
from icc_resources.seed import load_reference_data
from icc_resources.service import ResourceService
from icc_rpc.runtime import run_service
from icc_storage import EVERY_BATCH_INLINE

log = logging.getLogger("icc_resources")

UNIT_STREAM = StreamSpec(
    name="ICC_UNIT",
    # Status only: positions are high-rate and live in the key-value bucket.
    subjects=[events.UNIT_STATUS_SUBJECT + ">"],
    description="Unit status changes published by the resources service",
)
HOSPITAL_STREAM = StreamSpec(
    name="ICC_HOSPITAL",
    subjects=[events.HOSPITAL_SUBJECT + ">"],
    description="Hospital capacity changes published by the resources service",
)


@dataclass(frozen=True)
class Config(ServiceConfig):
    # A position older than this is shown as stale.
    stale_after: timedelta = timedelta(seconds=60)


def config_from_env(env: Mapping[str, str] = os.environ) -> Config:
    stale_after = timedelta(seconds=number(env, "ICC_RESOURCES_STALE_AFTER_S", 60.0, least=1.0))
    return Config.from_env("resources", "127.0.0.1:50052", env, stale_after=stale_after)


@dataclass
class Running(Hosted):
    """A started resources service; `stop()` shuts it down in order."""

    avl: Avl
    view: PositionView


async def start(config: Config) -> Running:
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(stack, config.database_url, "icc_resources")
        nc = await open_bus(stack, config.bus, "icc-resources", [UNIT_STREAM, HOSPITAL_STREAM])
        # Many small statements per write: every batch on the loop's thread (icc_storage.batch).
        writer = start_writer(
            stack, db, store.outbox, nc, config, inline_max_jobs=EVERY_BATCH_INLINE
        )
        service = ResourceService(db=db, batcher=writer.batcher, announce=events.staged)
        reference = load_reference_data(utc_now())
        added = await writer.batcher.submit(lambda tx: store.add_missing(tx, reference))
        log.info("reference data loaded", extra={"added": added})
        view = PositionView(config.stale_after)
        view.known_units = await service.unit_ids()
        agencies = await service.unit_agencies()
        view.agencies = {unit: agency.name for unit, agency in agencies.items()}
        avl = Avl(nc, view, replicas=config.bus.replicas)
        stack.push_async_callback(avl.stop)  # safe to call whether or not it started
        await avl.start()
        hospitals = HospitalWatch(nc.jetstream(), HOSPITAL_STREAM.name, service)
        api = ResourceApi(service, view, avl, hospitals)
        server = await serve_grpc(config.address, api, add_servicer, POLICY, config.tls)
        watch_health(stack, server, SERVICE_NAME, db, nc)
        # Started: the stack's closing now belongs to `Running.stop`.
        return Running(server, stack.pop_all(), avl, view)
    raise AssertionError("unreachable")


def run() -> None:
    run_service(
        "resources", lambda: start(config_from_env()), "ICC_RESOURCES_ADDR", signs_tokens=True
    )


if __name__ == "__main__":
    run()
