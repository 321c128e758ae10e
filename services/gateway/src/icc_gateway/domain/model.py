"""What the picture holds, in the shapes of API.md: incidents, units and hospitals as every
screen is shown them, a change of one of them, and the whole picture at a cursor.

Declared once: the feed builds these from the services' messages (icc_gateway.convert), the
picture keeps them, and the HTTP API and the SSE stream serialize these very objects (their
OpenAPI schemas are these classes). They are frozen: the picture replaces an item with a
changed copy, so a change already sent never changes under a screen's feet.

Ids are bare (`9f3c...`, never `incidents/9f3c...`), enums are the contract's names
(names.py), times ISO 8601 UTC strings (`...Z`) or None. Nothing here carries personal
data: no caller, no notes.
"""

import time
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from icc_gateway.domain.names import (
    AgencyName,
    AssignmentStateName,
    CallLineName,
    DiversionName,
    IncidentStateName,
    UnitKindName,
    UnitStatusName,
)
from icc_kernel.vocabulary import Priority

Id = str
Kind = Literal["incident", "unit", "hospital"]
Op = Literal["upsert", "remove"]


class Shape(BaseModel):
    """A value of the API: immutable once made."""

    model_config = ConfigDict(frozen=True)


def iso_time(seconds: int, nanos: int = 0) -> str:
    """`...T08:15:02.123Z`: UTC to the millisecond, as every time of the API is written."""
    if not 0 <= nanos < 1_000_000_000:
        raise ValueError(f"a timestamp's nanos out of range: {nanos}")
    # time.strftime over gmtime: the same text as datetime's, four times as fast (hot path).
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{nanos // 1_000_000:03d}Z"


def to_json(value: Shape) -> bytes:
    """Compact UTF-8 JSON, non-ASCII characters as they are."""
    return value.__pydantic_serializer__.to_json(value)


class IncidentAssignment(Shape):
    id: Id
    unit: Id
    call_sign: str
    agency: AgencyName | None
    kind: UnitKindName | None
    state: AssignmentStateName | None
    assign_time: str | None
    release_time: str | None = None
    escalated: bool = Field(
        default=False, description="Released because the unit did not acknowledge in time"
    )


class Incident(Shape):
    """An incident in the picture: no personal data."""

    id: Id
    type_code: str
    priority: Priority | None
    state: IncidentStateName | None
    lat: float
    lon: float
    address: str
    ward: str
    agencies: list[AgencyName]
    description: str
    exercise: bool
    create_time: str | None
    first_dispatch_time: str | None
    first_on_scene_time: str | None
    close_time: str | None
    etag: str
    assignments: list[IncidentAssignment]
    call_line: CallLineName | None = Field(None, description="The line the first call came in on")
    caller_count: int = Field(1, description="How many callers called about it")


class Unit(Shape):
    id: Id
    call_sign: str
    agency: AgencyName | None
    kind: UnitKindName | None
    status: UnitStatusName | None
    lat: float | None
    lon: float | None
    station: Id | None
    incident: Id | None = Field(description="The incident it is held for, or null")
    update_time: str | None = Field(description="When its status last changed")
    position_time: str | None = Field(
        default=None, description="When its shown position was taken; null: it never reported one"
    )


class Hospital(Shape):
    id: Id
    name_vi: str
    name_en: str
    lat: float
    lon: float
    diversion: DiversionName | None
    beds_available: int = Field(description="Free emergency beds")


class Removed(Shape):
    id: Id


class Change(Shape):
    """The `data` of an SSE `change` event; its `id` is `cursor`."""

    cursor: int = Field(exclude=True)
    kind: Kind
    op: Op
    item: Incident | Unit | Hospital | Removed

    @cached_property
    def data(self) -> bytes:
        """This change as JSON, made once however many screens get it."""
        return to_json(self)


class Snapshot(Shape):
    """The whole picture at `cursor` (the API's `Picture` without its `server_time`)."""

    cursor: int
    incidents: list[Incident]
    units: list[Unit]
    hospitals: list[Hospital]
