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
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import httpx
import nats
import uvloop
from google.protobuf.timestamp_pb2 import Timestamp

from bench.procs import Child, Processes, wait_serving
from bench.settings import Settings
from bench.stats import p50_ms, p99_ms
from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_service_pb2 as rpb
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc
from icc_testing import free_port

INCIDENTS = "icc.incident.v1.IncidentService"
RESOURCES = "icc.resource.v1.ResourceService"
DISPATCH = "icc.dispatch.v1.DispatchService"
QUIET = {"ICC_LOG_LEVEL": "WARNING", "ICC_OTLP_ENDPOINT": ""}
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
    ports = {name: free_port() for name in ("incidents", "resources", "dispatch", "gateway")}
    common = {**QUIET, "ICC_NATS_URL": server.url}
    targets = {
        "ICC_INCIDENTS_TARGET": f"127.0.0.1:{ports['incidents']}",
        "ICC_RESOURCES_TARGET": f"127.0.0.1:{ports['resources']}",
        "ICC_DISPATCH_TARGET": f"127.0.0.1:{ports['dispatch']}",
    }
    children = {
        name: procs.python(
            name,
            ["-m", f"icc_{name}.main"],
            env={
                **common,
                **targets,
                f"ICC_{name.upper()}_ADDR": f"127.0.0.1:{ports[name]}",
                f"ICC_{name.upper()}_DB_URL": f"sqlite+aiosqlite:///{work / f'{name}.db'}",
            },
        )
        for name in ("incidents", "resources")
    }
    channels = {
        n: grpc.aio.insecure_channel(f"127.0.0.1:{ports[n]}")
        for n in ("incidents", "resources", "dispatch")
    }
    nc = await nats.connect(server.url, name="bench-gateway")
    http = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{ports['gateway']}",
        limits=httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10),
        timeout=10,
    )
    tasks: list[asyncio.Task[None]] = []
    try:
        for name, service in (("incidents", INCIDENTS), ("resources", RESOURCES)):
            await wait_serving(channels[name], children[name], service, settings.start_timeout_s)
        for name in ("dispatch", "gateway"):
            children[name] = procs.python(
                name,
                ["-m", f"icc_{name}.main"],
                env={
                    **common,
                    **targets,
                    f"ICC_{name.upper()}_ADDR": f"127.0.0.1:{ports[name]}",
                    f"ICC_{name.upper()}_DB_URL": f"sqlite+aiosqlite:///{work / f'{name}.db'}",
                },
            )
        await wait_serving(
            channels["dispatch"], children["dispatch"], DISPATCH, settings.start_timeout_s
        )
        await _wait_healthy(str(http.base_url), children["gateway"], settings.start_timeout_s)

        resources = resource_grpc.ResourceServiceStub(channels["resources"])
        hospital = (
            await resources.ListHospitals(rpb.ListHospitalsRequest(), timeout=10)
        ).hospitals[0]
        hospital_id = hospital.name.rpartition("/")[2]
        signed_in = await http.post(
            "/api/v1/session", json={"username": "viewer", "password": "icc-demo"}
        )
        signed_in.raise_for_status()
        total = WARMUP + changes
        screens = [Screen(total) for _ in range(clients)]
        tasks = [asyncio.create_task(s.run(http, hospital_id)) for s in screens]
        await asyncio.wait_for(
            asyncio.gather(*(s.ready.wait() for s in screens)), settings.start_timeout_s
        )

        js = nc.jetstream()
        published: dict[int, int] = {}

        async def publish(n: int) -> None:
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

        start = time.perf_counter()
        for n in range(total):
            delay = start + n * interval_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await publish(n)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(s.complete.wait() for s in screens)), settings.event_timeout_s
            )

        measured = range(WARMUP, total)
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
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.aclose()
        await nc.close()
        for channel in channels.values():
            await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--changes", type=int, default=CHANGES)
    parser.add_argument("--interval-ms", type=float, default=INTERVAL_S * 1000)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="icc-bench-gateway-"))
    procs = Processes(workdir)
    try:
        figures = uvloop.run(
            gateway_fanout(
                procs,
                Settings(),
                clients=args.clients,
                changes=args.changes,
                interval_s=args.interval_ms / 1000,
            )
        )
    finally:
        procs.stop_all()
    for name, value in figures.items():
        print(f"{name:32} {value:10.2f}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"work directory: {workdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
