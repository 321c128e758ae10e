"""Load drivers shared by every gRPC benchmark: sequential calls, 32 concurrent clients,
and call -> event-at-consumer timing through the consumer's echo (see `bench.consumer`).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from bench.procs import Processes, start_consumer
from bench.settings import Settings
from bench.stats import p50_ms, p99_ms, rate
from icc_bus import flush

# Where the consumer process echoes each event it reads.
ECHO_SUBJECT = "bench.seen"
# One call; returns the key under which its event will be echoed by the consumer.
Call = Callable[[], Awaitable[str]]
T = TypeVar("T")


@dataclass(frozen=True)
class Seen:
    at_ns: int  # perf_counter_ns in this process when the echo arrived
    consumer_wall_ns: int  # time.time_ns in the consumer process when it received the event


class EventWatcher:
    """Receives the consumer's echoes and lets callers wait for a given event."""

    def __init__(self) -> None:
        self.seen: dict[str, Seen] = {}
        self._waiters: dict[str, asyncio.Future[Seen]] = {}
        self._sub: Subscription | None = None

    async def start(self, nc: Client, subject: str) -> None:
        self._sub = await nc.subscribe(subject, cb=self._on_echo)
        await flush(nc)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_echo(self, msg: Msg) -> None:
        at = time.perf_counter_ns()
        key, _, wall = msg.data.decode().partition(" ")
        seen = self.seen.setdefault(key, Seen(at, int(wall or 0)))
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(seen)

    async def wait(self, key: str, timeout_s: float) -> Seen | None:
        if key in self.seen:
            return self.seen[key]
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        try:
            return await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            self._waiters.pop(key, None)
            return None

    async def wait_all(self, keys: list[str], timeout_s: float) -> int:
        """Waits until every key was seen or time ran out; returns how many are missing."""
        deadline = time.monotonic() + timeout_s
        missing = [k for k in keys if k not in self.seen]
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            missing = [k for k in missing if k not in self.seen]
        return len(missing)


async def watch_consumer(
    procs: Processes,
    nc: Client,
    watcher: EventWatcher,
    settings: Settings,
    stream: str,
    subject: str,
    key: str,
) -> None:
    """Starts the consumer process (`bench.consumer`) on `stream`, at the server `nc` is
    connected to; `watcher` hears its echo of every event, by `key` (`msgid` or
    `incident`)."""
    assert nc.connected_url is not None
    await watcher.start(nc, ECHO_SUBJECT)
    await start_consumer(
        procs,
        nc.jetstream(),
        nats_url=nc.connected_url.geturl(),
        stream=stream,
        subject=subject,
        key=key,
        echo_subject=ECHO_SUBJECT,
        timeout_s=settings.start_timeout_s,
    )


async def warm_up(call: Call, count: int, watcher: EventWatcher | None = None) -> None:
    keys = [await call() for _ in range(count)]
    if watcher is not None:
        await watcher.wait_all(keys, timeout_s=30)


async def sequential(call: Call, count: int) -> dict[str, float]:
    """One call at a time: latency percentiles and calls per second."""
    latencies: list[int] = []
    start = time.perf_counter_ns()
    for _ in range(count):
        t0 = time.perf_counter_ns()
        await call()
        latencies.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter_ns() - start
    return {
        "p50_ms": p50_ms(latencies),
        "p99_ms": p99_ms(latencies),
        "rps": rate(count, elapsed),
    }


async def sequential_to_event(
    call: Call, watcher: EventWatcher, count: int, timeout_s: float = 10.0
) -> dict[str, float]:
    """One call at a time, each waiting for its event at the consumer: call -> event latency."""
    latencies: list[int] = []
    lost = 0
    for _ in range(count):
        t0 = time.perf_counter_ns()
        key = await call()
        seen = await watcher.wait(key, timeout_s)
        if seen is None:
            lost += 1
        else:
            latencies.append(seen.at_ns - t0)
    return {"e2e_p50_ms": p50_ms(latencies), "e2e_p99_ms": p99_ms(latencies), "lost": lost}


async def paced_to_event(
    call: Call, watcher: EventWatcher, per_s: float, seconds: float, timeout_s: float = 10.0
) -> dict[str, float]:
    """Calls started at a steady `per_s` (as dispatch's end-to-end benchmark starts
    incidents), each timed from the call to its event at the consumer. A process that
    idles between calls answers slower than one kept busy back to back: this is the
    floor at that rate."""

    async def one() -> int | None:
        t0 = time.perf_counter_ns()
        seen = await watcher.wait(await call(), timeout_s)
        return None if seen is None else seen.at_ns - t0

    results = await paced(per_s, max(5, int(per_s * seconds)), one)
    latencies = [r for r in results if r is not None]
    return {
        "e2e_p50_ms": p50_ms(latencies),
        "e2e_p99_ms": p99_ms(latencies),
        "lost": len(results) - len(latencies),
    }


async def paced(per_s: float, count: int, start: Callable[[], Coroutine[Any, Any, T]]) -> list[T]:
    """`count` runs of `start`, begun at a steady `per_s` whatever each takes; their results."""
    tasks: list[asyncio.Task[T]] = []
    t0 = time.perf_counter()
    for i in range(count):
        delay = t0 + i / per_s - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(start()))
    return list(await asyncio.gather(*tasks))


async def concurrent(
    call: Call,
    count: int,
    clients: int,
    watcher: EventWatcher | None = None,
    timeout_s: float = 60.0,
) -> dict[str, float]:
    """`clients` callers share `count` calls; with a watcher, also events/s at the consumer.

    Events/s is counted from the first call to the consumer's receipt of the last event,
    both in wall-clock time (same machine), so it is what the consumer observed.
    """
    remaining = count
    latencies: list[int] = []
    started: list[tuple[str, int]] = []

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter_ns()
            key = await call()
            latencies.append(time.perf_counter_ns() - t0)
            started.append((key, t0))

    wall_start = time.time_ns()
    start = time.perf_counter_ns()
    await asyncio.gather(*(client() for _ in range(clients)))
    calls_elapsed = time.perf_counter_ns() - start
    out = {
        "rps": rate(count, calls_elapsed),
        "p50_ms": p50_ms(latencies),
        "p99_ms": p99_ms(latencies),
    }
    if watcher is None:
        return out
    lost = await watcher.wait_all([key for key, _ in started], timeout_s)
    seen = [(watcher.seen[key], t0) for key, t0 in started if key in watcher.seen]
    last_wall = max((s.consumer_wall_ns for s, _ in seen), default=wall_start)
    e2e = [s.at_ns - t0 for s, t0 in seen]
    out.update(
        events_s=rate(len(seen), last_wall - wall_start),
        e2e_p50_ms=p50_ms(e2e),
        e2e_p99_ms=p99_ms(e2e),
        lost=lost,
    )
    return out


async def call_and_event_figures(
    call: Call, watcher: EventWatcher, settings: Settings
) -> dict[str, float]:
    """The figures of a gRPC -> database -> JetStream -> consumer pipeline, in one go."""
    await warm_up(call, settings.warmup, watcher)
    seq = await sequential(call, settings.sequential)
    seq |= await sequential_to_event(call, watcher, settings.sequential, settings.event_timeout_s)
    conc = await concurrent(call, settings.concurrent, settings.clients, watcher)
    return prefixed("seq", seq) | prefixed("conc", conc)


async def paced_figures(call: Call, watcher: EventWatcher, settings: Settings) -> dict[str, float]:
    """Call -> event at each of dispatch's benchmark rates (the floor beside it)."""
    figures: dict[str, float] = {}
    for per_s in settings.dispatch_rates:
        paced = await paced_to_event(
            call, watcher, per_s, settings.dispatch_seconds, settings.event_timeout_s
        )
        figures |= prefixed(f"paced.{per_s}", paced)
    return figures


def prefixed(prefix: str, figures: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}.{name}": value for name, value in figures.items()}
