"""Wiring of the incidents service: config, storage, bus, consumers, gRPC, shutdown."""

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources

from icc_bus import DurableConsumer
from icc_city.area import service_area
from icc_city.gazetteer import gazetteer
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
from icc_incidents.calltaking import CallTaking, IntakeSettings
from icc_incidents.consumers import DISPATCH, UNITS, Consumers
from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.questions import KeyQuestions
from icc_incidents.domain.validation import Rules
from icc_incidents.geocoder import NominatimGeocoder
from icc_incidents.places import PlaceSearch
from icc_incidents.policy import POLICY
from icc_incidents.progress import Progress
from icc_incidents.service import IncidentService
from icc_incidents.settings import (
    RETENTION_DAYS,
    GeocoderSettings,
    geocoder_from_env,
    intake_from_env,
    retention_from_env,
)
from icc_incidents.transfers import EidoExchange
from icc_incidents.watch import INCIDENT_STREAM, IncidentWatch
from icc_rpc.authz import current_method
from icc_rpc.runtime import run_service

log = logging.getLogger("icc_incidents")


@dataclass(frozen=True)
class Config(ServiceConfig):
    """What every service reads, and what intake looks for and the geocoder."""

    intake: IntakeSettings = field(default_factory=IntakeSettings)
    geocoder: GeocoderSettings = field(default_factory=GeocoderSettings)
    # Personal data of ended incidents kept this long; None keeps it.
    retention: timedelta | None = timedelta(days=RETENTION_DAYS)


# How often the retention of personal data is applied.
ERASE_EVERY_S = 3600.0


async def keep_erasing(service: IncidentService, retention: timedelta) -> None:
    """Erases personal data past its retention now, then every hour; a failure is
    logged and tried again at the next round."""
    while True:
        try:
            erased = await service.erase_personal_data(retention)
            if erased:
                log.info("personal data of %d ended incidents erased (retention)", erased)
        except Exception:
            log.exception("erasing personal data past its retention failed; trying later")
        await asyncio.sleep(ERASE_EVERY_S)


Running = Hosted


def config_from_env(env: Mapping[str, str] = os.environ) -> Config:
    return Config.from_env(
        "incidents",
        "127.0.0.1:50051",
        env,
        intake=intake_from_env(env),
        geocoder=geocoder_from_env(env),
        retention=retention_from_env(env),
    )


def load_rules() -> Rules:
    data = resources.files("icc_incidents") / "data"
    catalog = Catalog.from_json((data / "incident_types.json").read_text(encoding="utf-8"))
    questions = KeyQuestions.from_json(
        (data / "key_questions.json").read_text(encoding="utf-8"), catalog
    )
    return Rules(catalog=catalog, area=service_area(), questions=questions)


def place_search(config: Config, stack: contextlib.AsyncExitStack) -> PlaceSearch:
    if config.geocoder.kind != "nominatim":
        return PlaceSearch(gazetteer())
    geocoder = NominatimGeocoder(
        config.geocoder.url, service_area(), timeout_s=config.geocoder.timeout_s
    )
    stack.push_async_callback(geocoder.close)
    return PlaceSearch(gazetteer(), geocoder)


async def start(config: Config) -> Running:
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(stack, config.database_url, "icc_incidents")
        nc = await open_bus(stack, config.bus, "icc-incidents", [INCIDENT_STREAM])
        writer = start_writer(stack, db, store.outbox, nc, config)
        rules = load_rules()
        calls = CallTaking(
            db=db,
            batcher=writer.batcher,
            rules=rules,
            announce=events.staged,
            settings=config.intake,
            rpc=current_method,
        )
        service = IncidentService(
            db=db,
            batcher=writer.batcher,
            rules=rules,
            announce=events.staged,
            findings=calls.findings,
            rpc=current_method,
        )
        # Dispatch's and the units' streams may not exist yet: the consumers keep
        # trying until they do.
        handlers = Consumers(Progress(service))
        consumers = []
        for spec, handler in ((DISPATCH, handlers.on_dispatch), (UNITS, handlers.on_unit)):
            consumer = DurableConsumer(nc, spec, handler)
            consumer.start()
            stack.push_async_callback(consumer.stop)
            consumers.append(consumer)
        places = place_search(config, stack)
        exchange = EidoExchange(service, db, writer.batcher, rules, places)
        api = IncidentApi(
            service, rules.catalog, IncidentWatch(nc.jetstream()), calls, places, exchange
        )
        server = await serve_grpc(config.address, api, add_servicer, POLICY, config.tls)
        if config.retention is not None:
            erasing = asyncio.create_task(keep_erasing(service, config.retention))
            stack.push_async_callback(_cancel, erasing)
        watch_health(stack, server, SERVICE_NAME, db, nc, consumers)
        # Started: the stack's closing now belongs to `Running.stop`.
        return Running(server, stack.pop_all())
    raise AssertionError("unreachable")


async def _cancel(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run() -> None:
    run_service(
        "incidents", lambda: start(config_from_env()), "ICC_INCIDENTS_ADDR", signs_tokens=True
    )


if __name__ == "__main__":
    run()
