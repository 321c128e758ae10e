"""Following a key-value bucket: every value already there, then each new one, for as
long as the watch runs (the unit positions the resources service keeps, for one)."""

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, NotFoundError

log = logging.getLogger(__name__)

T = TypeVar("T")


async def watch_bucket(
    js: JetStreamContext,
    bucket: str,
    parse: Callable[[bytes], T],
    on_value: Callable[[str, T], None],
    retry_s: float = 1.0,
) -> None:
    """Calls `on_value(key, parse(value))` for each value of `bucket`, until cancelled.

    A deleted value, or one `parse` cannot decode, is passed over. While the bucket does
    not exist yet (its owner has not started), and after any failure of the watch, it
    tries again every `retry_s`."""
    while True:
        try:
            kv = await js.key_value(bucket)
            watcher = await kv.watchall()
            async for entry in watcher:
                # None marks the end of the values already there.
                if entry is None or not entry.value:
                    continue
                try:
                    value = parse(entry.value)
                except DecodeError:
                    continue
                on_value(entry.key, value)
        except asyncio.CancelledError:
            raise
        except (BucketNotFoundError, NotFoundError):
            await asyncio.sleep(retry_s)
        except Exception as exc:
            log.warning(
                "bucket watch failed; restarting", extra={"bucket": bucket, "error": repr(exc)}
            )
            await asyncio.sleep(retry_s)
