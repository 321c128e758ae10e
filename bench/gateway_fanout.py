"""Gateway fan-out: one change of the picture to many connected screens.

`gateway-fanout`: nats-server, the incidents, resources and dispatch services and the
gateway as processes (the gateway reads its picture from the services); 50 screens
connected to `GET /api/v1/picture/stream` over real HTTP, signed in as a demo user.
The driver publishes hospital capacity events on JetStream (what the resources service
publishes when beds change, each a newer version of one hospital) at a steady pace;
for each change, the time from the publish call to its arrival at each screen.

Figures: `gateway.fanout.p50_ms`/`p99_ms` over every (change, screen) pair, and
`gateway.fanout.last_p50_ms`/`last_p99_ms`: per change, until the *last* screen had it
(the goal: under 100 ms at p99 for 50 screens). The screens share this one process, so
the last screen's figure includes this process reading the 49 others first.

Run alone: `uv run python -m bench.gateway_fanout [--clients 50 --changes 200]`.
"""

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid

import httpx
import nats
import uvloop
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from bench.procs import Child, Processes, scratch_processes
from bench.settings import Settings
from bench.stats import p50_ms, p99_ms
from bench.system import System
from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc

CLIENTS = 50
CHANGES = 200
INTERVAL_S = 0.02
WARMUP = 20
# Versions far above the hospital's own, so that every published one is newer.
VERSION_BASE = 1_000_000


async def _wait_healthy(url: str, child: Child, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            child.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"gateway not healthy after {timeout_s} s:\n{child.log_tail()}")
            await asyncio.sleep(0.1)


class Screen:
    """One SSE client: records when each marked hospital change arrived."""

    def __init__(self, expect: int) -> None:
        self.arrived: dict[int, int] = {}
        self.expect = expect
        self.ready = asyncio.Event()
        self.complete = asyncio.Event()

    async def run(self, client: httpx.AsyncClient, hospital: str) -> None:
        async with client.stream("GET", "/api/v1/picture/stream", timeout=None) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                seen = time.perf_counter_ns()
                if not self.ready.is_set():
                    self.ready.set()  # the snapshot
                    continue
                data = json.loads(line[6:])
                item = data["item"]
                if data["kind"] == "hospital" and item["id"] == hospital:
                    self.arrived.setdefault(item["beds_available"], seen)
                    if len(self.arrived) >= self.expect:
                        self.complete.set()


async def gateway_fanout(
    procs: Processes,
    settings: Settings,
    *,
    clients: int = CLIENTS,
    changes: int = CHANGES,
    interval_s: float = INTERVAL_S,
) -> dict[str, float]:
    server = procs.nats_server("nats-gateway")
    work = procs.fresh_dir("gateway-fanout")
    system = System(procs, server, work, ("incidents", "resources", "dispatch", "gateway"))
    nc = await nats.connect(server.url, name="bench-gateway")
    http = httpx.AsyncClient(
        base_url=f"http://{system.address('gateway')}",
        limits=httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10),
        timeout=10,
    )
    tasks: list[asyncio.Task[None]] = []
    try:
        await system.start_services(settings.start_timeout_s)
        gateway = system.start("gateway")
        await _wait_healthy(str(http.base_url), gateway, settings.start_timeout_s)
        resources = resource_grpc.ResourceServiceStub(system.channels["resources"])
        hospital = (
            await resources.ListHospitals(rpb.ListHospitalsRequest(), timeout=10)
        ).hospitals[0]
        signed_in = await http.post(
            "/api/v1/session", json={"username": "viewer", "password": "icc-demo"}
        )
        signed_in.raise_for_status()
        total = WARMUP + changes
        screens = [Screen(total) for _ in range(clients)]
        hospital_id = hospital.name.rpartition("/")[2]
        tasks = [asyncio.create_task(s.run(http, hospital_id)) for s in screens]
        await asyncio.wait_for(
            asyncio.gather(*(s.ready.wait() for s in screens)), settings.start_timeout_s
        )
        published = await _publish_changes(nc.jetstream(), hospital, total, interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(s.complete.wait() for s in screens)), settings.event_timeout_s
            )
        return _figures(screens, published, range(WARMUP, total), clients, changes)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.aclose()
        await nc.close()
        await system.close()


async def _publish_changes(
    js: JetStreamContext, hospital: resource_pb2.Hospital, total: int, interval_s: float
) -> dict[int, int]:
    """`total` newer versions of the hospital, one every `interval_s`; when each was sent."""
    published: dict[int, int] = {}
    start = time.perf_counter()
    for n in range(total):
        delay = start + n * interval_s - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        event_id = uuid.uuid4().hex
        changed = resource_events.HospitalCapacityChanged()
        changed.metadata.event_id = event_id
        changed.hospital.CopyFrom(hospital)
        changed.hospital.etag = f'W/"{VERSION_BASE + n}"'
        changed.hospital.available.emergency_beds = n
        now = Timestamp()
        now.GetCurrentTime()
        changed.hospital.update_time.CopyFrom(now)
        changed.metadata.occur_time.CopyFrom(now)
        payload = changed.SerializeToString()
        headers = {
            "Nats-Msg-Id": event_id,
            "Icc-Event-Type": changed.DESCRIPTOR.full_name,
        }
        published[n] = time.perf_counter_ns()
        await js.publish("icc.hospital.capacity_changed", payload, headers=headers)
    return published


def _figures(
    screens: list[Screen], published: dict[int, int], measured: range, clients: int, changes: int
) -> dict[str, float]:
    pairs = [s.arrived[n] - published[n] for s in screens for n in measured if n in s.arrived]
    last = [
        max(s.arrived[n] for s in screens) - published[n]
        for n in measured
        if all(n in s.arrived for s in screens)
    ]
    missing = len(screens) * len(measured) - len(pairs)
    return {
        "gateway.fanout.clients": float(clients),
        "gateway.fanout.changes": float(changes),
        "gateway.fanout.p50_ms": p50_ms(pairs),
        "gateway.fanout.p99_ms": p99_ms(pairs),
        "gateway.fanout.last_p50_ms": p50_ms(last),
        "gateway.fanout.last_p99_ms": p99_ms(last),
        "gateway.fanout.missing": float(missing),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--changes", type=int, default=CHANGES)
    parser.add_argument("--interval-ms", type=float, default=INTERVAL_S * 1000)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    with scratch_processes("icc-bench-gateway-", keep=args.keep) as procs:
        figures = uvloop.run(
            gateway_fanout(
                procs,
                Settings(),
                clients=args.clients,
                changes=args.changes,
                interval_s=args.interval_ms / 1000,
            )
        )
    for name, value in figures.items():
        print(f"{name:32} {value:10.2f}")
    if args.keep:
        print(f"work directory: {procs.workdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
