"""How the simulated dispatcher ends its incidents, through the public API: closes one a
while after its last unit cleared, and folds a second caller's incident into the first
(releasing its units; cancelling it when the first has already closed)."""

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc_simulator.players.api import DISPATCHER, TIMEOUT_S, Clients, seconds
from icc_simulator.players.clock import SimClock
from icc_simulator.players.tasks import Background
from icc_simulator.players.tracks import TERMINAL_STATES, Track, how_ended
from icc_simulator.world import behaviour
from icc_simulator.world.eventlog import EventLog, IncidentEnded
from icc_simulator.world.stats import Stats

# Tries of a write that waits for the incidents service to see dispatch's news
# (a close needs every release recorded there first), half a real second apart.
SETTLE_TRIES = 40
SETTLE_PAUSE_S = 0.5
# How long a second caller's incident waits for the first caller's to exist (real).
ORIGINAL_WAIT_S = 30.0


@dataclass
class Closer:
    clients: Clients
    clock: SimClock
    rng: random.Random
    stats: Stats
    log: EventLog
    background: Background
    # Told when an incident has ended (however), so that the others forget it.
    on_ended: Callable[[Track], None]
    # The first caller's incident of each event, for the later callers' to merge into.
    _firsts: dict[str, "asyncio.Future[str]"] = field(default_factory=dict)

    def first_call(self, event_id: str, incident: str) -> None:
        """`incident` is the first caller's about `event_id`."""
        first = self._firsts.setdefault(event_id, asyncio.get_running_loop().create_future())
        if not first.done():
            first.set_result(incident)

    def close_soon(self, track: Track) -> None:
        self.background.spawn(self._close(track))

    def merge_soon(self, track: Track) -> None:
        self.background.spawn(self._merge_duplicate(track))

    async def _close(self, track: Track) -> None:
        """Closes the incident a while after its last unit cleared (a dispatcher wraps up)."""
        if track.busy or track.ended:
            return
        track.busy = True
        try:
            await self.clock.sleep(behaviour.close_delay_s(self.rng))
            for _ in range(SETTLE_TRIES):
                if track.active or track.ended or track.merging:
                    return  # new units came: closed when they clear
                try:
                    reply = await self.clients.incidents.CloseIncident(
                        ipb.CloseIncidentRequest(
                            name=track.name, resolution="Simulated: all units cleared"
                        ),
                        timeout=TIMEOUT_S,
                        metadata=DISPATCHER,
                    )
                except grpc.aio.AioRpcError as exc:
                    if await self._ended_elsewhere(track, exc):
                        return
                    await asyncio.sleep(SETTLE_PAUSE_S)
                    continue
                self.ended(track, "closed", seconds(reply.incident.close_time))
                return
            self.stats.error("close:gave-up")
        finally:
            track.busy = False

    async def _merge_duplicate(self, track: Track) -> None:
        """A second caller's incident: release its units and fold it into the first."""
        call = track.call
        assert call is not None
        first = self._firsts.setdefault(call.event_id, asyncio.get_running_loop().create_future())
        try:
            original = await asyncio.wait_for(asyncio.shield(first), ORIGINAL_WAIT_S)
        except TimeoutError:
            return  # the first call never became an incident: this one stands alone
        await self.clock.sleep(behaviour.duplicate_noticed_s(self.rng))
        if track.ended or track.busy:
            return
        track.merging = True
        track.busy = True
        try:
            for _ in range(SETTLE_TRIES):
                if await self._merge_once(track, original):
                    return
                await asyncio.sleep(SETTLE_PAUSE_S)
            self.stats.error("merge:gave-up")
        finally:
            track.busy = False
            if not track.ended:
                track.merging = False
                if not track.active and track.ever_assigned:
                    self.close_soon(track)

    async def _merge_once(self, track: Track, original: str) -> bool:
        """One try at merging `track` into `original`: True when nothing is left to try."""
        if track.active:
            await self._release_all(track, f"duplicate of {original}")
        try:
            reply = await self.clients.incidents.MergeIncidents(
                ipb.MergeIncidentsRequest(
                    name=original,
                    duplicates=[track.name],
                    reason="same event: a second caller",
                ),
                timeout=TIMEOUT_S,
                metadata=DISPATCHER,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                self.stats.error(f"merge:{exc.code().name}")
            return await self._merge_blocked(track, original) == "stop"
        dup = next((d for d in reply.duplicates if d.name == track.name), None)
        at = seconds(dup.close_time) if dup is not None else self.clock.wall_now()
        self.ended(track, "merged", at, f"merged into {original}")
        return True

    async def _merge_blocked(self, track: Track, original: str) -> str:
        """Why a merge was refused: "stop" (handled otherwise) or "retry"."""
        mine = await self._incident(track.name)
        if mine is None or mine.state in TERMINAL_STATES:
            if mine is not None:
                self.ended(track, how_ended(mine.state), seconds(mine.close_time))
            return "stop"
        if mine.state == incident_pb2.INCIDENT_STATE_ON_SCENE:
            return "stop"  # a unit got there first: it is worked like any incident
        first = await self._incident(original)
        if first is not None and first.state in TERMINAL_STATES:
            # The first caller's incident is over: this one is cancelled as a duplicate.
            if track.active:
                await self._release_all(track, f"duplicate of {original}")
                return "retry"
            try:
                reply = await self.clients.incidents.CancelIncident(
                    ipb.CancelIncidentRequest(
                        name=track.name, reason=f"duplicate of {original}, already handled"
                    ),
                    timeout=TIMEOUT_S,
                    metadata=DISPATCHER,
                )
            except grpc.aio.AioRpcError:
                return "retry"
            self.ended(track, "cancelled", seconds(reply.incident.close_time))
            return "stop"
        return "retry"

    async def _release_all(self, track: Track, reason: str) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self.clients.dispatch.ReleaseUnits(
                dpb.ReleaseUnitsRequest(incident=track.name, reason=reason),
                timeout=TIMEOUT_S,
                metadata=DISPATCHER,
            )

    async def _ended_elsewhere(self, track: Track, exc: grpc.aio.AioRpcError) -> bool:
        """After a refused close: True when the incident is over anyway."""
        if exc.code() not in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
            self.stats.error(f"close:{exc.code().name}")
        inc = await self._incident(track.name)
        if inc is not None and inc.state in TERMINAL_STATES:
            self.ended(track, how_ended(inc.state), seconds(inc.close_time))
            return True
        return False

    def ended(self, track: Track, how: str, at: float, resolution: str = "") -> None:
        if track.ended:
            return
        track.ended = True
        self.on_ended(track)
        if track.call is None:
            self.stats.adopted_ended += 1
            return
        if how == "merged":
            self.stats.merged += 1
        elif how == "cancelled":
            self.stats.cancelled += 1
        else:
            self.stats.closed += 1
        self.log.add(IncidentEnded(at, track.name, how, resolution))

    async def _incident(self, name: str) -> incident_pb2.Incident | None:
        try:
            reply = await self.clients.incidents.GetIncident(
                ipb.GetIncidentRequest(name=name), timeout=TIMEOUT_S, metadata=DISPATCHER
            )
        except grpc.aio.AioRpcError:
            return None
        return reply.incident
