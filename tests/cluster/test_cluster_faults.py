"""The fault suite (`make test-faults`): the deployment's topology on loopback, broken one
way at a time under a steady load of P1 calls, each scenario bounded in time.

Each ends with: every acknowledged incident stored and announced once, every P1
dispatched (the fleet is fresh: units are free), no assignment announced twice, no unit
held by two incidents, events flowing again within 10 s of the fault's end (a P1 placed
then is assigned within that time), and no dead letter. The counts and durations are
printed (`-s`) as one JSON line per scenario.
"""

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.cluster import network
from tests.cluster.harness import Cluster, postgres_answers
from tests.cluster.load import Calls, assigned_at, count, stored

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

RATE_PER_S = 1.0
BEFORE_S = 5.0
FAULT_S = float(os.environ.get("ICC_FAULT_SECONDS", "60"))
AFTER_S = 5.0
SETTLE_S = 90.0
RECOVERY_LIMIT_S = 10.0


def _started(tmp_path: Path, *, partitionable: bool = False) -> Iterator[Cluster]:
    url = os.environ.get("ICC_TEST_POSTGRES_URL", "")
    if not url or not asyncio.run(postgres_answers(url)):
        pytest.skip("the fault suite runs on PostgreSQL: set ICC_TEST_POSTGRES_URL to a server")
    c = Cluster(tmp_path, url, partitionable=partitionable)
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def city(tmp_path: Path) -> Iterator[Cluster]:
    yield from _started(tmp_path)


@pytest.fixture
def city_apart(tmp_path: Path) -> Iterator[Cluster]:
    """The cluster with each nats-server in a network of its own."""
    why_not = network.available()
    if why_not:
        pytest.skip(f"a partition needs network namespaces: {why_not}")
    yield from _started(tmp_path, partitionable=True)


Fault = Callable[[Cluster], Awaitable[None]]


async def run_scenario(city: Cluster, name: str, fault: Fault, heal: Fault) -> dict[str, object]:
    """Calls before, during and after the fault; then the counts."""
    calls = Calls(city.target("incidents"))
    load = asyncio.create_task(calls.place(RATE_PER_S, BEFORE_S + FAULT_S + AFTER_S, name))
    await asyncio.sleep(BEFORE_S)
    started = time.monotonic()
    await fault(city)
    await asyncio.sleep(max(0.0, FAULT_S - (time.monotonic() - started)))
    await heal(city)
    healed = time.monotonic()
    recovery_s = await _recovery(city, healed)
    await load
    await _settled(city, calls)
    counts = await count(city.nats_urls, calls, await stored(city.target("incidents")))
    report = {
        "scenario": name,
        "fault_s": FAULT_S,
        "recovery_s": round(recovery_s, 1),
        "cluster_start_s": round(city.start_s, 1),
    }
    report.update(counts.__dict__)
    print("fault-suite " + json.dumps(report, sort_keys=True))
    assert counts.acknowledged == calls.placed
    assert counts.stored == counts.acknowledged, "acknowledged incidents lost"
    assert counts.announced == counts.acknowledged, "acknowledged incidents never announced"
    assert counts.announced_twice == 0
    assert counts.p1_undispatched == 0
    assert counts.assignments_announced_twice == 0
    assert counts.units_held_twice == 0
    assert counts.dead_letters == 0, "a dead letter from an infrastructure fault"
    assert recovery_s <= RECOVERY_LIMIT_S
    return report


async def _recovery(city: Cluster, healed: float) -> float:
    """Seconds from the fault's end until the assignment of a P1 placed then is stored on
    the bus (the server's timestamp: what the reader takes to see it is not counted)."""
    healed_at = time.time() - (time.monotonic() - healed)
    probe = Calls(city.target("incidents"))
    await probe.place(1.0, 0.5, f"probe-{int(healed)}")
    names = set(probe.acknowledged.values())
    deadline = healed + 60
    while time.monotonic() < deadline:
        assigned = await assigned_at(city.nats_urls, names)
        if names and names <= assigned.keys():
            return max(assigned.values()) - healed_at
        await asyncio.sleep(0.25)
    return float("inf")


async def _settled(city: Cluster, calls: Calls) -> None:
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        counts = await count(city.nats_urls, calls, set())
        if counts.p1_undispatched == 0 and counts.announced == counts.acknowledged:
            return
        await asyncio.sleep(1.0)


async def _nothing(city: Cluster) -> None:
    return None


async def test_the_nats_meta_and_stream_leader_killed(city: Cluster) -> None:
    killed: list[int] = []

    async def kill_leader(c: Cluster) -> None:
        node, _ = c.leader()
        node.kill()
        killed.append(c.nats.index(node))

    async def restart(c: Cluster) -> None:
        c.nats[killed[0]].start()

    await run_scenario(city, "leader-killed", kill_leader, restart)


async def test_one_nats_node_partitioned(city_apart: Cluster) -> None:
    """The node leading the JetStream meta group (streams' leaders usually sit there too)
    cut from the other two and from every client: no reset, each side notices by its own
    timeouts; then joined again."""
    apart: list[int] = []

    async def partition(c: Cluster) -> None:
        node, _ = c.leader()
        apart.append(c.nats.index(node))
        assert c.network is not None
        c.network.partition(apart[0])

    async def heal(c: Cluster) -> None:
        assert c.network is not None
        c.network.heal(apart[0])

    await run_scenario(city_apart, "nats-node-partitioned", partition, heal)


async def test_a_dispatch_replica_killed(city: Cluster) -> None:
    async def kill(c: Cluster) -> None:
        c.replicas["dispatch"][0].process.kill()

    async def restart(c: Cluster) -> None:
        await asyncio.to_thread(c.replicas["dispatch"][0].process.start, 90)

    await run_scenario(city, "dispatch-replica-killed", kill, restart)


async def test_a_dispatch_replica_frozen(city: Cluster) -> None:
    async def freeze(c: Cluster) -> None:
        c.replicas["dispatch"][0].freeze()

    async def thaw(c: Cluster) -> None:
        c.replicas["dispatch"][0].thaw()

    await run_scenario(city, "dispatch-replica-frozen", freeze, thaw)


async def test_the_dispatch_and_incidents_databases_cut(city: Cluster) -> None:
    async def cut(c: Cluster) -> None:
        for proxy in c.proxies.values():
            proxy.cut()

    async def heal(c: Cluster) -> None:
        for proxy in c.proxies.values():
            proxy.heal()

    await run_scenario(city, "databases-cut", cut, heal)


async def test_dispatch_paused_past_its_ack_wait(city: Cluster) -> None:
    async def pause(c: Cluster) -> None:
        for r in c.replicas["dispatch"]:
            r.freeze()

    async def resume(c: Cluster) -> None:
        for r in c.replicas["dispatch"]:
            r.thaw()

    await run_scenario(city, "dispatch-paused", pause, resume)


async def test_a_rolling_restart_of_every_service(city: Cluster) -> None:
    """Each replica in turn stopped with SIGTERM (it drains) and started again, while
    calls keep coming: no call fails as the caller sees it."""

    async def roll(c: Cluster) -> None:
        for service in ("incidents", "resources", "dispatch"):
            for r in c.replicas[service]:
                await asyncio.to_thread(r.process.stop)
                await asyncio.to_thread(r.process.start, 90)

    report = await run_scenario(city, "rolling-restart", roll, _nothing)
    assert report["client_failures"] == {}
