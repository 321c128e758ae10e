"""The unit player: every unit's crew and AVL device, through the public API only.

When dispatch assigns a unit (the `icc.dispatch.assigned` event), its crew answers
after a human delay (AcknowledgeAssignment, or straight EN_ROUTE, which dispatch
counts as acknowledgement), drives to the incident along a plausible path (through a
river crossing when it must cross the Saigon river), works on scene for a time that
depends on the type, takes a patient to a hospital with a free bed when it is an
ambulance and the case calls for it, reports AVAILABLE and drives back to station.
A release by someone else (a dispatcher, an escalation) sends it home at once.

Positions go out as a fleet gateway would send them: every few simulated seconds one
ReportPositions stream with the latest fix of every moving unit.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc_city.geo import Point
from icc_kernel.vocabulary import Agency, UnitKind, UnitStatus
from icc_simulator.players.api import TIMEOUT_S, Clients, UnitView, as_who, pb_status, unit_view
from icc_simulator.players.clock import SimClock
from icc_simulator.players.directory import IncidentDirectory, IncidentInfo
from icc_simulator.players.hospitals import HospitalLedger
from icc_simulator.players.tasks import Background
from icc_simulator.world import behaviour
from icc_simulator.world.drive import Drive
from icc_simulator.world.model import BUSY
from icc_simulator.world.stats import Stats

log = logging.getLogger(__name__)
AVL_GATEWAY = as_who("avl-gateway")
# Share of crews who press "acknowledge" before "en route" (the others' EN_ROUTE is
# their acknowledgement).
EXPLICIT_ACK = 0.7
# Estimated horizontal accuracy of a simulated GPS fix, metres.
FIX_ACCURACY_M = 8.0


@dataclass
class Job:
    incident: str
    # `assignments/{id}`; "" for a unit taken over mid-job at start-up.
    assignment: str
    # The crew reported AVAILABLE itself: the release that follows is ours.
    cleared: bool = False
    # Where dispatch sends its patient (`hospitals/{id}`; "" when it recorded none).
    destination: str = ""

    def matches(self, a: dispatch_pb2.Assignment) -> bool:
        return a.incident == self.incident and self.assignment in ("", a.name)


@dataclass
class SimUnit:
    name: str
    call_sign: str
    agency: Agency
    kind: UnitKind
    home: Point
    position: Point
    status: UnitStatus
    drive: Drive | None = None
    job: Job | None = None
    task: "asyncio.Task[Any] | None" = None
    # A position to report although the unit has stopped (its arrival).
    unreported: bool = False

    def where(self, sim_s: float) -> Point:
        return self.drive.fix_at(sim_s).point if self.drive is not None else self.position


@dataclass
class UnitPlayer:
    clients: Clients
    clock: SimClock
    directory: IncidentDirectory
    hospitals: HospitalLedger
    stats: Stats
    rng: random.Random
    # Simulated seconds between position reports (at least `min_report_s` real apart).
    report_every_s: float = 10.0
    min_report_s: float = 1.0
    units: dict[str, SimUnit] = field(default_factory=dict)
    _background: Background = field(init=False)

    def __post_init__(self) -> None:
        self._background = Background(self.stats, "unit-task", "a unit's task failed")

    def load(self, views: list[UnitView], stations: dict[str, Point]) -> None:
        for v in views:
            home = stations.get(v.home_station) or v.position or Point(10.7769, 106.7009)
            self.units[v.name] = SimUnit(
                name=v.name,
                call_sign=v.call_sign,
                agency=v.agency,
                kind=v.kind,
                home=home,
                position=v.position or home,
                status=v.status,
            )
        self.stats.units_total = len(self.units)

    def adopt(self, views: list[UnitView]) -> int:
        """Takes over units left working by an earlier run (or a crash): they carry on
        from where they are, so no unit stays stuck in a working status."""
        adopted = 0
        for v in views:
            unit = self.units.get(v.name)
            if unit is None or v.status not in BUSY or not v.incident:
                continue
            unit.job = Job(v.incident, "")
            unit.task = self._background.spawn(self._respond(unit, unit.job, v.status))
            adopted += 1
        return adopted

    # Events

    def on_assigned(self, a: dispatch_pb2.Assignment) -> None:
        unit = self.units.get(a.unit)
        if unit is None or a.state != common_pb2.ASSIGNMENT_STATE_ASSIGNED:
            return
        if unit.job is not None and unit.job.matches(a):
            return  # the same assignment again
        if unit.job is not None and not unit.job.cleared:
            # Dispatch may only reserve a free unit: the player had it working.
            self.stats.conflicts += 1
            log.warning(
                "unit assigned while working another incident",
                extra={"unit": unit.name, "incident": a.incident, "working": unit.job.incident},
            )
        self._cancel(unit)
        unit.status = UnitStatus.DISPATCHED
        unit.job = Job(a.incident, a.name, destination=a.destination_hospital)
        unit.task = self._background.spawn(self._respond(unit, unit.job, UnitStatus.DISPATCHED))

    def on_released(self, a: dispatch_pb2.Assignment) -> None:
        """Released by dispatch: by a dispatcher, an escalation, or after our own AVAILABLE."""
        unit = self.units.get(a.unit)
        if unit is None or unit.job is None or not unit.job.matches(a) or unit.job.cleared:
            return
        self._cancel(unit)
        unit.job = None
        unit.status = UnitStatus.AVAILABLE
        unit.task = self._background.spawn(self._go_home(unit))

    def on_unit_event(self, event: resource_events.UnitStatusChanged) -> None:
        """A unit put out of service (or back) by someone else: follow it."""
        unit = self.units.get(event.unit.name)
        if unit is None or unit.job is not None:
            return
        unit.status = UnitStatus(event.unit.status) if event.unit.status else unit.status

    # One unit's work

    async def _respond(self, unit: SimUnit, job: Job, start: UnitStatus) -> None:
        info = await self.directory.get(job.incident)
        if info is None:
            self.stats.error("incident:unknown")
            return
        rng = self.rng
        clock = self.clock
        if start is UnitStatus.DISPATCHED:
            await clock.sleep(behaviour.acknowledge_delay_s(unit.kind, rng))
            # The call-taker's reply may have landed meanwhile: it knows the patients.
            info = self.directory.known(job.incident) or info
            if job.assignment and rng.random() < EXPLICIT_ACK:
                if not await self._acknowledge(unit, job):
                    return
                await clock.sleep(behaviour.turnout_s(unit.kind, rng))
            if not await self._status(unit, UnitStatus.EN_ROUTE):
                return
            start = UnitStatus.EN_ROUTE
        if start is UnitStatus.EN_ROUTE:
            await self._drive(unit, info.point, emergency=True)
            if not await self._status(unit, UnitStatus.ON_SCENE):
                return
            start = UnitStatus.ON_SCENE
        if start is UnitStatus.ON_SCENE:
            await clock.sleep(behaviour.on_scene_s(info.type_code, rng))
            carries = behaviour.transports(unit.kind, info.type_code, rng, patients=info.patients)
            if carries and not await self._transport(unit, job, info):
                return
            start = UnitStatus.AT_HOSPITAL
        if start is UnitStatus.TRANSPORTING:
            if not await self._transport(unit, job, info):
                return
            start = UnitStatus.AT_HOSPITAL
        if start is UnitStatus.AT_HOSPITAL and unit.status is UnitStatus.AT_HOSPITAL:
            await clock.sleep(behaviour.handover_s(rng))
        job.cleared = True
        if not await self._status(unit, UnitStatus.AVAILABLE):
            return
        unit.job = None
        await self._go_home(unit)

    async def _transport(self, unit: SimUnit, job: Job, info: IncidentInfo) -> bool:
        hospital = self.hospitals.choose(
            job.destination, unit.where(self.clock.sim_now()), info.type_code, info.name
        )
        if hospital is None:
            self.stats.error("hospital:none-with-beds")
            return True  # treated on scene
        if unit.status is not UnitStatus.TRANSPORTING and not await self._status(
            unit, UnitStatus.TRANSPORTING, f"to {hospital.label}"
        ):
            return False
        self.stats.transports += 1
        if hospital.name == job.destination:
            self.stats.transports_as_dispatched += 1
        await self._drive(unit, hospital.point, emergency=True)
        if not await self._status(unit, UnitStatus.AT_HOSPITAL, hospital.label):
            return False
        # Its own task: a cancelled unit must not leave a bed count half-written.
        self._background.spawn(self.hospitals.admit(hospital.name, info.type_code))
        return True

    async def _go_home(self, unit: SimUnit) -> None:
        await self._drive(unit, unit.home, emergency=False)

    async def _drive(self, unit: SimUnit, to: Point, *, emergency: bool) -> None:
        now = self.clock.sim_now()
        trip = behaviour.drive(
            unit.where(now),
            to,
            unit.kind,
            self.clock.hour_now(),
            now,
            self.rng,
            emergency=emergency,
        )
        unit.drive = trip
        try:
            await self.clock.sleep_until(trip.end_s)
        except asyncio.CancelledError:
            # Stopped on the way (new orders): it is where the trip had got to.
            unit.position = trip.fix_at(self.clock.sim_now()).point
            unit.drive = None
            unit.unreported = True
            raise
        unit.position = to
        unit.drive = None
        unit.unreported = True

    async def _acknowledge(self, unit: SimUnit, job: Job) -> bool:
        try:
            await self.clients.dispatch.AcknowledgeAssignment(
                dpb.AcknowledgeAssignmentRequest(name=job.assignment),
                timeout=TIMEOUT_S,
                metadata=as_who("unit", unit.agency, user=unit.call_sign),
            )
        except grpc.aio.AioRpcError as exc:
            # Released meanwhile (its release event sends the unit home).
            self.stats.error(f"acknowledge:{exc.code().name}")
            return False
        self.stats.acknowledgements += 1
        return True

    async def _status(self, unit: SimUnit, status: UnitStatus, reason: str = "") -> bool:
        """Reports a status; False when the unit is no longer on this job (then it is
        brought in line with what the resources service says)."""
        request = rpb.UpdateUnitStatusRequest(
            name=unit.name,
            status=pb_status(status),
            reason=reason or "simulated crew",
        )
        meta = as_who("unit", unit.agency, user=unit.call_sign)
        for attempt in range(4):
            try:
                reply = await self.clients.resources.UpdateUnitStatus(
                    request, timeout=TIMEOUT_S, metadata=meta
                )
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    await asyncio.sleep(0.2 * 2**attempt)
                    continue
                self.stats.error(f"status-{status.name}:{code.name}")
                await self._resync(unit)
                return False
            unit.status = UnitStatus(reply.unit.status)
            return True
        self.stats.error(f"status-{status.name}:UNAVAILABLE")
        return False

    async def _resync(self, unit: SimUnit) -> None:
        """After a refused status: the unit's job ended elsewhere (released meanwhile)."""
        with contextlib.suppress(grpc.aio.AioRpcError):
            reply = await self.clients.resources.GetUnit(
                rpb.GetUnitRequest(name=unit.name), timeout=TIMEOUT_S
            )
            view = unit_view(reply.unit)
            unit.status = view.status
            if view.status is UnitStatus.AVAILABLE and unit.job is not None:
                unit.job = None
                self._background.spawn(self._go_home(unit))

    # Plumbing

    def _cancel(self, unit: SimUnit) -> None:
        if unit.task is not None and not unit.task.done():
            unit.task.cancel()
        unit.task = None

    async def stop(self) -> None:
        await self._background.stop()

    # AVL

    async def report_positions(self, stopping: asyncio.Event) -> None:
        """Every few simulated seconds, one stream with every moving unit's fix."""
        interval = max(self.clock.scale.to_real(self.report_every_s), self.min_report_s)
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)
            await self.report_once()

    async def report_once(self) -> None:
        now = self.clock.sim_now()
        wall = self.clock.wall_now()
        reports: list[rpb.ReportPositionRequest] = []
        for unit in self.units.values():
            if unit.drive is None and not unit.unreported:
                continue
            unit.unreported = False
            fix = unit.drive.fix_at(now) if unit.drive is not None else None
            point = fix.point if fix is not None else unit.position
            stamp = Timestamp()
            stamp.FromNanoseconds(int(wall * 1e9))
            position = resource_pb2.Position(
                lat=point.lat,
                lon=point.lon,
                heading=fix.heading if fix is not None else 0.0,
                speed=fix.speed_ms if fix is not None else 0.0,
                accuracy=FIX_ACCURACY_M,
                report_time=stamp,
            )
            reports.append(
                rpb.ReportPositionRequest(
                    report=resource_events.UnitPositionReported(unit=unit.name, position=position)
                )
            )
        if not reports:
            return

        async def stream() -> AsyncIterator[rpb.ReportPositionRequest]:
            for r in reports:
                yield r

        try:
            reply = await self.clients.resources.ReportPositions(
                stream(), timeout=TIMEOUT_S, metadata=AVL_GATEWAY
            )
        except grpc.aio.AioRpcError as exc:
            self.stats.error(f"positions:{exc.code().name}")
            return
        self.stats.positions += int(reply.accepted)
        self.stats.positions_refused += int(reply.dropped + reply.rejected)
