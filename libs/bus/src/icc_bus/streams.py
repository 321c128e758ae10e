"""Declaring JetStream streams from code, idempotently at start-up.

Every replica of a service declares its streams as it starts, and replicas start
together: on a cluster just formed the JetStream API may not answer yet (no meta leader:
a timeout, no responders, a 503) or refuse for a while (no peers for placement yet), and
two replicas may both look, find nothing and both create. Each stream is declared again
after such a refusal, with a growing wait, for up to `DECLARE_WITHIN_S`; then start-up
fails naming the stream.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field

from nats import errors as nats_errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, BadRequestError, NotFoundError, ServiceUnavailableError

log = logging.getLogger(__name__)

# How long a stream's declaration is tried again after a passing refusal.
DECLARE_WITHIN_S = 60.0
# A declaring request's wait for its answer (nats-py's default is 5 s): JetStream drops
# a request made before the cluster has a meta leader, and one asked again is answered.
DECLARE_TIMEOUT_S = 2.0
_FIRST_WAIT_S = 0.1
_LONGEST_WAIT_S = 2.0
# JetStream's own error codes (nats-server's errors.json).
_STREAM_NAME_IN_USE = 10058  # created meanwhile, with another configuration
# No peers for placement (the cluster has not seen them all yet), JetStream temporarily
# unavailable, the cluster cannot handle the request (no meta leader yet).
_NOT_READY = frozenset({10005, 10008, 10009})
_API_AWAY = (
    nats_errors.TimeoutError,
    nats_errors.NoRespondersError,
    nats_errors.ConnectionReconnectingError,
    nats_errors.StaleConnectionError,
)


class StreamNotDeclared(RuntimeError):
    """JetStream kept refusing a stream's declaration for `DECLARE_WITHIN_S`."""


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: list[str]
    # Window in which a repeated Nats-Msg-Id is dropped: must exceed the longest
    # time an outbox row can wait unpublished and be retried.
    duplicate_window_s: float = 15 * 60
    max_age_s: float = 30 * 24 * 3600
    max_msgs_per_subject: int = -1
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def config(self, replicas: int) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=self.description or None,
            subjects=self.subjects,
            retention=self.retention,
            storage=StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=self.duplicate_window_s,
            max_age=self.max_age_s,
            max_msgs_per_subject=self.max_msgs_per_subject,
            discard=DiscardPolicy.OLD,
        )


async def ensure_streams(
    js: JetStreamContext,
    specs: list[StreamSpec],
    replicas: int = 1,
    *,
    within_s: float = DECLARE_WITHIN_S,
) -> None:
    """Create each stream, or bring an existing one to the declared config."""
    for spec in specs:
        await ensure_stream(js, spec.config(replicas), within_s=within_s)


async def ensure_stream(
    js: JetStreamContext, config: StreamConfig, *, within_s: float = DECLARE_WITHIN_S
) -> None:
    """The stream `config` names exists with `config`, declared again while JetStream's
    refusals are passing ones, for up to `within_s`."""
    name = config.name or ""
    deadline = time.monotonic() + within_s
    wait = _FIRST_WAIT_S
    attempt = 1
    while True:
        try:
            await _declare(js, config)
            return
        except Exception as exc:
            if not _passing(exc):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise StreamNotDeclared(
                    f"stream {name} not declared within {within_s:g} s: {exc}"
                ) from exc
            log.warning(
                "stream %s not declared yet (attempt %d: %s); trying again",
                name,
                attempt,
                exc,
                extra={"stream": name, "attempt": attempt, "error": type(exc).__name__},
            )
            await asyncio.sleep(min(wait, left))
            wait = min(wait * 2, _LONGEST_WAIT_S)
            attempt += 1


async def _declare(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError as exc:
            # Another replica created it between our look and our add: as found.
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise
    await js.update_stream(config)


def _passing(exc: BaseException) -> bool:
    """A refusal that passes as the cluster forms or a leader is elected."""
    if isinstance(exc, (*_API_AWAY, ServiceUnavailableError)):
        return True
    if isinstance(exc, APIError):
        return exc.code == 503 or exc.err_code in _NOT_READY
    return False


DLQ_STREAM = StreamSpec(
    name="ICC_DLQ",
    subjects=["icc.dlq.>"],
    max_age_s=90 * 24 * 3600,
    description="Messages a consumer could not handle, with the reason in headers",
)
# A dead letter replayed goes to `icc.replay.<consumer>` (see `icc_bus.replay`); a double
# replay of one dead letter is dropped within the duplicate window.
REPLAY_STREAM = StreamSpec(
    name="ICC_REPLAY",
    subjects=["icc.replay.>"],
    max_age_s=7 * 24 * 3600,
    description="Dead letters replayed, each to the one consumer it came from",
)
