"""The simulated dispatcher: what a person at the command center does with the
simulator's own incidents, through the public API.

- P3/P4 incidents wait for a dispatcher (auto-dispatch covers P1/P2): after reading
  the recommendation it assigns the selected units, and keeps trying while units lack.
- Repeat callers are no business of the dispatcher's: the call-taker attaches them
  when the system's duplicate check offers the right incident, and a repeat it missed
  is worked like any incident.
- A mass-casualty incident gets more ambulances than the plan, one per patient.
- An incident is closed once every unit assigned to it has cleared.

Incidents created by people or partners are left to them (their units still play).
Here the dispatcher follows its incidents and dispatch's news; assigning is
`assigning.py`'s, ending `closing.py`'s.
"""

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc_kernel.vocabulary import Agency, CallLine, Priority
from icc_simulator.players.api import (
    DISPATCHER,
    SIM_USER,
    TIMEOUT_S,
    Clients,
    seconds,
    with_retries,
)
from icc_simulator.players.assigning import Assigner
from icc_simulator.players.clock import SimClock
from icc_simulator.players.closing import Closer
from icc_simulator.players.directory import IncidentDirectory, IncidentInfo
from icc_simulator.players.tasks import Background
from icc_simulator.players.tracks import OPEN_STATES, Track
from icc_simulator.players.units import UnitPlayer
from icc_simulator.world.calls import Call
from icc_simulator.world.eventlog import EventLog, IncidentCreated, UnitAssigned
from icc_simulator.world.stats import Stats

# How often P3/P4 incidents that lacked units are tried again (simulated).
PENDING_EVERY_S = 60.0
# Assignment states that hold a unit.
_HOLDING = (
    common_pb2.ASSIGNMENT_STATE_ASSIGNED,
    common_pb2.ASSIGNMENT_STATE_ACKNOWLEDGED,
    common_pb2.ASSIGNMENT_STATE_PROPOSED,
)


@dataclass
class Dispatcher:
    clients: Clients
    clock: SimClock
    directory: IncidentDirectory
    player: UnitPlayer
    log: EventLog
    stats: Stats
    rng: random.Random
    # The incidents followed: this run's, and those taken over from an earlier run
    # (without a call: they are closed, but not counted in this run's KPIs).
    tracks: dict[str, Track] = field(default_factory=dict)
    # Dispatch news about incidents whose CreateIncident reply is still on its way:
    # applied to the track once it exists (with when it came, to drop others' news).
    _early: dict[str, tuple[float, list[Callable[[Track], None]]]] = field(default_factory=dict)
    _background: Background = field(init=False)
    _closer: Closer = field(init=False)
    _assigner: Assigner = field(init=False)

    def __post_init__(self) -> None:
        self._background = Background(self.stats, "dispatcher-task", "a dispatcher task failed")
        self._closer = Closer(
            self.clients, self.clock, self.rng, self.stats, self.log, self._background, self._forget
        )
        self._assigner = Assigner(
            self.clients,
            self.clock,
            self.rng,
            self.stats,
            self.log,
            self.player,
            self._closer,
            self._background,
        )

    # Calls becoming incidents

    def register(self, call: Call, incident: incident_pb2.Incident) -> None:
        """A call the call-taker turned into `incident`."""
        name = incident.name
        priority = Priority(incident.priority or call.priority)
        track = Track(name, call, priority)
        self.tracks[name] = track
        self.directory.put(IncidentInfo(name, call.point, call.type_code, call.patients, ours=True))
        self.log.add(
            IncidentCreated(
                t=seconds(incident.create_time),
                incident=name,
                event_id=call.event_id,
                duplicate=call.duplicate,
                type_code=call.type_code,
                family=call.family.value,
                priority=priority,
                ward=call.ward,
                agencies=tuple(Agency(a) for a in incident.agencies),
                line=CallLine(incident.call_line) if incident.call_line else call.line,
            )
        )
        self.stats.incidents += 1
        if call.duplicate:
            # A repeat the duplicate check missed (or offered nothing for): worked alone.
            self.stats.duplicates += 1
        if call.patients > 0:
            self._assigner.reinforce_soon(track)
        _, early = self._early.pop(name, (0.0, []))
        for apply in early:
            apply(track)

    async def adopt(self) -> int:
        """Takes over the simulator's incidents left open by an earlier run: closed once
        their units clear, so that no simulated incident stays open for ever."""
        adopted = 0
        token = ""
        while True:
            request = ipb.ListIncidentsRequest(
                page_size=500,
                page_token=token,
                states=list(OPEN_STATES),
            )
            reply = await with_retries(
                lambda r=request: self.clients.incidents.ListIncidents(  # type: ignore[misc]
                    r, timeout=TIMEOUT_S, metadata=DISPATCHER
                )
            )
            for inc in reply.incidents:
                if inc.created_by.user != SIM_USER or inc.name in self.tracks:
                    continue
                track = _adopted(inc)
                self.tracks[inc.name] = track
                adopted += 1
                if track.ever_assigned and not track.active:
                    self._closer.close_soon(track)
                elif not track.ever_assigned:
                    self._assigner.pending[inc.name] = track
            token = reply.next_page_token
            if not token:
                self.stats.adopted += adopted
                return adopted

    # Dispatch's news

    def on_event(self, event: Message) -> None:
        if isinstance(event, dispatch_events.UnitsAssigned):
            for a in event.assignments:
                self.log.add(
                    UnitAssigned(
                        t=seconds(a.assign_time)
                        if a.HasField("assign_time")
                        else self.clock.wall_now(),
                        incident=a.incident,
                        unit=a.unit,
                        agency=Agency(a.agency) if a.agency else Agency.COMMAND_CENTER,
                    )
                )
                self.stats.assignments += 1
                self.player.on_assigned(a)
            items = list(event.assignments)
            self._with_track(event.incident, lambda t: t.assigned(items))
        elif isinstance(event, dispatch_events.UnitsReleased):
            for a in event.assignments:
                self.player.on_released(a)
            items = list(event.assignments)
            self._with_track(event.incident, lambda t: self._released(t, items))
        elif isinstance(event, dispatch_events.AssignmentEscalated):
            self.player.on_released(event.assignment)
            items = [event.assignment]
            self._with_track(event.assignment.incident, lambda t: self._released(t, items))
        elif isinstance(event, dispatch_events.UnitsRecommended):
            rec = event.recommendation
            self._with_track(rec.incident, lambda t: self._recommended(t, rec))

    def _with_track(self, incident: str, apply: Callable[[Track], None]) -> None:
        track = self.tracks.get(incident)
        if track is not None:
            apply(track)
            return
        # Perhaps the call-taker's reply has not come back yet: kept for a minute.
        now = self.clock.wall_now()
        _, early = self._early.setdefault(incident, (now, []))
        early.append(apply)

    def _sweep_early(self) -> None:
        cutoff = self.clock.wall_now() - 60.0
        for name in [n for n, (since, _) in self._early.items() if since < cutoff]:
            del self._early[name]

    def _released(self, track: Track, items: list[dispatch_pb2.Assignment]) -> None:
        track.released(items)
        if track.ready_to_close:
            self._closer.close_soon(track)

    def _recommended(self, track: Track, rec: dispatch_pb2.Recommendation) -> None:
        if rec.shortfalls:
            self._assigner.log_queued(track, list(rec.shortfalls))
        if not track.ended:
            self._assigner.review_soon(track)

    def _forget(self, track: Track) -> None:
        """An incident has ended: nothing more to try for it."""
        self._assigner.pending.pop(track.name, None)
        self.directory.forget(track.name)

    # The run's loops

    async def pending_loop(self, stopping: asyncio.Event) -> None:
        """P3/P4 incidents that lacked units are tried again, most urgent and oldest first."""
        interval = max(self.clock.scale.to_real(PENDING_EVERY_S), 0.5)
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)
            self._sweep_early()
            await self._assigner.retry_pending()

    def open_tracks(self) -> list[Track]:
        return [t for t in self.tracks.values() if not t.ended and t.call is not None]

    async def stop(self) -> None:
        await self._background.stop()


def _adopted(inc: incident_pb2.Incident) -> Track:
    """An earlier run's incident as the dispatcher follows it."""
    track = Track(inc.name, None, Priority(inc.priority or 3))
    for a in inc.assignments:
        if a.state in _HOLDING:
            track.active[a.name] = a.unit
        track.ever_assigned = True
    return track
