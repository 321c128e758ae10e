"""Connecting to NATS with settings that survive server restarts."""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import nats
from nats.aio.client import Client

from icc_kernel.settings import whole

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BusConfig:
    url: str = "nats://127.0.0.1:4222"
    # JetStream replicas for streams this process declares (3 in a cluster).
    replicas: int = 1
    user: str | None = None
    password: str | None = None

    @property
    def servers(self) -> list[str]:
        """`url` may list several servers, comma-separated (a cluster's seeds)."""
        return [s.strip() for s in self.url.split(",") if s.strip()]

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "BusConfig":
        return cls(
            url=env.get("ICC_NATS_URL", cls.url),
            # JetStream keeps at most 5 copies of a stream.
            replicas=whole(env, "ICC_NATS_REPLICAS", 1, least=1, most=5),
            user=env.get("ICC_NATS_USER") or None,
            password=env.get("ICC_NATS_PASSWORD") or None,
        )


async def connect(config: BusConfig, name: str) -> Client:
    """Connect, retrying forever on loss.

    The default ping interval (2 min, 2 outstanding) would take minutes to notice
    a dead server; 5 s x 3 notices within ~15 s.
    """

    async def on_disconnect() -> None:
        log.warning("nats disconnected", extra={"nats_url": config.url})

    async def on_reconnect() -> None:
        log.info("nats reconnected", extra={"nats_url": config.url})

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def on_closed() -> None:
        log.info("nats connection closed")

    return await nats.connect(
        config.servers,
        name=name,
        user=config.user,
        password=config.password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        ping_interval=5,
        max_outstanding_pings=3,
        connect_timeout=5,
        allow_reconnect=True,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
        closed_cb=on_closed,
    )


async def flush(nc: Client) -> None:
    """Returns once the server has processed everything this client sent before the call.

    nats-py's `Client.flush` (2.16) writes its PING straight to the socket, ahead of
    commands still queued for the client's flusher task (a SUB just made, PUBs just
    sent). Its PONG can then come back before the server has seen them, and a
    subscription thought ready misses what another connection publishes next. While
    the first flush waits for its PONG the flusher writes the queue (it was woken
    before the PING went out); the second PING goes behind it.
    """
    await nc.flush()
    await nc.flush()
