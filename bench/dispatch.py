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
from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc_incidents.main import load_rules
from icc_testing import free_port

DISPATCH = "icc.dispatch.v1.DispatchService"
INCIDENTS = "icc.incident.v1.IncidentService"
RESOURCES = "icc.resource.v1.ResourceService"
QUIET = {"ICC_LOG_LEVEL": "WARNING", "ICC_OTLP_ENDPOINT": ""}


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
                await wait_serving(channel, child, DISPATCH, settings.start_timeout_s)
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


async def dispatch_e2e(procs: Processes, settings: Settings) -> dict[str, float]:
    server = procs.nats_server("nats-dispatch")
    work = procs.fresh_dir("dispatch-e2e")
    ports = {name: free_port() for name in ("incidents", "resources", "dispatch")}
    common = {**QUIET, "ICC_NATS_URL": server.url}
    children = {
        "incidents": procs.python(
            "incidents",
            ["-m", "icc_incidents.main"],
            env={
                **common,
                "ICC_INCIDENTS_ADDR": f"127.0.0.1:{ports['incidents']}",
                "ICC_INCIDENTS_DB_URL": f"sqlite+aiosqlite:///{work / 'incidents.db'}",
            },
        ),
        "resources": procs.python(
            "resources",
            ["-m", "icc_resources.main"],
            env={
                **common,
                "ICC_RESOURCES_ADDR": f"127.0.0.1:{ports['resources']}",
                "ICC_RESOURCES_DB_URL": f"sqlite+aiosqlite:///{work / 'resources.db'}",
            },
        ),
    }
    channels = {n: grpc.aio.insecure_channel(f"127.0.0.1:{p}") for n, p in ports.items()}
    nc = await nats.connect(server.url, name="bench-dispatch")
    try:
        await wait_serving(
            channels["incidents"], children["incidents"], INCIDENTS, settings.start_timeout_s
        )
        await wait_serving(
            channels["resources"], children["resources"], RESOURCES, settings.start_timeout_s
        )
        children["dispatch"] = procs.python(
            "dispatch",
            ["-m", "icc_dispatch.main"],
            env={
                **common,
                "ICC_DISPATCH_ADDR": f"127.0.0.1:{ports['dispatch']}",
                "ICC_DISPATCH_DB_URL": f"sqlite+aiosqlite:///{work / 'dispatch.db'}",
                "ICC_RESOURCES_TARGET": f"127.0.0.1:{ports['resources']}",
                "ICC_DISPATCH_ACK_TIMEOUT_S": "3600",
            },
        )
        await wait_serving(
            channels["dispatch"], children["dispatch"], DISPATCH, settings.start_timeout_s
        )
        incidents = incident_grpc.IncidentServiceStub(channels["incidents"])
        dispatch = dispatch_grpc.DispatchServiceStub(channels["dispatch"])

        started: dict[str, int] = {}
        latency: dict[str, int] = {}
        arrived: dict[str, asyncio.Event] = {}
        releases: set[asyncio.Task[object]] = set()

        async def on_assigned(msg: Msg) -> None:
            seen = time.perf_counter_ns()
            event = dispatch_events.UnitsAssigned.FromString(msg.data)
            name = event.incident
            if name in latency:
                return
            latency[name] = seen
            waiter = arrived.setdefault(name, asyncio.Event())
            waiter.set()
            task: asyncio.Task[object] = asyncio.ensure_future(
                dispatch.ReleaseUnits(
                    dpb.ReleaseUnitsRequest(incident=name, reason="bench"), timeout=10
                )
            )
            releases.add(task)
            task.add_done_callback(releases.discard)

        sub = await nc.subscribe("icc.dispatch.assigned", cb=on_assigned)
        rng = random.Random(5)
        area = load_rules().area

        def place() -> common_pb2.Location:
            while True:
                lat, lon = rng.uniform(10.70, 10.88), rng.uniform(106.60, 106.80)
                if area.contains(lat, lon):
                    return common_pb2.Location(lat=lat, lon=lon)

        async def one() -> str:
            type_code, priority = rng.choice(E2E_TYPES)
            request = ipb.CreateIncidentRequest(
                incident=incident_pb2.Incident(
                    type_code=type_code,
                    priority=priority,  # type: ignore[arg-type]
                    location=place(),
                )
            )
            t0 = time.perf_counter_ns()
            reply = await incidents.CreateIncident(request, timeout=10)
            name = reply.incident.name
            started[name] = t0
            return name

        # Warm up every path once (plans, fleet, reservation, release).
        for _ in range(5):
            name = await one()
            await asyncio.wait_for(arrived.setdefault(name, asyncio.Event()).wait(), 30)

        figures: dict[str, float] = {}
        for per_s in settings.dispatch_rates:
            count = max(5, int(per_s * settings.dispatch_seconds))
            cpu_before = {n: cpu_seconds(c) for n, c in children.items()}
            names = await paced(per_s, count, one)
            deadline = time.monotonic() + settings.event_timeout_s * 3
            for name in names:
                waiter = arrived.setdefault(name, asyncio.Event())
                left = deadline - time.monotonic()
                if left > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiter.wait(), left)
            samples = [latency[n] - started[n] for n in names if n in latency]
            figures[f"dispatch.e2e.{per_s}.p50_ms"] = p50_ms(samples)
            figures[f"dispatch.e2e.{per_s}.p99_ms"] = p99_ms(samples)
            figures[f"dispatch.e2e.{per_s}.lost"] = float(len(names) - len(samples))
            # Let the releases land before the next rate.
            await asyncio.gather(*releases, return_exceptions=True)
            await asyncio.sleep(1.0)
            # Each service's CPU per incident over the phase (its releases included): a
            # steadier figure than latency on a shared machine, and what caps the rate.
            for n, child in children.items():
                used = cpu_seconds(child) - cpu_before[n]
                figures[f"dispatch.e2e.{per_s}.cpu_{n}_ms"] = used * 1000 / count
        await sub.unsubscribe()
    finally:
        await nc.close()
        for channel in channels.values():
            await channel.close()
    return figures
