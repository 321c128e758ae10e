"""Call-taking at the incidents service, in its own process over gRPC:

- `SearchPlaces` latency (goal: p99 under 20 ms), a hundred place queries as callers say
  them, one at a time;
- what the duplicate check costs at intake: CreateIncident → event at a consumer, one at a
  time, with the check on (`ICC_DUPLICATE_CHECK=1`, the default) beside off, in this run:
  two services, each on its own nats-server and SQLite file, their calls alternated. Calls are spread over the urban
  core (about 11 km across) in every family, with a caller phone each, so the check reads
  what a city's intake would: a few incidents near each call, not thousands.
"""

import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import nats

from bench.load import (
    EventWatcher,
    prefixed,
    sequential,
    warm_up,
    watch_consumer,
)
from bench.procs import Processes, wait_serving
from bench.settings import Settings
from bench.stats import p50_ms, p99_ms
from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_testing import free_port

SERVICE_NAME = "icc.incident.v1.IncidentService"
CENTRE = (10.7769, 106.7009)
SPREAD_DEG = 0.05
TYPES = ("FIRE.STRUCTURE", "MEDICAL.CHEST_PAIN", "POLICE.SNATCH_THEFT", "TRAFFIC.COLLISION_INJURY")
QUERIES = (
    "cho ben thanh",
    "Chợ Bình Tây",
    "cho ben thnah",
    "Q1",
    "quan 3",
    "Bình Thạnh",
    "benh vien cho ray",
    "BV Nhi Dong 1",
    "cau sai gon",
    "san bay tan son nhat",
    "ga sai gon",
    "nha tho duc ba",
    "dam sen",
    "135 Nam Ky Khoi Nghia",
    "phuong tan dinh",
    "landmark 81",
    "ben xe mien dong",
    "dai hoc bach khoa",
    "thu duc",
    "go vap",
)
CALL_TIMEOUT_S = 10.0


def _request(rng: random.Random) -> pb.CreateIncidentRequest:
    return pb.CreateIncidentRequest(
        request_id=uuid.uuid4().hex,
        incident=incident_pb2.Incident(
            type_code=rng.choice(TYPES),
            location=common_pb2.Location(
                lat=CENTRE[0] + rng.uniform(-SPREAD_DEG, SPREAD_DEG),
                lon=CENTRE[1] + rng.uniform(-SPREAD_DEG, SPREAD_DEG),
                address="bench",
            ),
            caller=incident_pb2.Caller(phone=f"0900{rng.randrange(1_000_000):06d}"),
        ),
    )


async def calltaking(procs: Processes, settings: Settings) -> dict[str, float]:
    """Both services up at once, their calls alternated, so a slow spell of this shared
    machine falls on both sides alike."""
    async with contextlib.AsyncExitStack() as stack:
        on = await _started(procs, settings, stack, check=True)
        off = await _started(procs, settings, stack, check=False)
        for side in (on, off):
            await warm_up(side.create, settings.warmup, side.watcher)
        samples: dict[str, list[int]] = {"dup": [], "nodup": []}
        lost = 0
        for _ in range(settings.sequential):
            for side in (on, off):
                t0 = time.perf_counter_ns()
                seen = await side.watcher.wait(await side.create(), settings.event_timeout_s)
                if seen is None:
                    lost += 1
                else:
                    samples[side.label].append(seen.at_ns - t0)
        figures: dict[str, float] = {"lost": lost}
        for label, ns in samples.items():
            figures |= {f"{label}.e2e_p50_ms": p50_ms(ns), f"{label}.e2e_p99_ms": p99_ms(ns)}
        queries = iter(range(10**9))

        async def search() -> str:
            query = QUERIES[next(queries) % len(QUERIES)]
            await on.stub.SearchPlaces(
                pb.SearchPlacesRequest(
                    query=query, near=common_pb2.Location(lat=CENTRE[0], lon=CENTRE[1])
                ),
                timeout=CALL_TIMEOUT_S,
            )
            return query

        await warm_up(search, settings.warmup)
        figures |= prefixed("search", await sequential(search, settings.sequential))
    return prefixed("calltaking", figures)


@dataclass
class Side:
    label: str
    stub: "pb_grpc.IncidentServiceAsyncStub"  # typed in the stubs only
    watcher: EventWatcher
    create: Callable[[], Awaitable[str]]


async def _started(
    procs: Processes, settings: Settings, stack: contextlib.AsyncExitStack, *, check: bool
) -> Side:
    """An incidents service with the duplicate check on or off, its own nats-server and
    SQLite file, and a consumer echoing its events."""
    label = "dup" if check else "nodup"
    server = procs.nats_server(f"nats-{label}")
    port = free_port()
    db = procs.fresh_dir(f"incidents-{label}") / "incidents.db"
    service = procs.python(
        f"incidents-{label}",
        ["-m", "icc_incidents.main"],
        env={
            "ICC_INCIDENTS_ADDR": f"127.0.0.1:{port}",
            "ICC_NATS_URL": server.url,
            "ICC_INCIDENTS_DB_URL": f"sqlite+aiosqlite:///{db}",
            "ICC_LOG_LEVEL": "WARNING",
            "ICC_OTLP_ENDPOINT": "",
            "ICC_DUPLICATE_CHECK": "1" if check else "0",
        },
    )
    nc = await nats.connect(server.url, name=f"bench-driver-{label}")
    stack.push_async_callback(nc.close)
    watcher = EventWatcher()
    stack.push_async_callback(watcher.stop)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stack.push_async_callback(channel.close)
    await wait_serving(channel, service, SERVICE_NAME, settings.start_timeout_s)
    await watch_consumer(
        procs, nc, watcher, settings, "ICC_INCIDENT", "icc.incident.created", "incident"
    )
    stub: pb_grpc.IncidentServiceAsyncStub = pb_grpc.IncidentServiceStub(channel)
    rng = random.Random(11)

    async def create() -> str:
        reply = await stub.CreateIncident(_request(rng), timeout=CALL_TIMEOUT_S)
        return str(reply.incident.name)

    return Side(label, stub, watcher, create)
