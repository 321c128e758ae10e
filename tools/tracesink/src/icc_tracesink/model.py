"""A finished span as the sink keeps it: ids in hex, attributes as plain JSON values."""

from dataclasses import dataclass, field
from typing import TypeAlias

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None

INCIDENT_ID = "icc.incident.id"
UNIT_ID = "icc.unit.id"


@dataclass(frozen=True)
class Link:
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class Event:
    """Something that happened during a span (an exception, a retry), kept whole: on-call
    engineers read them, and the PII guard searches them."""

    name: str
    time_ns: int
    attributes: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str | None
    service: str
    name: str
    kind: str  # INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER (UNSPECIFIED if not said)
    start_ns: int
    end_ns: int
    status_code: str = "UNSET"  # UNSET, OK or ERROR
    status_message: str = ""
    attributes: dict[str, JsonValue] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    links: tuple[Link, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.status_code == "ERROR"

    @property
    def incident_id(self) -> str | None:
        return _bare_id(self.attributes.get(INCIDENT_ID), "incidents/")

    @property
    def unit_id(self) -> str | None:
        return _bare_id(self.attributes.get(UNIT_ID), "units/")


def _bare_id(value: JsonValue, prefix: str) -> str | None:
    """The id alone: services tag the bare id, but a resource name must find the same spans."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None  # arrays and maps are not indexed
    return str(value).removeprefix(prefix) or None
