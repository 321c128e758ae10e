"""The services' own view of JetStream: `icc.bus.jetstream.up` follows a real nats-server
going away and coming back (the alert on JetStream without a leader reads it)."""

import asyncio
import time
from collections.abc import Callable

import pytest
from nats.aio.client import Client

from icc_bus import (
    DLQ_STREAM,
    ConsumerSpec,
    DurableConsumer,
    ReceivedEvent,
    StreamSpec,
    ensure_streams,
)
from icc_bus import dlq as dlq_module
from icc_testing import NatsServer, RecordedMetrics

STREAM = StreamSpec(name="UPTEST", subjects=["icc.uptest.>"])


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_jetstream_up_drops_to_zero_while_the_server_is_away(
    nats_server: NatsServer,
    nats_client: Client,
    metrics: RecordedMetrics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dlq_module, "DLQ_DEPTH_EVERY_S", 0.1)
    await ensure_streams(nats_client.jetstream(), [STREAM, DLQ_STREAM])

    async def handle(_event: ReceivedEvent) -> None:
        return None

    consumer = DurableConsumer(
        nats_client, ConsumerSpec("UPTEST", "watched", "icc.uptest.>"), handle
    )
    labels = {"consumer": "watched"}
    consumer.start()
    try:
        await wait_until(lambda: metrics.gauge("icc.bus.jetstream.up", labels) == 1)
        await asyncio.to_thread(nats_server.stop)
        await wait_until(lambda: metrics.gauge("icc.bus.jetstream.up", labels) == 0)
        await asyncio.to_thread(nats_server.start)
        await wait_until(lambda: metrics.gauge("icc.bus.jetstream.up", labels) == 1)
    finally:
        await consumer.stop()
