"""Hostile gRPC requests built from the descriptors a server reflects, and their answers.

`discover` lists every method of every service a server names through reflection (its
own, health and reflection itself) with the message classes built from the reflected
file descriptors. `bodies` is a hypothesis strategy of what a hostile client may send to
one method: messages filled from the descriptor (`rpc_fuzz_values`), requests for the
next page with their token kept or forged, and raw bytes that are no valid message
(random, bad UTF-8 in a string field, truncated). `call` sends them with the raw-bytes
serializer and returns the status code; `Tally` counts codes by method.
"""

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from hypothesis import strategies as st

from tests.rpc_fuzz_values import Known, messages, next_pages, weighted

# The answers a client may get for what it sent (the documented statuses). A server
# stream that has nothing to say ends at the deadline the fuzzer sets itself. Not
# UNAVAILABLE: the database and the bus stay up, so it would mean that input took a
# service down (or made it think so).
DOCUMENTED = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        # A method a server reflects but does not serve (the health servicer's List).
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
STREAM_WINDOW_S = 0.25
UNARY_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Method:
    target: str
    path: str  # /package.Service/Method
    request: type[Message]
    response: type[Message]
    client_streaming: bool
    server_streaming: bool

    @property
    def label(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def discover(target: str, credentials: grpc.ChannelCredentials) -> list[Method]:
    """Every method of every service the server at `target` reflects (over mutual TLS)."""
    with grpc.secure_channel(target, credentials) as channel:
        db = ProtoReflectionDescriptorDatabase(channel)
        pool = descriptor_pool.DescriptorPool(db)
        found = []
        for service_name in db.get_services():
            service = pool.FindServiceByName(service_name)
            for m in service.methods:
                found.append(_method(target, service_name, m))
        return found


def _method(target: str, service: str, m: MethodDescriptor) -> Method:
    return Method(
        target,
        f"/{service}/{m.name}",
        message_factory.GetMessageClass(m.input_type),
        message_factory.GetMessageClass(m.output_type),
        m.client_streaming,
        m.server_streaming,
    )


# Bytes that are no valid message


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


_BAD_UTF8 = [b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"a\x80"]


def _bad_utf8(desc: Descriptor) -> st.SearchStrategy[bytes]:
    """A string field (of the message, or any field number) holding invalid UTF-8."""
    numbers = [f.number for f in desc.fields if f.type == FieldDescriptor.TYPE_STRING] or [1]
    return st.tuples(st.sampled_from(numbers), st.sampled_from(_BAD_UTF8)).map(
        lambda t: _varint(t[0] << 3 | 2) + _varint(len(t[1])) + t[1]
    )


def raw_bodies(desc: Descriptor, known: Known) -> st.SearchStrategy[bytes]:
    valid = messages(desc, known).map(lambda m: m.SerializeToString())
    return st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"\x0a\x02\xff\xfe", b"\x0a\xff\xff\xff\xff\x0f", b"\x08", b"\xff"]),
        _bad_utf8(desc),
        st.tuples(valid, _bad_utf8(desc)).map(lambda t: t[0] + t[1]),
        valid.filter(lambda b: len(b) > 1).map(lambda b: b[:-1]),
    )


def bodies(method: Method, known: Known) -> st.SearchStrategy[bytes]:
    desc = method.request.DESCRIPTOR
    as_message = messages(desc, known).map(lambda m: m.SerializeToString())
    if not {"page_token", "cursor"} & set(desc.fields_by_name):
        return weighted((3, as_message), (1, raw_bodies(desc, known)))
    return weighted(
        (2, as_message), (1, raw_bodies(desc, known)), (3, next_pages(method.path, known))
    )


_CALLER = [("icc-user", "fuzzer"), ("icc-agency", "COMMAND_CENTER"), ("icc-role", "supervisor")]
# Only values a gRPC client sends (printable ASCII): the client itself refuses the rest.
_META_VALUES = st.sampled_from(["FIRE", "agency_police", "NOPE", "", "x" * 300, "a b"])
# Who calls: mostly a caller every service accepts.
metadata = weighted(
    (3, st.just(_CALLER)),
    (1, st.lists(st.tuples(st.sampled_from([k for k, _ in _CALLER]), _META_VALUES), max_size=3)),
)


# Calls

# What a plain answer never holds: an exception's class, a traceback.
_EXCEPTION_NAME = re.compile(r"<class '|\b[A-Z]\w*(Error|Exception)\b|Traceback")
_BAD = ("UNKNOWN", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "EXCEPTION_IN_MESSAGE")


@dataclass
class Tally:
    """Answers by method and status code, and the calls answered outside `DOCUMENTED`."""

    codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    offending: list[str] = field(default_factory=list)
    # The first answer's message of each method and status, for the report.
    samples: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: int = 0

    def add(self, method: Method, code: grpc.StatusCode, detail: str, body: bytes) -> None:
        self.calls += 1
        self.codes[(method.label, code.name)] += 1
        self.samples[(method.label, code.name)] = detail[:100]
        allowed = code in DOCUMENTED or (
            code is grpc.StatusCode.DEADLINE_EXCEEDED and method.server_streaming
        )
        plain = not _EXCEPTION_NAME.search(detail)
        if not plain:
            self.codes[(method.label, "EXCEPTION_IN_MESSAGE")] += 1
        if not (allowed and plain) and len(self.offending) < 30:
            self.offending.append(f"{method.path} {code.name} {detail[:160]!r} <- {body[:80]!r}")

    def bad(self) -> Counter[tuple[str, str]]:
        return Counter({k: n for k, n in self.codes.items() if k[1] in _BAD})

    def table(self) -> str:
        return "\n".join(
            f"{m:40} {c:20} {n:6} {self.samples.get((m, c), '')!r}"
            for (m, c), n in sorted(self.codes.items())
        )


def call(
    channel: grpc.Channel,
    method: Method,
    bodies_: Sequence[bytes],
    meta: Sequence[tuple[str, str]],
    known: Known,
) -> tuple[grpc.StatusCode, str]:
    """Send `bodies_` (one for a unary request) and return the status with its message."""
    try:
        if method.client_streaming and method.server_streaming:
            replies: Iterator[bytes] = channel.stream_stream(method.path)(
                iter(bodies_), timeout=STREAM_WINDOW_S, metadata=meta
            )
            _drain(replies, method, known)
        elif method.client_streaming:
            reply = channel.stream_unary(method.path)(
                iter(bodies_), timeout=UNARY_TIMEOUT_S, metadata=meta
            )
            _keep(reply, method, known)
        elif method.server_streaming:
            replies = channel.unary_stream(method.path)(
                bodies_[0], timeout=STREAM_WINDOW_S, metadata=meta
            )
            _drain(replies, method, known, bodies_[0])
        else:
            reply = channel.unary_unary(method.path)(
                bodies_[0], timeout=UNARY_TIMEOUT_S, metadata=meta
            )
            _keep(reply, method, known, bodies_[0])
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""  # type: ignore[attr-defined]
    return grpc.StatusCode.OK, ""


def _drain(replies: Iterator[bytes], method: Method, known: Known, body: bytes = b"") -> None:
    for reply in replies:
        _keep(reply, method, known, body)


def _keep(reply: bytes, method: Method, known: Known, body: bytes = b"") -> None:
    """What a client learns from an answer: names, etags, tokens, the next page."""
    try:
        answer = method.response.FromString(reply)
        known.harvest(answer)
        if body:
            known.follow(method.path, method.request.FromString(body), answer)
    except DecodeError:
        pass
