"""The bus against a real nats-server: streams, publishing, consumers and the DLQ."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import StreamConfig
from opentelemetry import trace

from icc_bus import (
    DLQ_STREAM,
    HEADER_INCIDENT_ID,
    HEADER_UNIT_IDS,
    ConsumerSpec,
    DurableConsumer,
    OutgoingEvent,
    PoisonMessage,
    ReceivedEvent,
    StreamSpec,
    build_headers,
    by_header,
    ensure_streams,
    flush,
    outgoing,
    publish_batch,
    publish_event,
)
from icc_bus import dlq as dlq_module
from icc_bus import progress as progress_module
from icc_bus.dlq import DLQ_DELIVERIES, DLQ_REASON, DLQ_SUBJECT
from icc_bus.pull import Puller
from icc_testing import RecordedMetrics

STREAM = StreamSpec(name="TEST", subjects=["icc.test.>"])


def event(n: int, subject: str = "icc.test.thing") -> OutgoingEvent:
    event_id = f"evt-{n}"
    return OutgoingEvent(
        event_id, subject, "test.Thing", str(n).encode(), build_headers(event_id, "test.Thing")
    )


async def wait_until(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def consuming(nats_client: Client, durable: str) -> AsyncIterator[list[ReceivedEvent]]:
    """A consumer of the test stream, started, keeping what it receives; stopped after."""
    seen: list[ReceivedEvent] = []

    async def keep(e: ReceivedEvent) -> None:
        seen.append(e)

    consumer = DurableConsumer(nats_client, ConsumerSpec("TEST", durable, "icc.test.>"), keep)
    consumer.start()
    try:
        yield seen
    finally:
        await consumer.stop()


async def test_ensure_streams_is_idempotent_and_applies_changes(nats_client: Client) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM, DLQ_STREAM])
    await ensure_streams(js, [STREAM, DLQ_STREAM])
    changed = StreamSpec(name="TEST", subjects=["icc.test.>"], duplicate_window_s=60)
    await ensure_streams(js, [changed])
    info = await js.stream_info("TEST")
    assert isinstance(info.config, StreamConfig)
    assert info.config.duplicate_window == 60


async def test_publish_carries_headers_and_same_id_is_dropped(
    nats_client: Client, spans: object
) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    first = await publish_event(js, event(1))
    again = await publish_event(js, event(1))
    assert not first.duplicate
    assert again.duplicate
    assert (await js.stream_info("TEST")).state.messages == 1
    msg = await js.get_msg("TEST", 1)
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == "evt-1"
    assert msg.headers["Icc-Event-Type"] == "test.Thing"
    assert msg.headers["traceparent"].startswith("00-")
    names = [s.name for s in spans.get_finished_spans()]  # type: ignore[attr-defined]
    assert "publish icc.test.thing" in names


async def test_poison_message_goes_to_dlq_and_consumer_keeps_going(nats_client: Client) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM, DLQ_STREAM])
    handled: list[bytes] = []

    async def handle(e: ReceivedEvent) -> None:
        if e.payload == b"2":
            raise PoisonMessage("payload 2 is malformed")
        handled.append(e.payload)

    consumer = DurableConsumer(
        nats_client, ConsumerSpec("TEST", "test-worker", "icc.test.>"), handle
    )
    consumer.start()
    try:
        for n in (1, 2, 3):
            await publish_event(js, event(n))
        await wait_until(lambda: handled == [b"1", b"3"])
        dlq = await js.pull_subscribe("icc.dlq.test-worker", stream="ICC_DLQ")
        [dead] = await dlq.fetch(1, timeout=5)
        assert dead.data == b"2"
        assert dead.headers is not None
        assert dead.headers[DLQ_REASON] == "poison: payload 2 is malformed"
        assert dead.headers[DLQ_SUBJECT] == "icc.test.thing"
        assert dead.headers["Nats-Msg-Id"].startswith("dlq:test-worker:")
    finally:
        await consumer.stop()


async def test_failing_handler_is_retried_then_dead_lettered(nats_client: Client) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM, DLQ_STREAM])
    attempts: dict[bytes, int] = {}
    handled: list[bytes] = []

    async def handle(e: ReceivedEvent) -> None:
        attempts[e.payload] = attempts.get(e.payload, 0) + 1
        if e.payload == b"1" and e.num_delivered < 2:
            raise LookupError("not there yet")  # recovers on the 2nd delivery
        if e.payload == b"2":
            raise RuntimeError("always fails")
        handled.append(e.payload)

    spec = ConsumerSpec("TEST", "flaky", "icc.test.>", backoff_s=[0.05, 0.05])
    consumer = DurableConsumer(nats_client, spec, handle)
    consumer.start()
    try:
        for n in (1, 2, 3):
            await publish_event(js, event(n))
        await wait_until(lambda: sorted(handled) == [b"1", b"3"] and attempts.get(b"2") == 3)
        dlq = await js.pull_subscribe("icc.dlq.flaky", stream="ICC_DLQ")
        [dead] = await dlq.fetch(1, timeout=5)
        assert dead.headers is not None
        assert dead.headers[DLQ_DELIVERIES] == "3"
        assert "RuntimeError" in dead.headers[DLQ_REASON]
        assert "always fails" not in dead.headers[DLQ_REASON]  # the text may hold data
        await asyncio.sleep(0.3)
        assert attempts[b"2"] == 3  # bounded: no fourth delivery
        assert attempts[b"1"] == 2
    finally:
        await consumer.stop()


async def test_consumer_survives_a_server_restart(nats_server: object, nats_client: Client) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    handled: list[bytes] = []

    async def handle(e: ReceivedEvent) -> None:
        handled.append(e.payload)

    consumer = DurableConsumer(nats_client, ConsumerSpec("TEST", "sturdy", "icc.test.>"), handle)
    consumer.start()
    try:
        await publish_event(js, event(1))
        await wait_until(lambda: handled == [b"1"])
        nats_server.restart()  # type: ignore[attr-defined]
        await publish_event(js, event(2))
        await wait_until(lambda: handled == [b"1", b"2"], timeout_s=20)
    finally:
        await consumer.stop()


async def test_connect_accepts_several_servers(nats_server: object) -> None:
    from icc_bus import BusConfig, connect

    url = nats_server.url  # type: ignore[attr-defined]
    nc = await connect(BusConfig(url=f"{url}, {url}"), name="test")
    try:
        assert nc.is_connected
    finally:
        await nc.close()


async def test_spans_name_the_incident_and_units_an_event_is_about(
    nats_client: Client, spans: object
) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    async with consuming(nats_client, "tagged") as seen:
        thing = StringValue(value="x")
        tagged = outgoing("icc.test.thing", "evt-t", thing, incident="i-9", units=["u-1", "u-2"])
        await publish_event(js, tagged)
        await wait_until(lambda: len(seen) == 1)
    assert seen[0].headers[HEADER_INCIDENT_ID] == "i-9"
    assert seen[0].headers[HEADER_UNIT_IDS] == "u-1,u-2"
    finished = {s.name: s for s in spans.get_finished_spans()}  # type: ignore[attr-defined]
    for name in ("publish icc.test.thing", "process icc.test.thing"):
        assert finished[name].attributes["icc.incident.id"] == "i-9"
        assert tuple(finished[name].attributes["icc.unit.id"]) == ("u-1", "u-2")


async def test_a_batch_goes_out_under_one_send_span_and_each_event_keeps_its_context(
    nats_client: Client, spans: object
) -> None:
    """Consumers continue the span that made each event; the one send span is the child
    of the first event's context and links to the others'."""
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    tracer = trace.get_tracer("test")
    made = []
    events = []
    for n in range(3):
        with tracer.start_as_current_span(f"request {n}") as span:
            made.append(span.get_span_context())
            events.append(outgoing("icc.test.thing", f"evt-b{n}", StringValue(value="x")))
    async with consuming(nats_client, "batched") as seen:
        assert await publish_batch(js, events) == [None, None, None]
        await wait_until(lambda: len(seen) == 3)
    finished = spans.get_finished_spans()  # type: ignore[attr-defined]
    sends = [s for s in finished if s.name == "send icc.test.thing"]
    assert len(sends) == 1
    send = sends[0]
    assert send.parent.span_id == made[0].span_id
    assert [link.context.span_id for link in send.links] == [c.span_id for c in made[1:]]
    assert send.attributes["messaging.batch.message_count"] == 3
    processed = [s for s in finished if s.name == "process icc.test.thing"]
    assert sorted(s.parent.span_id for s in processed) == sorted(c.span_id for c in made)


async def test_lag_and_dlq_depth_are_measured(
    nats_client: Client, metrics: RecordedMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dlq_module, "DLQ_DEPTH_EVERY_S", 0.1)
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM, DLQ_STREAM])
    for n in range(1, 6):
        await publish_event(js, event(n))
    handled: list[bytes] = []

    async def handle(e: ReceivedEvent) -> None:
        if e.payload in (b"2", b"4"):
            raise PoisonMessage("malformed")
        handled.append(e.payload)

    consumer = DurableConsumer(nats_client, ConsumerSpec("TEST", "measured", "icc.test.>"), handle)
    consumer.start()
    try:
        await wait_until(lambda: handled == [b"1", b"3", b"5"])
        labels = {"consumer": "measured"}
        await wait_until(lambda: metrics.gauge("icc.bus.dlq.depth", labels) == 2)
        assert metrics.gauge("icc.bus.consumer.lag", labels) == 0
        assert metrics.counter("icc.bus.dlq", labels) == 2
    finally:
        await consumer.stop()


async def test_puller_hands_on_each_message_at_once_and_keeps_a_request_open(
    nats_client: Client,
) -> None:
    """Messages come one by one as they arrive, also after the first request expired
    (a new one is always open), and are acknowledged like any JetStream message."""
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    spec = ConsumerSpec("TEST", "pulled", "icc.test.>")
    await js.add_consumer("TEST", spec.config())
    puller = Puller(nats_client, "TEST", "pulled")
    await puller.start()
    loop = asyncio.get_running_loop()
    try:
        with pytest.raises(NatsTimeoutError):
            await puller.next(batch=64, timeout_s=0.5)
        await publish_event(js, event(1))
        first = await puller.next(batch=64, timeout_s=0.5)
        await first.ack()
        # Quiet for several request lifetimes: a message must still find a request.
        quiet_until = loop.time() + 1.6
        while loop.time() < quiet_until:
            with contextlib.suppress(NatsTimeoutError):
                await puller.next(batch=64, timeout_s=0.5)
        await publish_event(js, event(2))
        sent = loop.time()
        second = await puller.next(batch=64, timeout_s=0.5)
        # Within the request that was open, not after it expired and another was made.
        assert loop.time() - sent < 0.5
        await second.ack()
    finally:
        await puller.stop()
    assert [first.data, second.data] == [b"1", b"2"]
    await flush(nats_client)  # the server has the acks
    info = await js.consumer_info("TEST", "pulled")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_messages_about_one_incident_keep_their_order_while_others_go_on(
    nats_client: Client,
) -> None:
    """A slow message holds up the later ones about the same incident, never those about
    another incident; and no more than `concurrency` are under way at once."""
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])

    def about(n: int, incident: str) -> OutgoingEvent:
        e = event(n)
        return OutgoingEvent(
            e.event_id,
            e.subject,
            e.event_type,
            e.payload,
            {**e.headers, HEADER_INCIDENT_ID: incident},
        )

    release_slow = asyncio.Event()
    order: list[bytes] = []
    running = 0
    most = 0

    async def handle(e: ReceivedEvent) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            if e.payload == b"1":
                await release_slow.wait()
            else:
                await asyncio.sleep(0.05)
            order.append(e.payload)
        finally:
            running -= 1

    # 1 and 2 are about incident a (1 is slow); 3 to 8 about incidents b to g.
    events = [about(1, "a"), about(2, "a")] + [about(n, f"i{n}") for n in range(3, 9)]
    spec = ConsumerSpec(
        "TEST", "lanes", "icc.test.>", concurrency=4, order_key=by_header(HEADER_INCIDENT_ID)
    )
    consumer = DurableConsumer(nats_client, spec, handle)
    consumer.start()
    try:
        for e in events:
            await publish_event(js, e)
        await wait_until(lambda: len(order) == 6)
        assert b"2" not in order  # waits behind 1, about the same incident
        release_slow.set()
        await wait_until(lambda: len(order) == 8)
    finally:
        await consumer.stop()
    assert order.index(b"1") < order.index(b"2")
    assert 2 < most <= 4


class _Outage(Exception):
    """A handler's own passing fault."""


async def test_a_transient_fault_is_retried_in_place_for_as_long_as_it_lasts(
    nats_client: Client,
) -> None:
    """An outage of several ack waits: the message is held in progress, handled once it
    is over, delivered once, never dead-lettered; the messages behind it keep their order."""
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM, DLQ_STREAM])
    outage_until = time.monotonic() + 3.0
    calls: list[tuple[bytes, int]] = []
    handled: list[bytes] = []

    async def handle(e: ReceivedEvent) -> None:
        calls.append((e.payload, e.num_delivered))
        if time.monotonic() < outage_until:
            raise _Outage("the database is away")
        handled.append(e.payload)

    # One order key: the messages behind the failing one wait for it.
    spec = ConsumerSpec(
        "TEST",
        "outage",
        "icc.test.>",
        ack_wait_s=1.0,
        backoff_s=[0.05],
        transient=(_Outage,),
        order_key=lambda e: "one",
    )
    consumer = DurableConsumer(nats_client, spec, handle)
    consumer.start()
    try:
        for n in (1, 2, 3):
            await publish_event(js, event(n))
        await wait_until(lambda: len(handled) == 3, timeout_s=15)
        assert handled == [b"1", b"2", b"3"]
        assert len([c for c in calls if c[0] == b"1"]) > 3  # retried in place
        assert {delivered for _, delivered in calls} == {1}  # never redelivered
        await asyncio.sleep(1.5)
        assert len(handled) == 3
        info = await js.stream_info(DLQ_STREAM.name)
        assert info.state.messages == 0
    finally:
        await consumer.stop()


async def test_a_handler_call_that_runs_too_long_is_stuck(
    nats_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress_module, "STUCK_AFTER_S", 0.5)
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM, DLQ_STREAM])
    release = asyncio.Event()

    async def handle(e: ReceivedEvent) -> None:
        await release.wait()

    consumer = DurableConsumer(
        nats_client, ConsumerSpec("TEST", "slow", "icc.test.>", ack_wait_s=1.0), handle
    )
    consumer.start()
    try:
        assert not consumer.stuck()
        await publish_event(js, event(1))
        await wait_until(consumer.stuck, timeout_s=5)
        release.set()
        await wait_until(lambda: not consumer.stuck(), timeout_s=5)
    finally:
        await consumer.stop()
