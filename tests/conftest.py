"""The city: incidents, resources and dispatch started together on one real nats-server;
and the browser of the screen's tests."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import grpc
import nats
import pytest_asyncio
from playwright.async_api import Browser

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc.resource.v1 import resource_pb2, resource_service_pb2
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc
from icc_bus import BusConfig
from icc_dispatch import main as dispatch_main
from icc_dispatch.service import Settings
from icc_incidents import main as incidents_main
from icc_incidents.settings import GeocoderSettings
from icc_resources import main as resources_main
from icc_testing import NatsServer, Pki

# Saigon ward, near Nguyễn Huệ walking street.
CENTRE = (10.7740, 106.7035)


@dataclass
class City:
    nats: NatsServer
    incidents: incident_grpc.IncidentServiceStub
    resources: resource_grpc.ResourceServiceStub
    dispatch: dispatch_grpc.DispatchServiceStub
    resources_target: str
    running: dict[str, object] = field(default_factory=dict)
    pki: Pki | None = None
    # Every channel opened to the city, closed by `stop_city`.
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def resources_as(self, identity: str) -> resource_grpc.ResourceServiceStub:
        """The resources service as another identity calls it (only `dispatch` reserves,
        a device or the `simulator` reports positions)."""
        assert self.pki is not None
        channel = self.pki.channel(self.resources_target, identity)
        self.channels.append(channel)
        return resource_grpc.ResourceServiceStub(channel)

    async def available(self, kind: int, limit: int = 1000) -> list[resource_pb2.Unit]:
        """Units of `kind` the resources service has AVAILABLE now."""
        reply = await self.resources.ListUnits(
            resource_service_pb2.ListUnitsRequest(
                page_size=limit,
                kinds=[kind],  # type: ignore[list-item]
                statuses=[resource_pb2.UNIT_STATUS_AVAILABLE],
            ),
            timeout=5,
        )
        return list(reply.units)

    async def create(
        self,
        type_code: str,
        at: tuple[float, float] = CENTRE,
        request_id: str = "",
        priority: int = 0,
    ) -> incident_pb2.Incident:
        reply = await self.incidents.CreateIncident(
            incident_pb.CreateIncidentRequest(
                request_id=request_id,
                incident=incident_pb2.Incident(
                    type_code=type_code,
                    priority=priority,  # type: ignore[arg-type]
                    location=common_pb2.Location(lat=at[0], lon=at[1], ward="Sài Gòn"),
                ),
            ),
            timeout=5,
        )
        return reply.incident


async def stream_payloads(url: str, stream: str, subject: str) -> list[bytes]:
    """The payload of every message on `subject` still in `stream`, oldest first."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        if info.state.messages:
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(stream, seq)
                if msg.subject == subject:
                    out.append(msg.data or b"")
        return out
    finally:
        await nc.close()


def dispatch_config(
    nats: NatsServer, db: Path, resources_target: str, pki: Pki, **settings: object
) -> dispatch_main.Config:
    return dispatch_main.Config(
        address="127.0.0.1:0",
        database_url=f"sqlite+aiosqlite:///{db}",
        bus=BusConfig(url=nats.url),
        relay_enabled=True,
        resources_target=resources_target,
        settings=Settings(**settings),  # type: ignore[arg-type]
        tls=pki.tls("dispatch"),
    )


async def start_city(
    nats: NatsServer,
    tmp_path: Path,
    pki: Pki,
    *,
    geocoder: GeocoderSettings | None = None,
    **settings: object,
) -> tuple[City, list[object], list[grpc.aio.Channel]]:
    """The three services; the stubs call as `command-center` (a supervisor of the center).
    `geocoder`: the incidents service asks it for places before its gazetteer; `settings`
    are dispatch's."""
    bus = BusConfig(url=nats.url)
    incidents = await incidents_main.start(
        incidents_main.Config(
            "127.0.0.1:0",
            f"sqlite+aiosqlite:///{tmp_path / 'incidents.db'}",
            bus,
            True,
            tls=pki.tls("incidents"),
            geocoder=geocoder or GeocoderSettings(),
        )
    )
    resources = await resources_main.start(
        resources_main.Config(
            "127.0.0.1:0",
            f"sqlite+aiosqlite:///{tmp_path / 'resources.db'}",
            bus,
            True,
            timedelta(seconds=60),
            tls=pki.tls("resources"),
        )
    )
    resources_target = f"127.0.0.1:{resources.port}"
    dispatch = await dispatch_main.start(
        dispatch_config(nats, tmp_path / "dispatch.db", resources_target, pki, **settings)
    )
    channels = [pki.channel(f"127.0.0.1:{r.port}") for r in (incidents, resources, dispatch)]
    city = City(
        nats,
        incident_grpc.IncidentServiceStub(channels[0]),
        resource_grpc.ResourceServiceStub(channels[1]),
        dispatch_grpc.DispatchServiceStub(channels[2]),
        resources_target,
        {"incidents": incidents, "resources": resources, "dispatch": dispatch},
        pki,
        channels,
    )
    return city, [dispatch, resources, incidents], channels


async def stop_city(services: list[object], channels: list[grpc.aio.Channel]) -> None:
    for ch in channels:
        await ch.close()
    for s in services:
        await s.stop()  # type: ignore[attr-defined]


@pytest_asyncio.fixture
async def city(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[City]:
    c, services, channels = await start_city(
        nats_server, tmp_path, pki, ack_within=timedelta(hours=1)
    )
    try:
        yield c
    finally:
        await stop_city(services, channels)


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium through Playwright (tests/screen_stack.py)."""
    from tests.screen_stack import chromium  # the browser tests' module, loaded by them only

    async with chromium() as launched:
        yield launched
