"""How the simulated dispatcher assigns units, through the public API: P3/P4 incidents
wait for a person (auto-dispatch covers P1/P2), who reads the recommendation and assigns
the selected units, trying again while units lack; a mass casualty gets one ambulance per
patient."""

import asyncio
import random
from dataclasses import dataclass, field

import grpc

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc_city.geo import Point, distance_m
from icc_simulator.players.api import DISPATCHER, TIMEOUT_S, Clients
from icc_simulator.players.clock import SimClock
from icc_simulator.players.closing import Closer
from icc_simulator.players.tasks import Background
from icc_simulator.players.tracks import AMBULANCES, Track
from icc_simulator.players.units import UnitPlayer
from icc_simulator.world import behaviour
from icc_simulator.world.eventlog import EventLog, IncidentQueued
from icc_simulator.world.stats import Stats

# P3/P4 incidents retried per round when units lack.
PENDING_PER_ROUND = 20
# Where an unknown unit is taken to be: last choice for anything near the city.
FAR_AWAY = Point(0.0, 0.0)


@dataclass
class Assigner:
    clients: Clients
    clock: SimClock
    rng: random.Random
    stats: Stats
    log: EventLog
    player: UnitPlayer
    closer: Closer
    background: Background
    # P3/P4 incidents that lacked units, tried again each round.
    pending: dict[str, Track] = field(default_factory=dict)
    _requests: int = 0

    def review_soon(self, track: Track) -> None:
        self.background.spawn(self._review(track))

    def reinforce_soon(self, track: Track) -> None:
        self.background.spawn(self._reinforce(track))

    def log_queued(self, track: Track, shortfalls: list[dispatch_pb2.Shortfall]) -> None:
        if track.queued_logged or track.call is None:
            return
        missing = sum(s.missing for s in shortfalls)
        if missing <= 0:
            return
        track.queued_logged = True
        self.stats.queued += 1
        reason = "; ".join(f"{s.role}: {s.reason} ({s.missing} missing)" for s in shortfalls)
        self.log.add(IncidentQueued(self.clock.wall_now(), track.name, missing, reason[:300]))

    async def _review(self, track: Track) -> None:
        """A recommendation arrived: a P3/P4 incident waits for a person to assign."""
        await self.clock.sleep(behaviour.review_delay_s(self.rng))
        status = await self._status(track.name)
        if status is None or status.state != dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER:
            return
        if not await self._assign_recommended(track):
            self.pending[track.name] = track

    async def _assign_recommended(self, track: Track) -> bool:
        """Assigns what dispatch recommends; True when the plan is then complete."""
        try:
            reply = await self.clients.dispatch.RecommendUnits(
                dpb.RecommendUnitsRequest(incident=track.name),
                timeout=TIMEOUT_S,
                metadata=DISPATCHER,
            )
        except grpc.aio.AioRpcError as exc:
            self.stats.error(f"recommend:{exc.code().name}")
            return exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)
        rec = reply.recommendation
        picks = [c.unit for c in rec.candidates if c.selected]
        if rec.shortfalls:
            self.log_queued(track, list(rec.shortfalls))
        if picks and not await self._assign(track, picks):
            return False
        return not rec.shortfalls

    async def _assign(self, track: Track, units: list[str], override_reason: str = "") -> bool:
        self._requests += 1
        try:
            await self.clients.dispatch.AssignUnits(
                dpb.AssignUnitsRequest(
                    incident=track.name,
                    units=units[:20],
                    request_id=f"sim-{track.name.removeprefix('incidents/')}-{self._requests}",
                    override_reason=override_reason,
                ),
                timeout=TIMEOUT_S,
                metadata=DISPATCHER,
            )
        except grpc.aio.AioRpcError as exc:
            # FAILED_PRECONDITION: a unit was taken meanwhile, or the incident ended.
            self.stats.error(f"assign:{exc.code().name}")
            return False
        return True

    async def retry_pending(self) -> None:
        """One round: P3/P4 incidents that lacked units, most urgent and oldest first."""
        due = sorted(self.pending.values(), key=lambda t: (t.priority, t.name))
        for track in due[:PENDING_PER_ROUND]:
            if track.ended:
                self.pending.pop(track.name, None)
                continue
            status = await self._status(track.name)
            if status is None or status.state != dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER:
                self.pending.pop(track.name, None)
                continue
            if await self._assign_recommended(track):
                self.pending.pop(track.name, None)

    async def _reinforce(self, track: Track) -> None:
        """Mass casualty: one ambulance per patient, the nearest free ones first."""
        call = track.call
        assert call is not None
        await self.clock.sleep(behaviour.review_delay_s(self.rng))
        while not track.ended and len(track.ambulances) < call.patients:
            need = call.patients - len(track.ambulances)
            free = await self._free_ambulances()
            chosen = [name for name in free if name not in track.ambulances]
            chosen.sort(key=lambda name: distance_m(self._where(name), call.point))
            chosen = chosen[: min(need, 20)]
            if chosen:
                await self._assign(
                    track,
                    chosen,
                    f"mass casualty: {call.patients} patients, one ambulance each",
                )
            await asyncio.sleep(max(self.clock.scale.to_real(30.0), 0.5))
        if not track.active and track.ever_assigned and not (track.busy or track.ended):
            self.closer.close_soon(track)

    async def _free_ambulances(self) -> list[str]:
        try:
            reply = await self.clients.resources.ListUnits(
                rpb.ListUnitsRequest(
                    page_size=5000,
                    agency=common_pb2.AGENCY_MEDICAL,
                    statuses=[resource_pb2.UNIT_STATUS_AVAILABLE],
                    kinds=list(AMBULANCES),
                ),
                timeout=TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            self.stats.error(f"list-units:{exc.code().name}")
            return []
        return [u.name for u in reply.units]

    def _where(self, unit: str) -> Point:
        """Where a unit is now, as its crew knows (the service may have no fix yet)."""
        sim = self.player.units.get(unit)
        return sim.where(self.clock.sim_now()) if sim is not None else FAR_AWAY

    async def _status(self, name: str) -> dispatch_pb2.DispatchStatus | None:
        try:
            reply = await self.clients.dispatch.GetDispatchStatus(
                dpb.GetDispatchStatusRequest(incident=name), timeout=TIMEOUT_S, metadata=DISPATCHER
            )
        except grpc.aio.AioRpcError as exc:
            self.stats.error(f"dispatch-status:{exc.code().name}")
            return None
        return reply.status
