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
from collections.abc import Iterator
from dataclasses import dataclass, replace

import nats
from nats.aio.client import Client

from icc_city.geo import Point
from icc_simulator import checks
from icc_simulator.config import SimConfig
from icc_simulator.players import api
from icc_simulator.players.calltaker import CallTaker
from icc_simulator.players.clock import SimClock
from icc_simulator.players.directory import IncidentDirectory
from icc_simulator.players.dispatcher import Dispatcher
from icc_simulator.players.feed import EventFeed
from icc_simulator.players.hospitals import HospitalLedger
from icc_simulator.players.stations import close_stations, reopen
from icc_simulator.players.units import UnitPlayer
from icc_simulator.players.watch import StatusWatch
from icc_simulator.report import kpis
from icc_simulator.report.result import OpenIncident, RunResult
from icc_simulator.world import scenarios
from icc_simulator.world.calls import Call, CallGenerator
from icc_simulator.world.eventlog import EventLog, RunInfo
from icc_simulator.world.stats import Stats
from icc_simulator.world.timescale import TimeScale

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Cast:
    """The players of one run and what they share."""

    clock: SimClock
    log: EventLog
    ledger: HospitalLedger
    player: UnitPlayer
    dispatcher: Dispatcher
    watch: StatusWatch
    feed: EventFeed


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
                # A cluster's seeds, comma-separated (`icc run --cluster`).
                [u.strip() for u in self.endpoints.nats_url.split(",") if u.strip()],
                name="icc-simulator",
                user=self.endpoints.nats_user,
                password=self.endpoints.nats_password,
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
        catalog = await api.catalog(clients)
        stations = await api.station_points(clients)
        closed, not_closed = await close_stations(
            clients, self.scenario.close_stations, stations, self.stats
        )
        cast = await self._cast(clients, nc)
        await self._start(clients, cast, stations)
        calls = self._calls(
            CallGenerator(
                seed=self.config.seed,
                scenario=self.scenario,
                catalog=catalog,
                calls_per_s=self.config.calls_per_sim_s,
            )
        )
        taker = CallTaker(
            clients.incidents, cast.clock, self.stats, self.run_id, cast.dispatcher.register
        )
        loops_stop = asyncio.Event()
        loops = [
            asyncio.create_task(cast.player.report_positions(loops_stop), name="sim-avl"),
            asyncio.create_task(cast.dispatcher.pending_loop(loops_stop), name="sim-pending"),
            asyncio.create_task(self._discharges(cast.ledger, loops_stop), name="sim-beds"),
        ]
        try:
            t_end, open_incidents, double = await self._play(clients, cast, taker, calls, stopping)
        finally:
            loops_stop.set()
            for task in loops:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await cast.player.stop()
            await cast.dispatcher.stop()
            await cast.feed.stop()
            await cast.ledger.give_back()
            await reopen(clients, closed)
        cast.log.info = replace(cast.log.info, t_end=t_end)
        figures = kpis.compute(cast.log, t_end=t_end)
        if not_closed:
            note = f"station units not closed (busy at the start): {', '.join(not_closed)}"
            figures = replace(figures, notes=(*figures.notes, note))
        self.phase = "done"
        return RunResult(
            self.config,
            self.scenario,
            cast.log,
            figures,
            self.stats,
            open_incidents,
            double,
            closed,
        )

    async def _cast(self, clients: api.Clients, nc: Client) -> _Cast:
        """The run's clock, event log and players, wired to each other and the feed."""
        cfg = self.config
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
        watch = StatusWatch(clock, event_log, self.stats, player)
        feed = EventFeed(nc, dispatcher.on_event, watch.on_unit)
        return _Cast(clock, event_log, ledger, player, dispatcher, watch, feed)

    async def _start(self, clients: api.Clients, cast: _Cast, stations: dict[str, Point]) -> None:
        """Listens, then takes stock of every unit (and an earlier run's work)."""
        await cast.feed.start()
        # Every unit's status at the start (after subscribing: nothing in between is lost).
        views = await api.list_units(clients)
        cast.player.load(views, stations)
        cast.watch.snapshot(views)
        if self.config.adopt:
            adopted_units = cast.player.adopt(views)
            adopted_incidents = await cast.dispatcher.adopt()
            if adopted_units or adopted_incidents:
                log.info(
                    "took over work of an earlier run",
                    extra={"units": adopted_units, "incidents": adopted_incidents},
                )

    def _calls(self, generator: CallGenerator) -> Iterator[Call]:
        calls = iter(generator)
        if self.config.max_calls is not None:
            calls = (c for c, _ in zip(calls, range(self.config.max_calls), strict=False))
        return calls

    async def _play(
        self,
        clients: api.Clients,
        cast: _Cast,
        taker: CallTaker,
        calls: Iterator[Call],
        stopping: asyncio.Event,
    ) -> tuple[float, list[OpenIncident], list[str]]:
        """Calls, drain and end-of-run checks: the end time and what the checks found."""
        self.phase = "calling"
        await taker.play(calls, self.sim_end, stopping)
        self.phase = "draining"
        await self._drain(cast.dispatcher, stopping)
        self.phase = "checking"
        t_end = cast.clock.wall_now()
        # The crews stop here: what is checked next no longer moves.
        await cast.player.stop()
        await cast.dispatcher.stop()
        open_incidents: list[OpenIncident] = []
        double: list[str] = []
        if self.config.end_checks:
            open_incidents = await checks.explain(
                clients, cast.dispatcher, cast.log, cast.clock.wall_now
            )
            double = await checks.double_booked(clients, cast.dispatcher)
        return t_end, open_incidents, double

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
