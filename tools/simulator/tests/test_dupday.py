"""The duplicate check measured on simulated calls (`icc_simulator.dupday`), against a
real incidents service whose window is compressed by the same speed. A short span here;
`ICC_DUPDAY_HOURS=24` measures a whole day (the figures in the report)."""

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest_asyncio

from icc_bus import BusConfig
from icc_incidents import main as incidents_main
from icc_incidents.calltaking import IntakeSettings
from icc_incidents.domain.duplicates import DuplicateRules
from icc_simulator.dupday import DayPlan, play_day, summary
from icc_simulator.players.api import Clients, Endpoints
from icc_testing import NatsServer, Pki

PLAN = DayPlan(seed=4, hours=float(os.environ.get("ICC_DUPDAY_HOURS", "2")), speed=360.0)


@pytest_asyncio.fixture
async def incidents(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[Clients]:
    window = timedelta(minutes=PLAN.service_window_min())
    service = await incidents_main.start(
        incidents_main.Config(
            "127.0.0.1:0",
            f"sqlite+aiosqlite:///{tmp_path / 'incidents.db'}",
            BusConfig(url=nats_server.url),
            True,
            intake=IntakeSettings(duplicates=DuplicateRules(window=window)),
            tls=pki.tls("incidents"),
        )
    )
    target = f"127.0.0.1:{service.port}"
    clients = Clients(Endpoints(nats_server.url, target, target, target, tls=pki.tls("simulator")))
    try:
        yield clients
    finally:
        await clients.close()
        await service.stop()


async def test_the_duplicate_check_finds_repeat_callers(incidents: Clients) -> None:
    stats = await play_day(incidents, PLAN)
    print(f"dupday {PLAN}: {summary(stats)}")
    assert stats.calls > 100
    assert not stats.errors, stats.errors
    assert stats.attached == stats.duplicate_hits
    assert stats.duplicate_recall is not None
    assert stats.duplicate_recall > 0.6
    assert stats.duplicate_precision is not None
    assert stats.duplicate_precision > 0.6
    assert stats.places_searched > 0
