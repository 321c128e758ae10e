"""Wiring of the incidents service: config, storage, bus, consumers, gRPC, shutdown."""

import contextlib
import os
from collections.abc import Mapping
from importlib import resources

from icc_bus import DurableConsumer
from icc_city.area import service_area
from icc_host import (
    Hosted,
    ServiceConfig,
    open_bus,
    open_database,
    serve_grpc,
    start_writer,
    watch_health,
)
from icc_incidents import events, store
from icc_incidents.api import SERVICE_NAME, IncidentApi, add_servicer
from icc_incidents.consumers import DISPATCH, UNITS, Consumers
from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.validation import Rules
from icc_incidents.service import IncidentService
from icc_incidents.watch import INCIDENT_STREAM, IncidentWatch
from icc_rpc.runtime import run_service

# The incidents service needs nothing beyond what every service reads.
Config = ServiceConfig
# A started incidents service; `stop()` shuts it down in order.
Running = Hosted


def config_from_env(env: Mapping[str, str] = os.environ) -> Config:
    return Config.from_env("incidents", "127.0.0.1:50051", env)


def load_rules() -> Rules:
    types = resources.files("icc_incidents") / "data" / "incident_types.json"
    return Rules(catalog=Catalog.from_json(types.read_text(encoding="utf-8")), area=service_area())


async def start(config: Config) -> Running:
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(stack, config.database_url, "icc_incidents")
        nc = await open_bus(stack, config.bus, "icc-incidents", [INCIDENT_STREAM])
        writer = start_writer(stack, db, store.outbox, nc, config)
        rules = load_rules()
        service = IncidentService(
            db=db, batcher=writer.batcher, rules=rules, announce=events.staged
        )
        # Dispatch's and the units' streams may not exist yet: the consumers keep
        # trying until they do.
        handlers = Consumers(service)
        consumers = []
        for spec, handler in ((DISPATCH, handlers.on_dispatch), (UNITS, handlers.on_unit)):
            consumer = DurableConsumer(nc, spec, handler)
            consumer.start()
            stack.push_async_callback(consumer.stop)
            consumers.append(consumer)
        api = IncidentApi(service, rules.catalog, IncidentWatch(nc.jetstream()))
        server = await serve_grpc(config.address, api, add_servicer, SERVICE_NAME)
        watch_health(stack, server, SERVICE_NAME, db, nc, consumers)
        # Started: the stack's closing now belongs to `Running.stop`.
        return Running(server, stack.pop_all())
    raise AssertionError("unreachable")


def run() -> None:
    config = config_from_env()
    run_service("incidents", lambda: start(config), "ICC_INCIDENTS_ADDR")


if __name__ == "__main__":
    run()
