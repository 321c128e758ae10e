"""Protobuf at the edge: the conversions every service makes, typed once.

- times: `timestamp` (aware datetime -> `Timestamp`), `to_datetime` and `optional_time`
  (`Timestamp` -> aware UTC datetime; a time no calendar holds is a violation naming the
  field, never a crash);
- enums: one `EnumEdge` per contract enum (`AGENCY`, `PRIORITY`, ...) turns a kernel
  enum into the proto's value type (no cast at the call site) and a proto number back
  into the kernel enum, an unknown number being a violation naming the field;
- paging: `page_size`, and page tokens and watch cursors: `encode_page_token` /
  `decode_page_token`, signed with `ICC_TOKEN_KEY` (`token_key_from_env`, `use_token_key`);
  `page_of` cuts a page (and its next page's token) from one more item than it holds;
- who and when: `actor_to_proto`, `event_metadata`;
- reasons (`icc_kernel.reasons`): `reasons_to_proto`, `reasons_from_proto`.

Functions that check input append `Violation`s to the caller's list (so one answer names
every bad field) or raise `InvalidInput`; `to_rpc_error` turns either into
INVALID_ARGUMENT.
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.resource.v1 import resource_pb2
from icc_kernel.actors import Actor
from icc_kernel.errors import InvalidInput, Violation
from icc_kernel.reasons import Reason, ReasonCode
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CallLine,
    CautionKind,
    Diversion,
    DuplicateReason,
    EtaSource,
    IncidentState,
    PlaceKind,
    Priority,
    StationKind,
    UnitKind,
    UnitStatus,
)

if TYPE_CHECKING:
    from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

E = TypeVar("E", bound=IntEnum)
V = TypeVar("V", bound=int)
T = TypeVar("T")

# Times


def timestamp(value: datetime) -> Timestamp:
    """An aware datetime (a naive one is taken as UTC) as a protobuf Timestamp."""
    out = Timestamp()
    out.FromDatetime(value)
    return out


def timestamp_or_none(value: datetime | None) -> Timestamp | None:
    return None if value is None else timestamp(value)


def to_datetime(value: Timestamp, field: str) -> datetime:
    """The aware UTC datetime of a Timestamp; InvalidInput naming `field` for one that
    no calendar holds (seconds beyond year 9999, nanos out of range)."""
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput.one(field, "not a valid time") from exc


def optional_time(message: Message, name: str, field: str, out: list[Violation]) -> datetime | None:
    """`message.<name>` as a datetime; None when unset or invalid (then a violation)."""
    if not message.HasField(name):
        return None
    try:
        return to_datetime(getattr(message, name), field)
    except InvalidInput as exc:
        out.extend(exc.violations)
        return None


# Enums


class EnumEdge(Generic[E, V]):
    """A kernel enum and the proto enum with the same numbers (the kernel's tests hold it).

    `to_proto` is typed with the proto's value type, so message constructors take it
    without a cast; the `from_proto` family checks numbers a caller sent.
    """

    def __init__(self, domain: type[E], proto: "_EnumTypeWrapper[V]") -> None:
        self.domain = domain
        self._members = {int(m): m for m in domain}
        # `UnitStatus` -> "unit status", for messages.
        self.noun = re.sub(r"(?<!^)(?=[A-Z])", " ", domain.__name__).lower()
        self.choices = ", ".join(m.name for m in domain)
        # The numbers are equal, so the conversion is int() itself: messages are built
        # on every answer and event, and a method of ours would cost a call per value.
        self.to_proto = cast("Callable[[E], V]", int)

    def optional(self, value: E | None) -> V:
        """None as the proto's unspecified (0)."""
        return cast("V", 0 if value is None else int(value))

    def to_protos(self, values: Iterable[E]) -> list[V]:
        return cast("list[V]", list(map(int, values)))

    def from_proto(self, number: int, field: str, out: list[Violation]) -> E | None:
        """0 (unspecified) is None; an unknown number is a violation (and None)."""
        if number == 0:
            return None
        member = self._members.get(number)
        if member is None:
            out.append(Violation(field, f"unknown {self.noun} {number}; one of {self.choices}"))
        return member

    def required(self, number: int, field: str, out: list[Violation]) -> E | None:
        """Like `from_proto`, but unspecified is a violation too."""
        if number == 0:
            out.append(Violation(field, f"required: one of {self.choices}"))
            return None
        return self.from_proto(number, field, out)

    def from_protos(self, numbers: Iterable[int], field: str, out: list[Violation]) -> list[E]:
        """A repeated field, each item required (`field[n]` names a bad one)."""
        found = []
        for n, number in enumerate(numbers):
            member = self.required(number, f"{field}[{n}]", out)
            if member is not None:
                found.append(member)
        return found


AGENCY = EnumEdge(Agency, common_pb2.Agency)
PRIORITY = EnumEdge(Priority, common_pb2.Priority)
ASSIGNMENT_STATE = EnumEdge(AssignmentState, common_pb2.AssignmentState)
INCIDENT_STATE = EnumEdge(IncidentState, incident_pb2.IncidentState)
CALL_LINE = EnumEdge(CallLine, incident_pb2.CallLine)
DUPLICATE_REASON = EnumEdge(DuplicateReason, incident_pb2.DuplicateReason)
CAUTION_KIND = EnumEdge(CautionKind, incident_pb2.CautionKind)
PLACE_KIND = EnumEdge(PlaceKind, incident_pb2.PlaceKind)
UNIT_KIND = EnumEdge(UnitKind, resource_pb2.UnitKind)
UNIT_STATUS = EnumEdge(UnitStatus, resource_pb2.UnitStatus)
STATION_KIND = EnumEdge(StationKind, resource_pb2.StationKind)
DIVERSION = EnumEdge(Diversion, resource_pb2.DiversionStatus)
ETA_SOURCE = EnumEdge(EtaSource, common_pb2.EtaSource)
REASON_CODE = EnumEdge(ReasonCode, common_pb2.ReasonCode)

# Paging (AIP-158): a page size within bounds, an opaque token the caller hands back.


def page_size(
    value: int, *, default: int, most: int, out: list[Violation], field: str = "page_size"
) -> int:
    """0 means `default`; more than `most` is cut to `most`; negative is a violation."""
    if value < 0:
        out.append(Violation(field, "must not be negative"))
    return min(value or default, most)


# Page tokens and watch cursors: opaque to callers, signed with an HMAC under a key the
# replicas of a service share (`ICC_TOKEN_KEY`), so that one made by any replica is taken
# by every other, and one a caller made up or changed is refused. A token says which
# request it continues (its kind: the RPC; its scope: a fingerprint of the filters or the
# parent) and where the last page ended (its position: bounded numbers and texts).

TOKEN_KEY_VARIABLE = "ICC_TOKEN_KEY"
_TOKEN_VERSION = 1
_MIN_KEY_CHARS = 32
# Longer than any token a service makes (a time, an id and the fingerprint of a filter).
_MAX_TOKEN_CHARS = 512
_MAX_TEXT = 128
_MAX_NUMBER = 2**63 - 1  # SQL BIGINT, JetStream sequences
_MAX_VALUES = 4
_MAC_BYTES = 16
_signing_key: bytes | None = None

log = logging.getLogger(__name__)

Position = tuple[int | str, ...]


def token_key_from_env(env: Mapping[str, str]) -> bytes | None:
    """`ICC_TOKEN_KEY` as the signing key; None when unset in a local environment (the
    process then makes its own); ValueError when unset elsewhere (replicas would refuse
    each other's tokens) or too short to be a secret."""
    raw = env.get(TOKEN_KEY_VARIABLE, "")
    if raw:
        if len(raw) < _MIN_KEY_CHARS:
            raise ValueError(
                f"{TOKEN_KEY_VARIABLE} must be at least {_MIN_KEY_CHARS} characters "
                "(`openssl rand -hex 32` makes one)"
            )
        return raw.encode()
    environment = env.get("ICC_ENVIRONMENT", "local")
    if environment == "local":
        return None
    raise ValueError(
        f"{TOKEN_KEY_VARIABLE} is not set (ICC_ENVIRONMENT={environment}): each replica "
        "would sign page tokens and cursors with a key of its own and refuse the others'. "
        "Give every replica the same secret (`openssl rand -hex 32` makes one)"
    )


def use_token_key(key: bytes | None) -> None:
    """Sign and check this process's tokens with `key`; None: a random key of its own."""
    global _signing_key
    if key is None:
        log.warning(
            f"{TOKEN_KEY_VARIABLE} is not set: page tokens and cursors of this process "
            "are refused by any other"
        )
        key = secrets.token_bytes(32)
    _signing_key = key


def _key() -> bytes:
    if _signing_key is None:  # a process not started by run_service (tests, tools)
        use_token_key(token_key_from_env(os.environ))
    assert _signing_key is not None
    return _signing_key


def _mac(payload: bytes) -> bytes:
    return hmac.new(_key(), payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _fingerprint(scope: object) -> str:
    """Equal for equal scopes: a string, or a frozen dataclass of filters (its repr)."""
    text = scope if isinstance(scope, str) else repr(scope)
    return _b64(hashlib.sha256(text.encode()).digest()[:9])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    """Strict: only the URL-safe alphabet (binascii.Error for anything else)."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def encode_page_token(kind: str, position: Position, scope: object = "") -> str:
    """A token for where a page (or a watch) of `kind` ended, for the request `scope`
    stands for (its filters as a frozen dataclass, its parent's name): what
    `decode_page_token` takes back for the same kind and scope."""
    payload = json.dumps(
        [_TOKEN_VERSION, kind, _fingerprint(scope), *position], separators=(",", ":")
    ).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def page_of(
    found: list[T], size: int, kind: str, position: Callable[[T], Position], scope: object = ""
) -> tuple[list[T], str]:
    """A page of `kind` out of the items read for it, one more than `size` read to know
    whether another page follows: up to `size` of them, and the next page's token (where
    the last one stands: `position(last)`; "" when no page follows)."""
    if len(found) <= size:
        return found, ""
    page = found[:size]
    return page, encode_page_token(kind, position(page[-1]), scope=scope)


@dataclass(frozen=True)
class PagePosition:
    """Where the previous page ended, as its token carried it: `number(i)` and `text(i)`
    are the i-th value, refused (naming the field) when it is not of that type."""

    values: Position
    field: str

    def number(self, index: int) -> int:
        value = self.values[index] if index < len(self.values) else None
        if not isinstance(value, int):
            raise _refused(self.field)
        return value

    def text(self, index: int) -> str:
        value = self.values[index] if index < len(self.values) else None
        if not isinstance(value, str):
            raise _refused(self.field)
        return value


def _refused(field: str, why: str = "not one from a previous response") -> InvalidInput:
    return InvalidInput.one(field, f"{why}; start without one")


def decode_page_token(
    token: str, kind: str, *, scope: object = "", field: str = "page_token"
) -> PagePosition:
    """Where the page `token` continues ended; InvalidInput naming `field` for anything
    else: garbage, a token changed or made up (or signed with another key), of another
    RPC, another filter or parent, another version, or holding values out of bounds."""
    payload = _verified(token, field)
    try:
        data = json.loads(payload)
    except ValueError as exc:  # signed by us, so never; but checked all the same
        raise _refused(field) from exc
    if not isinstance(data, list) or len(data) < 3 or data[0] != _TOKEN_VERSION:
        raise _refused(field, "made by another version of the service")
    if data[1] != kind:
        raise _refused(field, f"a token of {str(data[1])[:40]}, not of {kind}")
    if data[2] != _fingerprint(scope):
        raise _refused(field, "made for other filters or another parent than this request's")
    values = tuple(data[3:])
    if len(values) > _MAX_VALUES or not all(_bounded(v) for v in values):
        raise _refused(field)
    return PagePosition(values, field)


def _verified(token: str, field: str) -> bytes:
    """The payload of a token this deployment signed."""
    body, dot, mac = token.partition(".")
    if not dot or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
        raise _refused(field)
    try:
        payload, signature = _unb64(body), _unb64(mac)
    except (ValueError, binascii.Error) as exc:
        raise _refused(field) from exc
    if not hmac.compare_digest(signature, _mac(payload)):
        raise _refused(field, "damaged, made up, or from another deployment")
    return payload


def _bounded(value: object) -> bool:
    if isinstance(value, bool):  # json's true is an int to Python
        return False
    if isinstance(value, int):
        return 0 <= value <= _MAX_NUMBER
    return isinstance(value, str) and len(value) <= _MAX_TEXT


# Who and when


def actor_to_proto(actor: Actor) -> common_pb2.Actor:
    return common_pb2.Actor(user=actor.user, agency=AGENCY.to_proto(actor.agency), role=actor.role)


def event_metadata(event_id: str, time: datetime, actor: Actor) -> common_pb2.EventMetadata:
    """The metadata every event carries: its id (the bus's dedupe key), when, who."""
    return common_pb2.EventMetadata(
        event_id=event_id, occur_time=timestamp(time), actor=actor_to_proto(actor)
    )


# Reasons


def add_reasons(
    field: "RepeatedCompositeFieldContainer[common_pb2.Reason]", reasons: Iterable[Reason]
) -> None:
    """Appends the reasons to a message's repeated field, built in place: building them
    apart and handing them to the message's constructor copies each (a recommendation
    has a hundred)."""
    for r in reasons:
        params = field.add(code=REASON_CODE.to_proto(r.code)).params
        # Item by item: four times cheaper than `params=dict(...)`.
        for key, value in r.params:
            params[key] = value


def reasons_to_proto(reasons: Iterable[Reason]) -> list[common_pb2.Reason]:
    out = []
    for r in reasons:
        message = common_pb2.Reason(code=REASON_CODE.to_proto(r.code))
        params = message.params
        for key, value in r.params:
            params[key] = value
        out.append(message)
    return out


def reason_to_proto(reason: Reason | None) -> common_pb2.Reason | None:
    return None if reason is None else reasons_to_proto([reason])[0]


_REASON_CODES = frozenset(int(c) for c in ReasonCode)


def reasons_from_proto(items: Iterable[common_pb2.Reason]) -> list[Reason]:
    """The reasons another service sent; a code this version does not know is left out."""
    return [
        Reason(ReasonCode(r.code), tuple(sorted(r.params.items())))
        for r in items
        if r.code in _REASON_CODES
    ]
