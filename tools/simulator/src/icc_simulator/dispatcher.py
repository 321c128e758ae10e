"""The simulated dispatcher: what a person at the command center does with the
simulator's own incidents, through the public API.

- P3/P4 incidents wait for a dispatcher (auto-dispatch covers P1/P2): after reading
  the recommendation it assigns the selected units, and keeps trying while units lack.
- A second caller's incident is noticed as the same event: its units are released
  and it is merged into the first (or, once the first has closed, cancelled).
- A mass-casualty incident gets more ambulances than the plan, one per patient.
- An incident is closed once every unit assigned to it has cleared.

Incidents created by people or partners are left to them (their units still play).
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc_city.geo import Point, distance_m
from icc_simulator import behaviour
from icc_simulator.api import DISPATCHER, SIM_USER, TIMEOUT_S, Clients, with_retries
from icc_simulator.calls import Call
from icc_simulator.clock import SimClock
from icc_simulator.directory import IncidentDirectory, IncidentInfo
from icc_simulator.eventlog import (
    EventLog,
    IncidentCreated,
    IncidentEnded,
    IncidentQueued,
    UnitAssigned,
)
from icc_simulator.model import Agency, Priority
from icc_simulator.stats import Stats
from icc_simulator.units import UnitPlayer

log = logging.getLogger(__name__)

OPEN_STATES = (
    incident_pb2.INCIDENT_STATE_NEW,
    incident_pb2.INCIDENT_STATE_DISPATCHED,
    incident_pb2.INCIDENT_STATE_EN_ROUTE,
    incident_pb2.INCIDENT_STATE_ON_SCENE,
)
TERMINAL_STATES = (
    incident_pb2.INCIDENT_STATE_CLOSED,
    incident_pb2.INCIDENT_STATE_MERGED,
    incident_pb2.INCIDENT_STATE_CANCELLED,
)
AMBULANCES = (resource_pb2.UNIT_KIND_AMBULANCE_ALS, resource_pb2.UNIT_KIND_AMBULANCE_BLS)
# Tries of a write that waits for the incidents service to see dispatch's news
# (a close needs every release recorded there first), half a real second apart.
SETTLE_TRIES = 40
SETTLE_PAUSE_S = 0.5
# P3/P4 incidents retried per round when units lack, and how often (simulated).
PENDING_PER_ROUND = 20
PENDING_EVERY_S = 60.0
# Where an unknown unit is taken to be: last choice for anything near the city.
FAR_AWAY = Point(0.0, 0.0)
# How long a second caller's incident waits for the first caller's to exist (real).
ORIGINAL_WAIT_S = 30.0


def seconds(ts: Timestamp) -> float:
    return ts.ToNanoseconds() / 1e9


@dataclass
class Track:
    """One of the simulator's incidents, as its dispatcher follows it."""

    name: str
    call: Call | None
    priority: Priority
    # Active assignments (`assignments/{id}`) and the units they hold.
    active: dict[str, str] = field(default_factory=dict)
    ever_assigned: bool = False
    # Distinct ambulances ever assigned (a mass casualty needs one per patient).
    ambulances: set[str] = field(default_factory=set)
    busy: bool = False  # a close, merge or cancel is under way
    merging: bool = False
    ended: bool = False
    queued_logged: bool = False

    @property
    def patients(self) -> int:
        return self.call.patients if self.call is not None else 0


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
    _firsts: dict[str, "asyncio.Future[str]"] = field(default_factory=dict)
    _pending: dict[str, Track] = field(default_factory=dict)
    # Dispatch news about incidents whose CreateIncident reply is still on its way:
    # applied to the track once it exists (with when it came, to drop others' news).
    _early: dict[str, tuple[float, list[Callable[[Track], None]]]] = field(default_factory=dict)
    _background: set["asyncio.Task[Any]"] = field(default_factory=set)
    _requests: int = 0

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
            )
        )
        self.stats.incidents += 1
        if call.duplicate:
            self.stats.duplicates += 1
            self._spawn(self._merge_duplicate(track))
        else:
            first = self._firsts.setdefault(
                call.event_id, asyncio.get_running_loop().create_future()
            )
            if not first.done():
                first.set_result(name)
        if call.patients > 0:
            self._spawn(self._reinforce(track))
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
                track = Track(inc.name, None, Priority(inc.priority or 3))
                for a in inc.assignments:
                    if a.state in (
                        common_pb2.ASSIGNMENT_STATE_ASSIGNED,
                        common_pb2.ASSIGNMENT_STATE_ACKNOWLEDGED,
                        common_pb2.ASSIGNMENT_STATE_PROPOSED,
                    ):
                        track.active[a.name] = a.unit
                    track.ever_assigned = True
                self.tracks[inc.name] = track
                adopted += 1
                if track.ever_assigned and not track.active:
                    self._spawn(self._close(track))
                elif not track.ever_assigned:
                    self._pending[inc.name] = track
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
            self._with_track(event.incident, lambda t: self._assigned(t, items))
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

    def _assigned(self, track: Track, items: list[dispatch_pb2.Assignment]) -> None:
        for a in items:
            track.active[a.name] = a.unit
            track.ever_assigned = True
            if a.kind in AMBULANCES:
                track.ambulances.add(a.unit)

    def _released(self, track: Track, items: list[dispatch_pb2.Assignment]) -> None:
        for a in items:
            track.active.pop(a.name, None)
        if (
            not track.active
            and track.ever_assigned
            and not (track.busy or track.ended or track.merging)
            and track.patients <= len(track.ambulances)
        ):
            self._spawn(self._close(track))

    def _recommended(self, track: Track, rec: dispatch_pb2.Recommendation) -> None:
        if rec.shortfalls:
            self._log_queued(track, list(rec.shortfalls))
        if not track.ended and not track.merging:
            self._spawn(self._review(track))

    def _log_queued(self, track: Track, shortfalls: list[dispatch_pb2.Shortfall]) -> None:
        if track.queued_logged or track.call is None:
            return
        missing = sum(s.missing for s in shortfalls)
        if missing <= 0:
            return
        track.queued_logged = True
        self.stats.queued += 1
        reason = "; ".join(f"{s.role}: {s.reason} ({s.missing} missing)" for s in shortfalls)
        self.log.add(IncidentQueued(self.clock.wall_now(), track.name, missing, reason[:300]))

    # Dispatcher actions

    async def _review(self, track: Track) -> None:
        """A recommendation arrived: a P3/P4 incident waits for a person to assign."""
        await self.clock.sleep(behaviour.review_delay_s(self.rng))
        status = await self._status(track.name)
        if status is None or status.state != dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER:
            return
        if not await self._assign_recommended(track):
            self._pending[track.name] = track

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
            self._log_queued(track, list(rec.shortfalls))
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

    async def pending_loop(self, stopping: asyncio.Event) -> None:
        """P3/P4 incidents that lacked units are tried again, most urgent and oldest first."""
        interval = max(self.clock.scale.to_real(PENDING_EVERY_S), 0.5)
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)
            self._sweep_early()
            due = sorted(self._pending.values(), key=lambda t: (t.priority, t.name))
            for track in due[:PENDING_PER_ROUND]:
                if track.ended or track.merging:
                    self._pending.pop(track.name, None)
                    continue
                status = await self._status(track.name)
                if (
                    status is None
                    or status.state != dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER
                ):
                    self._pending.pop(track.name, None)
                    continue
                if await self._assign_recommended(track):
                    self._pending.pop(track.name, None)

    async def _reinforce(self, track: Track) -> None:
        """Mass casualty: one ambulance per patient, the nearest free ones first."""
        call = track.call
        assert call is not None
        await self.clock.sleep(behaviour.review_delay_s(self.rng))
        while not track.ended and len(track.ambulances) < call.patients:
            need = call.patients - len(track.ambulances)
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
                reply = None
            if reply is not None and reply.units:
                free = [u.name for u in reply.units if u.name not in track.ambulances]
                free.sort(key=lambda name: distance_m(self._where(name), call.point))
                chosen = free[: min(need, 20)]
                if chosen:
                    await self._assign(
                        track,
                        chosen,
                        f"mass casualty: {call.patients} patients, one ambulance each",
                    )
            await asyncio.sleep(max(self.clock.scale.to_real(30.0), 0.5))
        if not track.active and track.ever_assigned and not (track.busy or track.ended):
            self._spawn(self._close(track))

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
                self._ended(track, "closed", seconds(reply.incident.close_time))
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
                    outcome = await self._merge_blocked(track, original)
                    if outcome == "stop":
                        return
                    await asyncio.sleep(SETTLE_PAUSE_S)
                    continue
                dup = next((d for d in reply.duplicates if d.name == track.name), None)
                at = seconds(dup.close_time) if dup is not None else self.clock.wall_now()
                self._ended(track, "merged", at, f"merged into {original}")
                return
            self.stats.error("merge:gave-up")
        finally:
            track.busy = False
            if not track.ended:
                track.merging = False
                if not track.active and track.ever_assigned:
                    self._spawn(self._close(track))

    async def _merge_blocked(self, track: Track, original: str) -> str:
        """Why a merge was refused: "stop" (handled otherwise) or "retry"."""
        mine = await self._incident(track.name)
        if mine is None or mine.state in TERMINAL_STATES:
            if mine is not None:
                self._ended(track, _how(mine.state), seconds(mine.close_time))
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
            self._ended(track, "cancelled", seconds(reply.incident.close_time))
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
            self._ended(track, _how(inc.state), seconds(inc.close_time))
            return True
        return False

    def _ended(self, track: Track, how: str, at: float, resolution: str = "") -> None:
        if track.ended:
            return
        track.ended = True
        self._pending.pop(track.name, None)
        self.directory.forget(track.name)
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

    # Reads

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

    async def _incident(self, name: str) -> incident_pb2.Incident | None:
        try:
            reply = await self.clients.incidents.GetIncident(
                ipb.GetIncidentRequest(name=name), timeout=TIMEOUT_S, metadata=DISPATCHER
            )
        except grpc.aio.AioRpcError:
            return None
        return reply.incident

    # Plumbing

    def open_tracks(self) -> list[Track]:
        return [t for t in self.tracks.values() if not t.ended and t.call is not None]

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Task[Any]") -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.error(f"dispatcher-task:{type(task.exception()).__name__}")
            log.warning("a dispatcher task failed", extra={"error": repr(task.exception())})

    async def stop(self) -> None:
        tasks = list(self._background)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


def _how(state: int) -> str:
    if state == incident_pb2.INCIDENT_STATE_MERGED:
        return "merged"
    if state == incident_pb2.INCIDENT_STATE_CANCELLED:
        return "cancelled"
    return "closed"
