"""The gateway in front of the real services: incidents, resources and dispatch started
in-process on a real nats-server (as the top-level tests' City), the gateway served by a
real uvicorn on a free port, and HTTP clients signed in as the demo accounts."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from icc_bus import BusConfig
from icc_dispatch import main as dispatch_main
from icc_dispatch.service import Settings
from icc_gateway import main as gateway_main
from icc_gateway.config import Config, PictureSettings
from icc_incidents import main as incidents_main
from icc_resources import main as resources_main
from icc_testing import NatsServer, Pki

# Saigon ward, near Nguyễn Huệ walking street.
CENTRE = (10.7740, 106.7035)
CURSOR_BASE = 1_000_000
PASSWORD = "icc-demo"


@dataclass
class Services:
    nats: NatsServer
    targets: dict[str, str]
    pki: Pki
    running: list[Any] = field(default_factory=list)


@pytest_asyncio.fixture
async def services(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[Services]:
    bus = BusConfig(url=nats_server.url)
    started: list[Any] = []
    try:
        incidents = await incidents_main.start(
            incidents_main.Config(
                "127.0.0.1:0",
                f"sqlite+aiosqlite:///{tmp_path / 'incidents.db'}",
                bus,
                True,
                tls=pki.tls("incidents"),
            )
        )
        started.append(incidents)
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
        started.append(resources)
        dispatch = await dispatch_main.start(
            dispatch_main.Config(
                address="127.0.0.1:0",
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'dispatch.db'}",
                bus=bus,
                relay_enabled=True,
                resources_target=f"127.0.0.1:{resources.port}",
                settings=Settings(ack_within=timedelta(hours=1)),
                tls=pki.tls("dispatch"),
            )
        )
        started.append(dispatch)
        yield Services(
            nats_server,
            {
                "incidents": f"127.0.0.1:{incidents.port}",
                "resources": f"127.0.0.1:{resources.port}",
                "dispatch": f"127.0.0.1:{dispatch.port}",
            },
            pki,
            started,
        )
    finally:
        for running in reversed(started):
            await running.stop()


def gateway_config(services: Services, tmp_path: Path, **changes: Any) -> Config:
    picture = PictureSettings(cursor_base=CURSOR_BASE, position_interval_s=0.2)
    config = Config(
        address="127.0.0.1:0",
        incidents_target=services.targets["incidents"],
        resources_target=services.targets["resources"],
        dispatch_target=services.targets["dispatch"],
        bus=BusConfig(url=services.nats.url),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        picture=picture,
        tls=services.pki.tls("gateway"),
    )
    return replace(config, **changes)


@dataclass
class Gateway:
    running: gateway_main.Running
    url: str
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def client(self, username: str | None = None) -> httpx.AsyncClient:
        """An HTTP client of the gateway, signed in as `username` (a demo account)."""
        client = httpx.AsyncClient(base_url=self.url, timeout=10)
        self.clients.append(client)
        if username is not None:
            reply = await client.post(
                "/api/v1/session", json={"username": username, "password": PASSWORD}
            )
            assert reply.status_code == 200, reply.text
        return client


@asynccontextmanager
async def serving(config: Config) -> AsyncIterator[Gateway]:
    """A gateway started with `config`, once its picture is loaded."""
    running = await gateway_main.start(config)
    gw = Gateway(running, f"http://127.0.0.1:{running.port}")
    try:
        await asyncio.wait_for(running.loaded.wait(), timeout=15)
        yield gw
    finally:
        for client in gw.clients:
            await client.aclose()
        await running.stop()


@pytest_asyncio.fixture
async def gateway(services: Services, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with serving(gateway_config(services, tmp_path)) as gw:
        yield gw


@pytest_asyncio.fixture
async def partners(services: Services, tmp_path: Path) -> AsyncIterator[Gateway]:
    """The gateway with its partner listener on a free port."""
    async with serving(gateway_config(services, tmp_path, partner_address="127.0.0.1:0")) as gw:
        yield gw


@dataclass
class Event:
    event: str
    id: str | None
    data: Any


class EventStream:
    """Reads Server-Sent Events from a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, timeout_s: float = 10.0) -> Event:
        return await asyncio.wait_for(self._next(), timeout_s)

    async def _next(self) -> Event:
        event, ident, data = "message", None, list[str]()
        async for line in self._lines:
            if not line:
                if data:
                    return Event(event, ident, json.loads("\n".join(data)))
                event, ident, data = "message", None, []
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "id":
                ident = value
            elif name == "data":
                data.append(value)
        raise EOFError("the stream ended")

    async def comment(self) -> str:
        """The next comment line (`: keep-alive`), skipping anything else."""
        async for line in self._lines:
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                return self.comments[-1]
        raise EOFError("the stream ended")

    async def until(
        self, match: Callable[[Event], bool], timeout_s: float = 10.0
    ) -> tuple[Event, list[Event]]:
        """The first event that matches, and every event read up to it (itself included)."""
        seen: list[Event] = []
        deadline = time.monotonic() + timeout_s
        while True:
            event = await self.next(max(0.01, deadline - time.monotonic()))
            seen.append(event)
            if match(event):
                return event, seen


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def incident_body(request_id: str, type_code: str = "FIRE.RUBBISH", **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "type_code": type_code,
        "lat": CENTRE[0],
        "lon": CENTRE[1],
        "address": "Nguyễn Huệ",
        "ward": "Sài Gòn",
        **extra,
    }
