"""Fixtures: the catalog of the incidents service, and the real system for a short run.

`running_city` starts incidents, resources and dispatch in this process on a real
nats-server, as the top-level `tests/conftest.py` does (that module is not importable
from here), and yields the endpoints the simulator connects to like any partner.
"""

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from icc_bus import BusConfig
from icc_dispatch import main as dispatch_main
from icc_dispatch.service import Settings
from icc_incidents import main as incidents_main
from icc_resources import main as resources_main
from icc_simulator.players.api import Endpoints
from icc_simulator.world.model import Catalog
from icc_testing import NatsServer, Pki

REPO = Path(__file__).resolve().parents[3]
CATALOG_FILE = REPO / "services/incidents/src/icc_incidents/data/incident_types.json"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.from_json(json.loads(CATALOG_FILE.read_text(encoding="utf-8")))


@pytest_asyncio.fixture
async def running_city(
    nats_server: NatsServer, tmp_path: Path, pki: Pki
) -> AsyncIterator[Endpoints]:
    bus = BusConfig(url=nats_server.url)
    incidents = await incidents_main.start(
        incidents_main.Config(
            "127.0.0.1:0",
            f"sqlite+aiosqlite:///{tmp_path / 'incidents.db'}",
            bus,
            True,
            tls=pki.tls("incidents"),
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
    dispatch = await dispatch_main.start(
        dispatch_main.Config(
            address="127.0.0.1:0",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'dispatch.db'}",
            bus=bus,
            relay_enabled=True,
            resources_target=f"127.0.0.1:{resources.port}",
            settings=Settings(),
            tls=pki.tls("dispatch"),
        )
    )
    try:
        yield Endpoints(
            nats_url=nats_server.url,
            incidents=f"127.0.0.1:{incidents.port}",
            resources=f"127.0.0.1:{resources.port}",
            dispatch=f"127.0.0.1:{dispatch.port}",
            tls=pki.tls("simulator"),
        )
    finally:
        for service in (dispatch, resources, incidents):
            await service.stop()
