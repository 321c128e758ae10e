"""`icc.avl.units`: a real resources service counts its units by agency and by the age of
their latest position (the alert on an agency whose positions all went stale reads it)."""

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats

from icc.resource.v1 import events_pb2, resource_pb2
from icc_bus import BusConfig
from icc_resources import main as resources_main
from icc_testing import NatsServer, Pki, RecordedMetrics


def units(metrics: RecordedMetrics, agency: str, position: str) -> float | None:
    return metrics.gauge("icc.avl.units", {"agency": agency, "position": position})


async def test_units_are_counted_by_agency_and_position_age(
    nats_server: NatsServer, tmp_path: Path, metrics: RecordedMetrics, pki: Pki
) -> None:
    running = await resources_main.start(
        resources_main.Config(
            "127.0.0.1:0",
            f"sqlite+aiosqlite:///{tmp_path / 'resources.db'}",
            BusConfig(url=nats_server.url),
            True,
            timedelta(seconds=60),
            tls=pki.tls("resources"),
        )
    )
    device = await nats.connect(nats_server.url)
    try:
        by_agency = Counter(running.view.agencies.values())
        assert {"POLICE", "FIRE", "MEDICAL"} <= set(by_agency)
        for agency, n in by_agency.items():  # nothing reported yet
            assert (units(metrics, agency, "none"), units(metrics, agency, "fresh")) == (n, 0)

        fire = sorted(u for u, a in running.view.agencies.items() if a == "FIRE")[:2]
        now = datetime.now(UTC)
        for unit, when in ((fire[0], now), (fire[1], now - timedelta(seconds=120))):
            position = resource_pb2.Position(lat=10.78, lon=106.7)
            position.report_time.FromDatetime(when)
            report = events_pb2.UnitPositionReported(unit=f"units/{unit}", position=position)
            await device.publish(f"icc.unit.position.{unit}", report.SerializeToString())
        await device.flush()
        deadline = time.monotonic() + 10
        while units(metrics, "FIRE", "stale") != 1:
            assert time.monotonic() < deadline, "the reports never reached the view"
            await asyncio.sleep(0.05)
        assert units(metrics, "FIRE", "fresh") == 1
        assert units(metrics, "FIRE", "none") == by_agency["FIRE"] - 2
        assert units(metrics, "POLICE", "fresh") == 0
    finally:
        await device.close()
        await running.stop()
