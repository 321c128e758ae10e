"""Unit positions (AVL): the bare stack's figures for them, and the resources service.

`avl_floor` measures what core NATS and the JetStream key-value store do on this
machine without any of ICC's code: ~100-byte messages from a publisher process to
a subscriber in this one, and KV puts (awaited one at a time, pipelined with
`publish_async`, gathered in batches, and not acknowledged at all).

`avl_service` runs `python -m icc_resources.main` over a fleet of 5,000 units, has
a publisher process (`bench.avl_publisher`) send position reports on core NATS at
a steady rate, and watches the `ICC_UNIT_POSITIONS` bucket from here: every report
the service accepts shows up in the watcher, and publish -> visible lag is the
watcher's wall clock minus the report's `report_time` (set by the publisher when it
built the report, on the same machine). A report counts as lost when the watcher
never sees it (one superseded in the bucket before the watcher got to it would count
too: each unit reports about every half second, far longer than the lag). Then it
times `ListUnits` of the whole fleet.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from bench.avl_publisher import report_bytes
from bench.procs import Child, Processes, cpu_seconds
from bench.settings import Settings
from bench.stats import NS_PER_MS, nearest_rank, p50_ms, p99_ms, rate
from bench.system import System
from icc.resource.v1 import events_pb2
from icc.resource.v1 import resource_service_pb2 as pb
from icc.resource.v1 import resource_service_pb2_grpc as pb_grpc
from icc_bus import flush

SERVICE_NAME = "icc.resource.v1.ResourceService"
BUCKET = "ICC_UNIT_POSITIONS"
FLOOR_BUCKET = "BENCH_AVL"
RAW_SUBJECT = "bench.raw"
RAW_SIZE = 100
GATHER_BATCH = 200
CALL_TIMEOUT_S = 30.0
# A report whose lag is longer than this was one of the deliberately old ones.
OLD_REPORT_NS = 30 * 60 * 1_000_000_000


async def wait_exit(child: Child, timeout_s: float) -> None:
    """Waits for a child that ends by itself; raises with its log when it fails."""
    deadline = time.monotonic() + timeout_s
    while child.process.poll() is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{child.name} still running after {timeout_s} s")
        await asyncio.sleep(0.05)
    if child.process.returncode != 0:
        raise RuntimeError(
            f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}"
        )


def read_summary(path: Path) -> dict[str, float]:
    summary: dict[str, float] = json.loads(path.read_text("utf-8"))
    return summary


# --- The floor: core NATS and JetStream KV -----------------------------------------------


async def _core_nats(procs: Processes, nc: Client, url: str, count: int) -> dict[str, float]:
    """~100-byte messages from a publisher process to a subscriber here: msg/s received."""
    received = 0
    first = last = 0

    async def on_msg(_msg: Msg) -> None:
        nonlocal received, first, last
        last = time.perf_counter_ns()
        if not received:
            first = last
        received += 1

    sub = await nc.subscribe(RAW_SUBJECT, cb=on_msg, pending_msgs_limit=2 * count)
    await flush(nc)
    out = procs.fresh_dir("raw-publisher") / "summary.json"
    publisher = procs.python(
        "raw-publisher",
        [
            *("-m", "bench.avl_publisher", "--nats-url", url, "--out", str(out)),
            *("--mode", "raw", "--subject", RAW_SUBJECT),
            *("--count", str(count), "--size", str(RAW_SIZE)),
        ],
    )
    try:
        await wait_exit(publisher, 120)
        # Then until everything arrived, or nothing more does for a second.
        seen, quiet_since = received, time.monotonic()
        while received < count and time.monotonic() - quiet_since < 1.0:
            await asyncio.sleep(0.02)
            if received != seen:
                seen, quiet_since = received, time.monotonic()
    finally:
        await sub.unsubscribe()
    return {
        "core.msgs_s": rate(received - 1, last - first) if received > 1 else float("nan"),
        "core.publisher_msgs_s": read_summary(out)["rate"],
        "core.lost": float(count - received),
    }


async def _kv_floor(nc: Client, settings: Settings) -> dict[str, float]:
    js = nc.jetstream()
    kv: KeyValue = await js.create_key_value(
        KeyValueConfig(bucket=FLOOR_BUCKET, history=1, storage=StorageType.FILE)
    )
    keys = [f"U-BENCH-{i:05d}" for i in range(settings.avl_units)]
    prefix = f"$KV.{FLOOR_BUCKET}."
    # Real position reports (~60 bytes), made before the clocks start.
    values = [report_bytes(f"units/{k}", i, time.time_ns()) for i, k in enumerate(keys)]

    def value(i: int) -> bytes:
        return values[i % len(values)]

    for i in range(settings.warmup):
        await kv.put(keys[i % len(keys)], value(i))

    # Sequential: one awaited put (a JetStream publish + ack) at a time.
    latencies: list[int] = []
    start = time.perf_counter_ns()
    for i in range(settings.avl_kv_seq):
        t0 = time.perf_counter_ns()
        await kv.put(keys[i % len(keys)], value(i))
        latencies.append(time.perf_counter_ns() - t0)
    seq_elapsed = time.perf_counter_ns() - start

    n = settings.avl_kv_puts
    # Pipelined: publish_async (up to 4,000 in flight), then wait for every ack.
    start = time.perf_counter_ns()
    futures = [await js.publish_async(prefix + keys[i % len(keys)], value(i)) for i in range(n)]
    await js.publish_async_completed()
    async_elapsed = time.perf_counter_ns() - start
    failed = sum(1 for f in futures if f.exception() is not None)

    # Batches of awaited puts gathered together.
    start = time.perf_counter_ns()
    for b in range(0, n, GATHER_BATCH):
        await asyncio.gather(
            *(kv.put(keys[i % len(keys)], value(i)) for i in range(b, min(n, b + GATHER_BATCH)))
        )
    gather_elapsed = time.perf_counter_ns() - start

    stored, noack_elapsed = await _kv_noack(
        nc, n, lambda i: (prefix + keys[i % len(keys)], value(i))
    )
    return {
        "kv.seq.puts_s": rate(settings.avl_kv_seq, seq_elapsed),
        "kv.seq.p50_ms": p50_ms(latencies),
        "kv.seq.p99_ms": p99_ms(latencies),
        "kv.async.puts_s": rate(n - failed, async_elapsed),
        "kv.gather.puts_s": rate(n, gather_elapsed),
        "kv.noack.puts_s": rate(stored, noack_elapsed),
        "kv.noack.lost": float(n - stored),
    }


async def _kv_noack(nc: Client, n: int, put: Callable[[int], tuple[str, bytes]]) -> tuple[int, int]:
    """No acks at all: `n` core publishes to the KV subjects (`put(i)`: subject, value),
    timed until the stream has them; (how many it has, the time taken in ns)."""
    js = nc.jetstream()
    first_seq = (await js.stream_info(f"KV_{FLOOR_BUCKET}")).state.last_seq
    start = time.perf_counter_ns()
    for i in range(n):
        await nc.publish(*put(i))
    await nc.flush()
    deadline = time.monotonic() + 60
    stored = 0
    while stored < n and time.monotonic() < deadline:
        stored = (await js.stream_info(f"KV_{FLOOR_BUCKET}")).state.last_seq - first_seq
        await asyncio.sleep(0.005)
    return stored, time.perf_counter_ns() - start


async def avl_floor(procs: Processes, settings: Settings) -> dict[str, float]:
    server = procs.nats_server("nats-avl-floor")
    nc = await nats.connect(server.url, name="bench-avl-floor", pending_size=8 * 1024**2)
    try:
        figures = await _core_nats(procs, nc, server.url, settings.avl_raw_msgs)
        figures |= await _kv_floor(nc, settings)
    finally:
        await nc.close()
    return {f"avl.{k}": v for k, v in figures.items()}


# --- The resources service ---------------------------------------------------------------


class BucketWatcher:
    """Watches the positions bucket; records when each (unit, report_time) became visible."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int]] = set()
        self.lags_ns: list[int] = []
        self.bad = 0  # deliberately bad reports that were stored anyway
        self.last_wall_ns = 0
        self._task: asyncio.Task[None] | None = None
        self._watcher: KeyValue.KeyWatcher | None = None

    async def start(self, kv: KeyValue) -> None:
        self._watcher = await kv.watchall()
        self._task = asyncio.create_task(self._run(self._watcher))

    async def _run(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None or not entry.value:
                continue
            now = time.time_ns()
            report = events_pb2.UnitPositionReported.FromString(entry.value)
            stamp = report.position.report_time
            report_ns = stamp.seconds * 1_000_000_000 + stamp.nanos
            lag = now - report_ns
            if lag > OLD_REPORT_NS or entry.key.startswith("U-NO-SUCH"):
                self.bad += 1
                continue
            key = (entry.key, report_ns)
            if key in self.seen:
                continue
            self.seen.add(key)
            self.lags_ns.append(lag)
            self.last_wall_ns = now

    async def wait_for(self, count: int, quiet_s: float) -> None:
        """Until `count` reports were seen, or none came for `quiet_s` seconds."""
        seen, quiet_since = len(self.seen), time.monotonic()
        while len(self.seen) < count and time.monotonic() - quiet_since < quiet_s:
            await asyncio.sleep(0.05)
            if len(self.seen) != seen:
                seen, quiet_since = len(self.seen), time.monotonic()

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()  # type: ignore[no-untyped-call]
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def prepare_fleet(procs: Processes, settings: Settings) -> tuple[Path, Path]:
    """A resources database with `avl_units` units, made before the service starts."""
    directory = procs.fresh_dir("resources-db")
    db, ids = directory / "resources.db", directory / "unit_ids.txt"
    fleet = procs.python(
        "avl-fleet",
        [
            *("-m", "bench.avl_fleet", "--db", str(db)),
            *("--units", str(settings.avl_units), "--ids-out", str(ids)),
        ],
    )
    await wait_exit(fleet, settings.start_timeout_s)
    return db, ids


async def _list_units(channel: grpc.aio.Channel, settings: Settings) -> dict[str, float]:
    stub = pb_grpc.ResourceServiceStub(channel)
    request = pb.ListUnitsRequest(page_size=settings.avl_units)
    for _ in range(3):
        await stub.ListUnits(request, timeout=CALL_TIMEOUT_S)
    latencies: list[int] = []
    response = pb.ListUnitsResponse()
    for _ in range(settings.avl_list_calls):
        t0 = time.perf_counter_ns()
        response = await stub.ListUnits(request, timeout=CALL_TIMEOUT_S)
        latencies.append(time.perf_counter_ns() - t0)
    return {
        "svc.list.p50_ms": p50_ms(latencies),
        "svc.list.p99_ms": p99_ms(latencies),
        "svc.list.units": float(len(response.units)),
        "svc.list.with_position": float(sum(1 for u in response.units if u.HasField("position"))),
        "svc.list.mb": response.ByteSize() / 1e6,
    }


async def avl_service(procs: Processes, settings: Settings) -> dict[str, float]:
    server = procs.nats_server("nats-avl")
    db, ids = await prepare_fleet(procs, settings)
    system = System(procs, server, db.parent, ("resources",))  # its database: `db`
    service = system.start("resources")
    nc = await nats.connect(server.url, name="bench-avl-driver")
    watcher = BucketWatcher()
    try:
        await system.serving("resources", settings.start_timeout_s)
        await watcher.start(await nc.jetstream().key_value(BUCKET))
        out = procs.fresh_dir("avl-publisher") / "summary.json"
        cpu_before = cpu_seconds(service)
        publisher = procs.python(
            "avl-publisher",
            [
                *("-m", "bench.avl_publisher", "--nats-url", server.url, "--out", str(out)),
                *("--mode", "avl", "--ids", str(ids), "--rate", str(settings.avl_rate)),
                *("--duration-s", str(settings.avl_duration_s)),
            ],
        )
        await wait_exit(publisher, settings.avl_duration_s + settings.start_timeout_s)
        sent = read_summary(out)
        # Over the time reports were sent (the service idles while the publisher starts).
        cpu = (cpu_seconds(service) - cpu_before) / sent["elapsed_s"]
        good = int(sent["good"])
        await watcher.wait_for(good, settings.event_timeout_s)
        service.check_alive()
        seen = len(watcher.seen)
        figures = {
            "svc.offered_s": sent["rate"],
            "svc.positions_s": rate(seen, watcher.last_wall_ns - int(sent["first_wall_ns"])),
            "svc.lag_p50_ms": p50_ms(watcher.lags_ns),
            "svc.lag_p99_ms": p99_ms(watcher.lags_ns),
            "svc.lag_max_ms": nearest_rank(watcher.lags_ns, 100) / NS_PER_MS,
            "svc.lost": float(good - seen),
            "svc.bad_stored": float(watcher.bad),
            "svc.cpu_cores": cpu,
        }
        figures |= await _list_units(system.channels["resources"], settings)
    finally:
        await watcher.stop()
        await nc.close()
        await system.close()
    return {f"avl.{k}": v for k, v in figures.items()}
