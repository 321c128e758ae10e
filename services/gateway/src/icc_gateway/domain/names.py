"""The contract's enums as the API spells them: by name (`"FIRE"`, `"EN_ROUTE"`).

The names come from `icc_kernel.vocabulary` and are never listed again here. A field typed
`AgencyName` holds one such name: validation accepts only the kernel's names (with the same
message as a `Literal`), and the OpenAPI document lists them.
"""

from enum import Enum
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from icc_kernel.reasons import ReasonCode
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
    UnitKind,
    UnitStatus,
)


class NameOf:
    """Pydantic metadata: a string that is a member name of `enum`."""

    def __init__(self, enum: type[Enum]) -> None:
        self.names = list(enum.__members__)

    def __get_pydantic_core_schema__(
        self, _source: Any, _handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.literal_schema(self.names)


AgencyName = Annotated[str, NameOf(Agency)]
IncidentStateName = Annotated[str, NameOf(IncidentState)]
AssignmentStateName = Annotated[str, NameOf(AssignmentState)]
UnitStatusName = Annotated[str, NameOf(UnitStatus)]
UnitKindName = Annotated[str, NameOf(UnitKind)]
DiversionName = Annotated[str, NameOf(Diversion)]
CallLineName = Annotated[str, NameOf(CallLine)]
CautionKindName = Annotated[str, NameOf(CautionKind)]
PlaceKindName = Annotated[str, NameOf(PlaceKind)]
DuplicateReasonName = Annotated[str, NameOf(DuplicateReason)]
EtaSourceName = Annotated[str, NameOf(EtaSource)]
ReasonCodeName = Annotated[str, NameOf(ReasonCode)]


def names(*members: Enum) -> frozenset[str]:
    return frozenset(m.name for m in members)


# Incidents that still need or have a response (the picture shows only these).
OPEN_STATES = frozenset(s.name for s in IncidentState if not s.terminal)
