"""Transient faults: what fails because something the work depends on is away for a while.

A database that does not answer or times out, the bus away, a dependency answering gRPC
`UNAVAILABLE` or `DEADLINE_EXCEEDED`: the same work succeeds once it is back, so a
consumer keeps the message and tries again for as long as the fault lasts
(`icc_bus.consumer`), and a gRPC server answers `UNAVAILABLE` with a retry hint
(`icc_rpc.server`). Anything else fails the same way every time: a message that keeps
failing so is dead-lettered.

`is_transient` is the one classification. It knows the kernel's `Transient`, the
network's and the bus's own errors and gRPC's codes; a library whose errors it cannot
import teaches it with `recognise` (`icc_storage.faults` teaches it the database's), and
a consumer names its handler's own transient errors in its `ConsumerSpec`.
"""

import asyncio
import errno
from collections.abc import Callable, Iterator, Sequence

import grpc
from nats import errors as nats_errors
from nats.js import errors as js_errors

from icc_kernel.errors import Transient

TransientTest = Callable[[BaseException], bool]

# The bus away, reconnecting, or JetStream without a leader (503) or its answer lost.
_BUS_AWAY: tuple[type[BaseException], ...] = (
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionReconnectingError,
    nats_errors.ConnectionDrainingError,
    nats_errors.NoServersError,
    nats_errors.NoRespondersError,
    nats_errors.StaleConnectionError,
    nats_errors.OutboundBufferLimitError,
    js_errors.ServiceUnavailableError,
    js_errors.NoStreamResponseError,
)
_RPC_RETRY = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
# OSError numbers of a peer out of reach (the rest, say a full disk, are not passing).
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
    }
)
_LEARNT: list[TransientTest] = []


def recognise(test: TransientTest) -> TransientTest:
    """Adds `test` to what `is_transient` knows (once per test); returns it, so it can
    decorate the function."""
    if test not in _LEARNT:
        _LEARNT.append(test)
    return test


def is_transient(exc: BaseException, declared: Sequence[type[BaseException]] = ()) -> bool:
    """Whether `exc`, or an exception it was raised from, is a passing infrastructure
    fault; `declared`: more exception types that are, for this caller."""
    return any(_one_is_transient(e, tuple(declared)) for e in _chain(exc))


def _one_is_transient(exc: BaseException, declared: tuple[type[BaseException], ...]) -> bool:
    if isinstance(exc, (Transient, *declared, *_BUS_AWAY)):
        return True
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return True
    if isinstance(exc, grpc.RpcError) and callable(getattr(exc, "code", None)):
        return exc.code() in _RPC_RETRY
    return any(test(exc) for test in _LEARNT)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it was raised from (`raise ... from`, a driver error's `orig`), each
    once. Not what it was raised *during*: an error made while handling a passing fault
    is its own."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = current.__cause__ or (orig if isinstance(orig, BaseException) else None)
