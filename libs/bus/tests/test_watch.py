"""Following a key-value bucket against a real nats-server."""

import asyncio

from google.protobuf.wrappers_pb2 import StringValue
from nats.aio.client import Client

from icc_bus import cancel_and_wait, watch_bucket


async def wait_until(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_a_watch_waits_for_its_bucket_then_gets_old_and_new_values(
    nats_client: Client,
) -> None:
    js = nats_client.jetstream()
    seen: list[tuple[str, str]] = []
    watch = asyncio.create_task(
        watch_bucket(
            js,
            "TEST_WATCHED",
            StringValue.FromString,
            lambda key, value: seen.append((key, value.value)),
            retry_s=0.05,
        )
    )
    try:
        await asyncio.sleep(0.2)  # no bucket yet: the watch waits for it
        kv = await js.create_key_value(bucket="TEST_WATCHED")
        await kv.put("U-1", StringValue(value="one").SerializeToString())
        await wait_until(lambda: ("U-1", "one") in seen)
        await kv.put("U-2", b"\xff not a message")  # passed over
        await kv.delete("U-1")  # passed over
        await kv.put("U-3", StringValue(value="three").SerializeToString())
        await wait_until(lambda: ("U-3", "three") in seen)
        assert seen == [("U-1", "one"), ("U-3", "three")]
    finally:
        await cancel_and_wait(watch)
