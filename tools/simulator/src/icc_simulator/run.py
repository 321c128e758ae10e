"""One simulation run against a running ICC: set-up, calls, drain, checks, KPIs, clean-up.

The run acts only through the public API (gRPC) and listens to the event streams as a
partner system would. It leaves the system as it found it where it changed shared
things on purpose (closed stations reopen, hospital beds are given back); units and
incidents still working when the drain time runs out are left as they are, and the
next run takes them over (`adopt`).
"""

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc
import nats
from google.protobuf.message import Message
from nats.aio.client import Client

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_service_pb2 as rpb
from icc_simulator import api, kpis, scenarios
from icc_simulator.calls import CallGenerator
from icc_simulator.calltaker import CallTaker
from icc_simulator.clock import SimClock, TimeScale
from icc_simulator.config import SimConfig
from icc_simulator.directory import IncidentDirectory
from icc_simulator.dispatcher import Dispatcher, seconds
from icc_simulator.eventlog import EventLog, IncidentQueued, RunInfo, UnitStatusChanged
from icc_simulator.feed import EventFeed
from icc_simulator.hospitals import HospitalLedger
from icc_simulator.model import Agency, UnitStatus
from icc_simulator.stats import Stats
from icc_simulator.units import UnitPlayer

log = logging.getLogger(__name__)

ACTIVE = (
    common_pb2.ASSIGNMENT_STATE_PROPOSED,
    common_pb2.ASSIGNMENT_STATE_ASSIGNED,
    common_pb2.ASSIGNMENT_STATE_ACKNOWLEDGED,
)
STATION_CLOSED = "what-if: station closed (simulation)"


@dataclass(frozen=True)
class OpenIncident:
    """An incident of the run still open at the end, and why."""

    incident: str
    type_code: str
    priority: str
    why: str


@dataclass
class RunResult:
    config: SimConfig
    scenario: scenarios.Scenario
    log: EventLog
    kpis: kpis.Kpis
    stats: Stats
    open_incidents: list[OpenIncident]
    # Units held by two incidents at once (should be empty), in words.
    double_booked: list[str]
    stations_closed: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


class Simulation:
    def __init__(self, config: SimConfig, endpoints: api.Endpoints) -> None:
        self.config = config
        self.endpoints = endpoints
        self.stats = Stats()
        self.phase = "starting"
        self.clock: SimClock | None = None
        self.run_id = uuid.uuid4().hex[:10]
        base = scenarios.scenario(config.scenario)
        if config.steady:
            base = base.as_steady()
        if config.stations:
            base = base.with_stations_closed(config.stations)
        self.scenario = base
        self.scale = TimeScale(
            config.speed,
            config.start_hour if config.start_hour is not None else base.start_hour,
        )
        # Crews' and dispatchers' draws: not part of the reproducible call stream.
        self._rng = random.Random(config.seed + 1_000_003)

    @property
    def sim_now(self) -> float:
        return self.clock.sim_now() if self.clock is not None else 0.0

    @property
    def sim_end(self) -> float | None:
        d = self.config.duration_s
        return None if d is None else self.scale.to_sim(d)

    async def run(self, stopping: asyncio.Event | None = None) -> RunResult:
        stopping = stopping or asyncio.Event()
        clients = api.Clients(self.endpoints)
        nc: Client | None = None
        try:
            await clients.wait_ready()
            nc = await nats.connect(
                self.endpoints.nats_url,
                name="icc-simulator",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
            )
            return await self._run(clients, nc, stopping)
        finally:
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()
            await clients.close()

    async def _run(self, clients: api.Clients, nc: Client, stopping: asyncio.Event) -> RunResult:
        cfg = self.config
        catalog = await api.catalog(clients)
        stations = await api.station_points(clients)
        closed, not_closed = await self._close_stations(clients, stations)

        clock = SimClock(self.scale)
        self.clock = clock
        info = RunInfo(
            scenario=self.scenario.name,
            seed=cfg.seed,
            speed=cfg.speed,
            start_hour=self.scale.start_hour,
            rate_per_min=cfg.rate_per_min,
            t_start=clock.origin_wall,
        )
        event_log = EventLog(info)
        directory = IncidentDirectory(clients)
        ledger = HospitalLedger(clients, clock)
        await ledger.load()
        player = UnitPlayer(
            clients,
            clock,
            directory,
            ledger,
            self.stats,
            self._rng,
            report_every_s=cfg.report_every_s,
            min_report_s=cfg.min_report_s,
        )
        dispatcher = Dispatcher(clients, clock, directory, player, event_log, self.stats, self._rng)
        busy: dict[str, bool] = {}

        def on_unit(event: resource_events.UnitStatusChanged) -> None:
            u = event.unit
            status = UnitStatus(u.status) if u.status else UnitStatus.AVAILABLE
            t = seconds(u.status_time) if u.HasField("status_time") else clock.wall_now()
            event_log.add(
                UnitStatusChanged(
                    t,
                    u.name,
                    Agency(u.agency) if u.agency else Agency.COMMAND_CENTER,
                    status,
                    u.incident,
                )
            )
            busy[u.name] = status.busy
            self.stats.units_busy = sum(busy.values())
            player.on_unit_event(event)

        def on_dispatch(event: Message) -> None:
            dispatcher.on_event(event)

        feed = EventFeed(nc, on_dispatch, on_unit)
        await feed.start()
        # Every unit's status at the start (after subscribing: nothing in between is lost).
        views = await api.list_units(clients)
        player.load(views, stations)
        for v in views:
            event_log.add(
                UnitStatusChanged(clock.origin_wall, v.name, v.agency, v.status, v.incident)
            )
            busy[v.name] = v.status.busy
        self.stats.units_busy = sum(busy.values())
        if cfg.adopt:
            adopted_units = player.adopt(views)
            adopted_incidents = await dispatcher.adopt()
            if adopted_units or adopted_incidents:
                log.info(
                    "took over work of an earlier run",
                    extra={"units": adopted_units, "incidents": adopted_incidents},
                )

        generator = CallGenerator(
            seed=cfg.seed,
            scenario=self.scenario,
            catalog=catalog,
            calls_per_s=cfg.calls_per_sim_s,
        )
        calls = iter(generator)
        if cfg.max_calls is not None:
            calls = (c for c, _ in zip(calls, range(cfg.max_calls), strict=False))
        taker = CallTaker(clients.incidents, clock, self.stats, self.run_id, dispatcher.register)
        loops_stop = asyncio.Event()
        loops = [
            asyncio.create_task(player.report_positions(loops_stop), name="sim-avl"),
            asyncio.create_task(dispatcher.pending_loop(loops_stop), name="sim-pending"),
            asyncio.create_task(self._discharges(ledger, loops_stop), name="sim-beds"),
        ]
        t_end = clock.wall_now()
        try:
            self.phase = "calling"
            await taker.play(calls, self.sim_end, stopping)
            self.phase = "draining"
            await self._drain(dispatcher, stopping)
            self.phase = "checking"
            t_end = clock.wall_now()
            # The crews stop here: what is checked next no longer moves.
            await player.stop()
            await dispatcher.stop()
            open_incidents: list[OpenIncident] = []
            double: list[str] = []
            if cfg.end_checks:
                open_incidents = await self._explain(clients, dispatcher, event_log)
                double = await self._double_booked(clients, dispatcher)
        finally:
            loops_stop.set()
            for task in loops:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await player.stop()
            await dispatcher.stop()
            await feed.stop()
            await ledger.give_back()
            await self._reopen(clients, closed)
        event_log.info = replace(event_log.info, t_end=t_end)
        figures = kpis.compute(event_log, t_end=t_end)
        if not_closed:
            note = f"station units not closed (busy at the start): {', '.join(not_closed)}"
            figures = replace(figures, notes=(*figures.notes, note))
        self.phase = "done"
        return RunResult(
            cfg, self.scenario, event_log, figures, self.stats, open_incidents, double, closed
        )

    async def _drain(self, dispatcher: Dispatcher, stopping: asyncio.Event) -> None:
        """Until every incident of the run has ended, or the drain time is up."""
        deadline = asyncio.get_running_loop().time() + self.config.drain_real_s
        while not stopping.is_set() and asyncio.get_running_loop().time() < deadline:
            if not dispatcher.open_tracks():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 0.25)

    async def _discharges(self, ledger: HospitalLedger, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
            await ledger.discharge_due()

    # Stations (the station-closed what-if)

    async def _close_stations(
        self, clients: api.Clients, stations: Mapping[str, object]
    ) -> tuple[list[str], list[str]]:
        names = [
            s if s.startswith("stations/") else f"stations/{s}"
            for s in self.scenario.close_stations
        ]
        unknown = [n for n in names if n not in stations]
        if unknown:
            raise ValueError(f"unknown station(s): {', '.join(unknown)}; see ListStations")
        closed: list[str] = []
        busy: list[str] = []
        for station in names:
            reply = await clients.resources.ListUnits(
                rpb.ListUnitsRequest(page_size=5000, home_station=station), timeout=api.TIMEOUT_S
            )
            for u in reply.units:
                if u.status != int(UnitStatus.AVAILABLE):
                    busy.append(u.name)
                    continue
                try:
                    await clients.resources.UpdateUnitStatus(
                        rpb.UpdateUnitStatusRequest(
                            name=u.name,
                            status=api.pb_status(UnitStatus.OUT_OF_SERVICE),
                            reason=STATION_CLOSED,
                        ),
                        timeout=api.TIMEOUT_S,
                        metadata=api.DISPATCHER,
                    )
                    closed.append(u.name)
                except grpc.aio.AioRpcError as exc:
                    self.stats.error(f"close-station:{exc.code().name}")
                    busy.append(u.name)
        return closed, busy

    async def _reopen(self, clients: api.Clients, units: list[str]) -> None:
        for name in units:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await clients.resources.UpdateUnitStatus(
                    rpb.UpdateUnitStatusRequest(
                        name=name,
                        status=api.pb_status(UnitStatus.AVAILABLE),
                        reason="station reopened",
                    ),
                    timeout=api.TIMEOUT_S,
                    metadata=api.DISPATCHER,
                )

    # End-of-run checks

    async def _explain(
        self, clients: api.Clients, dispatcher: Dispatcher, event_log: EventLog
    ) -> list[OpenIncident]:
        """Why each incident of the run is still open, from dispatch's own status."""
        out: list[OpenIncident] = []
        for track in dispatcher.open_tracks():
            call = track.call
            assert call is not None
            try:
                reply = await clients.dispatch.GetDispatchStatus(
                    dpb.GetDispatchStatusRequest(incident=track.name),
                    timeout=api.TIMEOUT_S,
                    metadata=api.DISPATCHER,
                )
            except grpc.aio.AioRpcError as exc:
                why = f"dispatch does not know it ({exc.code().name})"
                out.append(OpenIncident(track.name, call.type_code, track.priority.name, why))
                continue
            s = reply.status
            active = [a for a in s.assignments if a.state in ACTIVE]
            short = "; ".join(f"{x.role} ×{x.missing}" for x in s.shortfalls)
            if s.state == dispatch_pb2.DISPATCH_STATE_QUEUED and not active:
                why = f"waiting for units: {short}"
            elif s.state == dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER and not active:
                why = f"waiting for units (P3/P4, dispatcher retrying): {short}"
            elif active:
                why = f"{len(active)} unit(s) still working" + (
                    f"; still short of {short}" if short else ""
                )
            elif track.merging:
                why = "being merged into the first caller's incident when the run ended"
            elif track.ever_assigned:
                why = "all its units had cleared; the dispatcher was closing it"
            elif s.state == dispatch_pb2.DISPATCH_STATE_ENDED:
                why = "ended at dispatch; incident record not yet closed"
            else:
                why = f"dispatch state {dispatch_pb2.DispatchState.Name(s.state)}"
            if not active and s.shortfalls and not track.queued_logged:
                track.queued_logged = True
                event_log.add(
                    IncidentQueued(
                        self.clock.wall_now() if self.clock else 0.0,
                        track.name,
                        sum(x.missing for x in s.shortfalls),
                        f"still waiting at the end: {short}",
                    )
                )
            out.append(OpenIncident(track.name, call.type_code, track.priority.name, why))
        return out

    async def _double_booked(self, clients: api.Clients, dispatcher: Dispatcher) -> list[str]:
        """Units held by two incidents, by dispatch's and the resources service's word.
        Checked a few times: a release still travelling through the bus is not a fault."""
        found: list[str] = []
        for attempt in range(3):
            found = await self._holds(clients, dispatcher)
            if not found:
                return []
            await asyncio.sleep(1.0 + attempt)
        return found

    async def _holds(self, clients: api.Clients, dispatcher: Dispatcher) -> list[str]:
        units = await api.list_units(clients)
        at_resources = {u.name: u.incident for u in units if u.incident}
        names = set(at_resources.values()) | {t.name for t in dispatcher.open_tracks()}
        held: dict[str, set[str]] = {}
        for name in sorted(names):
            try:
                reply = await clients.dispatch.GetDispatchStatus(
                    dpb.GetDispatchStatusRequest(incident=name),
                    timeout=api.TIMEOUT_S,
                    metadata=api.DISPATCHER,
                )
            except grpc.aio.AioRpcError:
                continue
            for a in reply.status.assignments:
                if a.state in ACTIVE:
                    held.setdefault(a.unit, set()).add(name)
        problems = [
            f"{unit} held by {', '.join(sorted(incidents))}"
            for unit, incidents in sorted(held.items())
            if len(incidents) > 1
        ]
        for unit, incidents in sorted(held.items()):
            there = at_resources.get(unit)
            if there and there not in incidents:
                problems.append(
                    f"{unit}: dispatch says {', '.join(sorted(incidents))}, resources says {there}"
                )
        return problems
