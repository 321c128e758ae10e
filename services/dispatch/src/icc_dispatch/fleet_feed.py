"""The fleet feed: keeps this replica's fleet view current, from a snapshot of the resources
service, then unit status events (an ordered consumer of its own) and positions (KV watch).

Every replica needs every change, so these are per-replica subscriptions, not the
shared durable consumer. A periodic resync heals anything missed.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext

from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1.events_pb2 import UnitPositionReported
from icc_bus import cancel_and_wait, watch_bucket
from icc_dispatch.convert import fleet_unit
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import Point, UnitKind
from icc_dispatch.resources_client import ResourcesClient
from icc_kernel.names import id_of

log = logging.getLogger(__name__)

POSITIONS_BUCKET = "ICC_UNIT_POSITIONS"
STATUS_SUBJECT = "icc.unit.status.>"


class FleetFeed:
    def __init__(
        self,
        nc: Client,
        resources: ResourcesClient,
        fleet: Fleet,
        on_freed: Callable[[UnitKind], None],
        resync_every_s: float = 60.0,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._resources = resources
        self._fleet = fleet
        self._on_freed = on_freed
        self._resync_every = resync_every_s
        self._tasks: list[asyncio.Task[None]] = []
        self._sub: JetStreamContext.PushSubscription | None = None

    async def start(self, wait_s: float = 60.0) -> None:
        """Waits for the resources service (it owns the fleet and the unit stream)."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            try:
                await self._resources.load_stations()
                break
            except Exception as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(
                        "the resources service did not answer: "
                        "start it (or point ICC_RESOURCES_TARGET at it)"
                    ) from exc
                log.info("waiting for the resources service", extra={"error": type(exc).__name__})
                await asyncio.sleep(0.5)
        # Subscribe before the snapshot: nothing in between is missed, and the
        # versions make the overlap harmless.
        self._sub = await self._js.subscribe(
            STATUS_SUBJECT,
            cb=self._on_status,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            idle_heartbeat=5.0,
        )
        await self.resync()
        positions = watch_bucket(
            self._js, POSITIONS_BUCKET, UnitPositionReported.FromString, self._on_position
        )
        self._tasks.append(asyncio.create_task(positions, name="fleet-positions"))
        self._tasks.append(asyncio.create_task(self._resync_loop(), name="fleet-resync"))

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await cancel_and_wait(*self._tasks)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def resync(self) -> None:
        for unit in await self._resources.units():
            before = self._fleet.get(unit.id)
            if (
                self._fleet.put(unit)
                and unit.available
                and (before is None or not before.available)
            ):
                self._on_freed(unit.kind)

    async def refresh(self, unit_ids: list[str]) -> None:
        """Re-reads units the view was wrong about (a lost reservation)."""
        for unit_id in unit_ids:
            unit = await self._resources.unit(unit_id)
            if unit is not None:
                self._fleet.put(unit)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self._resync_every)
            try:
                await self.resync()
            except Exception as exc:
                log.warning("fleet resync failed", extra={"error": type(exc).__name__})

    async def _on_status(self, msg: Msg) -> None:
        try:
            event = resource_events.UnitStatusChanged.FromString(msg.data)
        except DecodeError:
            return
        unit = fleet_unit(event.unit, self._resources.homes)
        if unit is None:
            return
        before = self._fleet.get(unit.id)
        freed = unit.available and (before is None or not before.available)
        if self._fleet.put(unit) and freed:
            self._on_freed(unit.kind)

    def _on_position(self, key: str, report: UnitPositionReported) -> None:
        self._fleet.move(id_of(report.unit) or key, Point(report.position.lat, report.position.lon))
