"""Protobuf at the edge: the conversions every service makes, typed once.

- times: `timestamp` (aware datetime -> `Timestamp`), `to_datetime` and `optional_time`
  (`Timestamp` -> aware UTC datetime; a time no calendar holds is a violation naming the
  field, never a crash);
- enums: one `EnumEdge` per contract enum (`AGENCY`, `PRIORITY`, ...) turns a kernel
  enum into the proto's value type (no cast at the call site) and a proto number back
  into the kernel enum, an unknown number being a violation naming the field;
- paging: `page_size` and opaque `encode_page_token` / `decode_page_token`;
- who and when: `actor_to_proto`, `event_metadata`.

Functions that check input append `Violation`s to the caller's list (so one answer names
every bad field) or raise `InvalidInput`; `to_rpc_error` turns either into
INVALID_ARGUMENT.
"""

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.resource.v1 import resource_pb2
from icc_kernel.actors import Actor
from icc_kernel.errors import InvalidInput, Violation
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CallLine,
    CautionKind,
    Diversion,
    DuplicateReason,
    IncidentState,
    PlaceKind,
    Priority,
    StationKind,
    UnitKind,
    UnitStatus,
)

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

E = TypeVar("E", bound=IntEnum)
V = TypeVar("V", bound=int)

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

# Paging (AIP-158): a page size within bounds, an opaque token the caller hands back.


def page_size(
    value: int, *, default: int, most: int, out: list[Violation], field: str = "page_size"
) -> int:
    """0 means `default`; more than `most` is cut to `most`; negative is a violation."""
    if value < 0:
        out.append(Violation(field, "must not be negative"))
    return min(value or default, most)


def encode_page_token(payload: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_page_token(token: str, field: str = "page_token") -> dict[str, Any]:
    """What `encode_page_token` encoded; InvalidInput naming `field` for anything else."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput.one(
            field, "not a token from a previous response; start without one"
        ) from exc
    if not isinstance(data, dict):
        raise InvalidInput.one(field, "not a token from a previous response; start without one")
    return data


# Who and when


def actor_to_proto(actor: Actor) -> common_pb2.Actor:
    return common_pb2.Actor(user=actor.user, agency=AGENCY.to_proto(actor.agency), role=actor.role)


def event_metadata(event_id: str, time: datetime, actor: Actor) -> common_pb2.EventMetadata:
    """The metadata every event carries: its id (the bus's dedupe key), when, who."""
    return common_pb2.EventMetadata(
        event_id=event_id, occur_time=timestamp(time), actor=actor_to_proto(actor)
    )
