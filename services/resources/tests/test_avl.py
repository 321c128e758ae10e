"""AVL ingest on its own: puts reach the bucket and every replica's view; refused puts are
counted and put again; reports that cannot be right are rejected, not raised."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client

from icc.resource.v1 import events_pb2, resource_pb2
from icc_resources.avl import BUCKET, Avl, PositionView
from icc_resources.domain.avl import Verdict
from icc_testing import NatsServer

UNITS = {"U-1", "U-2", "U-3"}


def report(unit: str, when: datetime, lat: float = 10.78) -> events_pb2.UnitPositionReported:
    position = resource_pb2.Position(lat=lat, lon=106.7)
    position.report_time.FromDatetime(when)
    return events_pb2.UnitPositionReported(unit=unit, position=position)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def clients(nats_server: NatsServer) -> AsyncIterator[list[Client]]:
    ncs = [await nats.connect(nats_server.url) for _ in range(3)]
    try:
        yield ncs
    finally:
        for nc in ncs:
            await nc.close()


async def replica(nc: Client) -> tuple[Avl, PositionView]:
    view = PositionView(timedelta(seconds=60))
    view.known_units = set(UNITS)
    avl = Avl(nc, view)
    await avl.start()
    return avl, view


async def test_replicas_share_what_either_ingested(clients: list[Client]) -> None:
    (a, view_a), (b, view_b) = await replica(clients[0]), await replica(clients[1])
    device = clients[2]
    start = datetime.now(UTC) - timedelta(seconds=10)
    try:
        for i in range(60):
            unit = sorted(UNITS)[i % 3]
            data = report(f"units/{unit}", start + timedelta(milliseconds=100 * i), 10 + i / 100)
            await device.publish(f"icc.unit.position.{unit}", data.SerializeToString())
        await device.flush()
        last = {
            u: start + timedelta(milliseconds=100 * (57 + n)) for n, u in enumerate(sorted(UNITS))
        }

        async def both_current() -> bool:
            return all(
                (p := view.latest(u)) is not None and p.report_time == t
                for view in (view_a, view_b)
                for u, t in last.items()
            )

        await eventually(both_current)
        assert a.counts[Verdict.ACCEPTED] + b.counts[Verdict.ACCEPTED] == 60
        assert a.counts[Verdict.ACCEPTED] and b.counts[Verdict.ACCEPTED]  # the queue group split
        # Two replicas may have put a unit's positions out of order; the bucket still
        # ends on the newest of each.
        kv = await device.jetstream().key_value(BUCKET)

        async def bucket_current() -> bool:
            for u, t in last.items():
                stored = events_pb2.UnitPositionReported.FromString((await kv.get(u)).value or b"")
                assert stored.unit == f"units/{u}"
                if stored.position.report_time.ToDatetime(tzinfo=UTC) != t:
                    return False
            return True

        await eventually(bucket_current)
        assert a.put_failures == b.put_failures == 0
    finally:
        await a.stop()
        await b.stop()


async def test_refused_puts_are_counted_and_put_again(clients: list[Client]) -> None:
    avl, view = await replica(clients[0])
    js = clients[1].jetstream()
    try:
        stream = f"KV_{BUCKET}"
        config = (await js.stream_info(stream)).config
        config.max_msg_size = 8  # every put is now refused
        await js.update_stream(config)
        when = datetime.now(UTC)
        assert await avl.ingest(report("U-2", when)) is Verdict.ACCEPTED
        assert view.latest("U-2") is not None  # seen here at once, whatever the bucket says

        async def failed() -> bool:
            return avl.put_failures >= 1

        await eventually(failed)
        config.max_msg_size = -1
        await js.update_stream(config)
        kv = await js.key_value(BUCKET)

        async def healed() -> bool:
            try:
                entry = await kv.get("U-2")
            except nats.js.errors.KeyNotFoundError:
                return False
            stored = events_pb2.UnitPositionReported.FromString(entry.value or b"")
            return bool(stored.position.report_time.ToDatetime(tzinfo=UTC) == when)

        await eventually(healed)
    finally:
        await avl.stop()


@pytest.mark.parametrize("seconds", [10**12, -(10**12)])
async def test_impossible_report_time_is_rejected(clients: list[Client], seconds: int) -> None:
    avl, view = await replica(clients[0])
    try:
        bad = report("units/U-3", datetime.now(UTC))
        bad.position.report_time.seconds = seconds
        assert await avl.ingest(bad) is Verdict.REJECTED
        no_position = events_pb2.UnitPositionReported(unit="units/U-3")
        assert await avl.ingest(no_position) is Verdict.REJECTED
        # And on the bus: counted, nothing raised in the subscription.
        await clients[1].publish("icc.unit.position.U-3", bad.SerializeToString())
        await clients[1].publish("icc.unit.position.U-3", b"\xff not protobuf")
        await clients[1].flush()

        async def counted() -> bool:
            return avl.counts[Verdict.REJECTED] == 4

        await eventually(counted)
        assert view.latest("U-3") is None
    finally:
        await avl.stop()
