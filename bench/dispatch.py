"""Dispatch benchmarks.

- `dispatch-recommend`: RecommendUnits over gRPC against fleets of 1,000, 10,000 and
  50,000 units (bench/recommend_server.py: the real service over a synthetic fleet),
  sequential calls about random incidents.
- `dispatch-e2e`: incidents, resources and dispatch as processes on one nats-server;
  incidents created at 1, 10 and 50 per second through the incidents API; the time
  from the call to the `icc.dispatch.assigned` event for that incident, seen by a
  subscriber. The driver releases each incident's units once assigned, so the fleet
  does not run dry. Beside it, each service's CPU time per incident over the phase
  (from /proc; the idle load included, which dominates at 1/s): what caps the rate.
"""

import asyncio
import contextlib
import random
import time

import grpc
import nats
from nats.aio.msg import Msg

from bench.load import paced
from bench.procs import Processes, cpu_seconds, wait_serving
from bench.settings import Settings
from bench.stats import p50_ms, p99_ms
from bench.system import GRPC_SERVICES, QUIET, System
from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc_incidents.main import load_rules
from icc_testing import free_port


async def dispatch_recommend(procs: Processes, settings: Settings) -> dict[str, float]:
    figures: dict[str, float] = {}
    rng = random.Random(3)
    for units in settings.recommend_fleets:
        port = free_port()
        db = procs.fresh_dir(f"recommend-{units}") / "dispatch.db"
        child = procs.python(
            f"recommend-{units}",
            [
                "-m",
                "bench.recommend_server",
                "--units",
                str(units),
                "--port",
                str(port),
                "--db",
                str(db),
            ],
            env=QUIET,
        )
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                await wait_serving(
                    channel, child, GRPC_SERVICES["dispatch"], settings.start_timeout_s
                )
                stub: dispatch_grpc.DispatchServiceAsyncStub = dispatch_grpc.DispatchServiceStub(
                    channel
                )

                async def call(stub: "dispatch_grpc.DispatchServiceAsyncStub" = stub) -> None:
                    incident = f"incidents/bench{rng.randrange(200):04d}"
                    await stub.RecommendUnits(
                        dpb.RecommendUnitsRequest(incident=incident), timeout=10
                    )

                for _ in range(settings.warmup):
                    await call()
                samples = []
                for _ in range(settings.recommend_calls):
                    t0 = time.perf_counter_ns()
                    await call()
                    samples.append(time.perf_counter_ns() - t0)
        finally:
            procs.stop(child)
        figures[f"dispatch.rec.{units}.p50_ms"] = p50_ms(samples)
        figures[f"dispatch.rec.{units}.p99_ms"] = p99_ms(samples)
    return figures


# One-unit and two-unit plans all over the city: what a busy hour looks like.
E2E_TYPES = [("TRAFFIC.ROAD_BLOCKED", 2), ("MEDICAL.CARDIAC_ARREST", 1), ("POLICE.SNATCH_THEFT", 2)]


class Assignments:
    """When each incident's first `UnitsAssigned` event arrived; its units are released at
    once, so that the fleet does not run dry."""

    def __init__(self, dispatch: "dispatch_grpc.DispatchServiceAsyncStub") -> None:
        self._dispatch = dispatch
        self.seen: dict[str, int] = {}
        self._arrived: dict[str, asyncio.Event] = {}
        self._releases: set[asyncio.Task[object]] = set()

    async def on_assigned(self, msg: Msg) -> None:
        seen = time.perf_counter_ns()
        name = dispatch_events.UnitsAssigned.FromString(msg.data).incident
        if name in self.seen:
            return
        self.seen[name] = seen
        self._waiter(name).set()
        task: asyncio.Task[object] = asyncio.ensure_future(
            self._dispatch.ReleaseUnits(
                dpb.ReleaseUnitsRequest(incident=name, reason="bench"), timeout=10
            )
        )
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def wait(self, name: str, timeout_s: float) -> None:
        await asyncio.wait_for(self._waiter(name).wait(), timeout_s)

    async def wait_all(self, names: list[str], timeout_s: float) -> None:
        """Until each has been assigned or `timeout_s` has passed, whichever is first."""
        deadline = time.monotonic() + timeout_s
        for name in names:
            left = deadline - time.monotonic()
            if left > 0:
                with contextlib.suppress(TimeoutError):
                    await self.wait(name, left)

    async def released(self) -> None:
        await asyncio.gather(*self._releases, return_exceptions=True)

    def _waiter(self, name: str) -> asyncio.Event:
        return self._arrived.setdefault(name, asyncio.Event())


class Calls:
    """Incidents created through the incidents API, and when each call began."""

    def __init__(self, incidents: "incident_grpc.IncidentServiceAsyncStub") -> None:
        self._incidents = incidents
        self._rng = random.Random(5)
        self._area = load_rules().area
        self.started: dict[str, int] = {}

    async def create(self) -> str:
        type_code, priority = self._rng.choice(E2E_TYPES)
        request = ipb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code=type_code,
                priority=priority,  # type: ignore[arg-type]
                location=self._place(),
            )
        )
        t0 = time.perf_counter_ns()
        reply = await self._incidents.CreateIncident(request, timeout=10)
        name = reply.incident.name
        self.started[name] = t0
        return name

    def _place(self) -> common_pb2.Location:
        while True:
            lat, lon = self._rng.uniform(10.70, 10.88), self._rng.uniform(106.60, 106.80)
            if self._area.contains(lat, lon):
                return common_pb2.Location(lat=lat, lon=lon)


async def dispatch_e2e(procs: Processes, settings: Settings) -> dict[str, float]:
    server = procs.nats_server("nats-dispatch")
    work = procs.fresh_dir("dispatch-e2e")
    system = System(procs, server, work, ("incidents", "resources", "dispatch"))
    nc = await nats.connect(server.url, name="bench-dispatch")
    figures: dict[str, float] = {}
    try:
        await system.start_services(
            settings.start_timeout_s, dispatch_env={"ICC_DISPATCH_ACK_TIMEOUT_S": "3600"}
        )
        assignments = Assignments(dispatch_grpc.DispatchServiceStub(system.channels["dispatch"]))
        calls = Calls(incident_grpc.IncidentServiceStub(system.channels["incidents"]))
        sub = await nc.subscribe("icc.dispatch.assigned", cb=assignments.on_assigned)
        # Warm up every path once (plans, fleet, reservation, release).
        for _ in range(5):
            await assignments.wait(await calls.create(), 30)
        for per_s in settings.dispatch_rates:
            figures |= await _at_rate(per_s, settings, system, calls, assignments)
        await sub.unsubscribe()
    finally:
        await nc.close()
        await system.close()
    return figures


async def _at_rate(
    per_s: int, settings: Settings, system: System, calls: Calls, assignments: Assignments
) -> dict[str, float]:
    count = max(5, int(per_s * settings.dispatch_seconds))
    cpu_before = {n: cpu_seconds(c) for n, c in system.children.items()}
    names = await paced(per_s, count, calls.create)
    await assignments.wait_all(names, settings.event_timeout_s * 3)
    seen, started = assignments.seen, calls.started
    samples = [seen[n] - started[n] for n in names if n in seen]
    figures = {
        f"dispatch.e2e.{per_s}.p50_ms": p50_ms(samples),
        f"dispatch.e2e.{per_s}.p99_ms": p99_ms(samples),
        f"dispatch.e2e.{per_s}.lost": float(len(names) - len(samples)),
    }
    # Let the releases land before the next rate.
    await assignments.released()
    await asyncio.sleep(1.0)
    # Each service's CPU per incident over the phase (its releases included): a
    # steadier figure than latency on a shared machine, and what caps the rate.
    for n, child in system.children.items():
        used = cpu_seconds(child) - cpu_before[n]
        figures[f"dispatch.e2e.{per_s}.cpu_{n}_ms"] = used * 1000 / count
    return figures
