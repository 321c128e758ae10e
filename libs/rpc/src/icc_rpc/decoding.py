"""Requests whose bytes are no valid message, answered INVALID_ARGUMENT on every kind of RPC.

gRPC's aio server decodes a unary request before any servicer or interceptor code runs:
a decoding error there is answered UNKNOWN, with the exception's class in the message;
in a client stream it surfaces in the servicer's loop and would be answered INTERNAL.
So the server gives each method a `tolerant` deserializer that hands back an
`Undecodable` in place of the message, and the interceptor answers it (`check`) or
raises it from the stream it reads (`checked_stream`): one answer for all of them.
"""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from icc_rpc.errors import FieldViolation, RpcError

Deserializer = Callable[[bytes], Any]


@dataclass(frozen=True)
class Undecodable:
    """What a request's bytes decoded to when they are no valid message."""

    message_type: str
    reason: str

    def error(self) -> RpcError:
        return RpcError.invalid(
            [FieldViolation("request", f"not a valid {self.message_type}: {self.reason}")]
        )


def _reason(exc: Exception) -> str:
    """Plain words for protobuf's decoding errors (whose text names the type and, for
    other implementations, may quote bytes); never the exception's class."""
    text = str(exc)
    if "UTF-8" in text or isinstance(exc, UnicodeDecodeError):
        return "a string field is not valid UTF-8"
    return "the wire format is corrupt or truncated"


def tolerant(deserializer: Deserializer | None) -> Deserializer | None:
    """`deserializer`, returning an `Undecodable` where it would raise."""
    if deserializer is None:
        return None
    owner = getattr(deserializer, "__self__", None)  # `Message.FromString` of a class
    descriptor = getattr(owner, "DESCRIPTOR", None)
    name = getattr(descriptor, "full_name", "message")

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # DecodeError, and whatever a hand-written one raises
            return Undecodable(name, _reason(exc))

    return decode


def check(request: Any) -> Any:
    """The request as decoded; `RpcError` (INVALID_ARGUMENT) for an `Undecodable`."""
    if isinstance(request, Undecodable):
        raise request.error()
    return request


async def checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A client stream as decoded, raising `RpcError` at its first undecodable message."""
    async for request in requests:
        yield check(request)
