"""How the simulated dispatcher ends its incidents, through the public API: closes one a
while after its last unit cleared. (Repeat callers are attached to the first caller's
incident at call-taking, when the system's duplicate check offers it; a repeat it
missed is worked as an incident of its own, as it would be in the room.)"""

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

import grpc

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

    def close_soon(self, track: Track) -> None:
        self.background.spawn(self._close(track))

    async def _close(self, track: Track) -> None:
        """Closes the incident a while after its last unit cleared (a dispatcher wraps up)."""
        if track.busy or track.ended:
            return
        track.busy = True
        try:
            await self.clock.sleep(behaviour.close_delay_s(self.rng))
            for _ in range(SETTLE_TRIES):
                if track.active or track.ended:
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
