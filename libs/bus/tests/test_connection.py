"""`flush`: a subscription made before it gets what another connection publishes after.

The race it guards against shows under CPU contention, so the test makes some: with
nats-py's own `Client.flush` in its place, 70 and more of the 200 rounds missed with
two busy loops on this 2-core machine; on a quiet machine it rarely shows."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from icc_bus import flush
from icc_testing import NatsServer

ROUNDS = 200


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """One busy loop per core for the test's few seconds."""
    loops = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


@pytest.mark.usefixtures("busy_cpus")
async def test_a_subscription_flushed_gets_the_next_publish(
    nats_server: NatsServer, nats_client: Client
) -> None:
    publisher = await nats.connect(nats_server.url)
    missed = []
    try:
        for n in range(ROUNDS):
            got = asyncio.Event()

            async def on_msg(_msg: Msg, got: asyncio.Event = got) -> None:
                got.set()

            # A queue group: a message with no member yet is dropped, never held back.
            sub = await nats_client.subscribe(f"icc.test.flush.{n}", queue="q", cb=on_msg)
            await flush(nats_client)
            await publisher.publish(f"icc.test.flush.{n}", b"x")
            await flush(publisher)
            try:
                async with asyncio.timeout(2):
                    await got.wait()
            except TimeoutError:
                missed.append(n)
            await sub.unsubscribe()
    finally:
        await publisher.close()
    assert not missed, f"{len(missed)} of {ROUNDS} subscriptions missed the publish after them"
