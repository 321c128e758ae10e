"""The contract's enums, once. Each value equals its protobuf number (the kernel's tests
compare them with the descriptors), so a conversion is `Enum(proto_value)` either way."""

from enum import IntEnum


class Agency(IntEnum):
    # icc.common.v1.Agency
    POLICE = 1
    FIRE = 2
    MEDICAL = 3
    COMMAND_CENTER = 4
    UTILITY = 5


class Priority(IntEnum):
    # icc.common.v1.Priority: P1 is the most urgent.
    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4


class AssignmentState(IntEnum):
    # icc.common.v1.AssignmentState; the order is the only way forward.
    PROPOSED = 1
    ASSIGNED = 2
    ACKNOWLEDGED = 3
    RELEASED = 4


class IncidentState(IntEnum):
    # icc.incident.v1.IncidentState
    NEW = 1
    DISPATCHED = 2
    EN_ROUTE = 3
    ON_SCENE = 4
    CLOSED = 5
    MERGED = 6
    CANCELLED = 7

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({IncidentState.CLOSED, IncidentState.MERGED, IncidentState.CANCELLED})


class CallLine(IntEnum):
    # icc.incident.v1.CallLine: the line a call came in on.
    EMERGENCY_112 = 1
    POLICE_113 = 2
    FIRE_114 = 3
    MEDICAL_115 = 4
    PARTNER = 5
    OTHER = 6


class DuplicateReason(IntEnum):
    # icc.incident.v1.DuplicateReason: why an incident may be a new call's event.
    NEARBY = 1
    SAME_PHONE = 2


class CautionKind(IntEnum):
    # icc.incident.v1.CautionKind: what a premise caution warns of.
    VIOLENCE = 1
    WEAPONS = 2
    HAZARDOUS_MATERIALS = 3
    ANIMAL = 4
    STRUCTURE = 5
    ACCESS = 6
    MEDICAL = 7
    OTHER = 8


class PlaceKind(IntEnum):
    # icc.incident.v1.PlaceKind: what a place found by a search is.
    WARD = 1
    COMMUNE = 2
    SPECIAL_ZONE = 3
    FORMER_DISTRICT = 4
    LANDMARK = 5
    MARKET = 6
    SCHOOL = 7
    HOSPITAL = 8
    STATION = 9
    BRIDGE = 10
    STREET = 11
    ADDRESS = 12


class UnitKind(IntEnum):
    # icc.resource.v1.UnitKind
    ENGINE = 1
    LADDER = 2
    RESCUE = 3
    WATER_TENDER = 4
    HAZMAT = 5
    AMBULANCE_ALS = 6
    AMBULANCE_BLS = 7
    MOTORBIKE_RESPONDER = 8
    PATROL_CAR = 9
    POLICE_MOTORBIKE = 10
    TRAFFIC_MOTORBIKE = 11

    @property
    def two_wheeled(self) -> bool:
        return self in _MOTORBIKES

    @property
    def heavy(self) -> bool:
        return self in _HEAVY


_MOTORBIKES = frozenset(
    {UnitKind.MOTORBIKE_RESPONDER, UnitKind.POLICE_MOTORBIKE, UnitKind.TRAFFIC_MOTORBIKE}
)
_HEAVY = frozenset({UnitKind.ENGINE, UnitKind.LADDER, UnitKind.WATER_TENDER, UnitKind.HAZMAT})


class UnitStatus(IntEnum):
    # icc.resource.v1.UnitStatus
    AVAILABLE = 1
    DISPATCHED = 2
    EN_ROUTE = 3
    ON_SCENE = 4
    TRANSPORTING = 5
    AT_HOSPITAL = 6
    OUT_OF_SERVICE = 7


class StationKind(IntEnum):
    # icc.resource.v1.StationKind
    POLICE_STATION = 1
    POLICE_TRAFFIC = 2
    POLICE_RAPID = 3
    FIRE_STATION = 4
    EMS_CENTER = 5
    EMS_STATION = 6


class Diversion(IntEnum):
    # icc.resource.v1.DiversionStatus
    OPEN = 1
    PARTIAL = 2
    FULL = 3


class EtaSource(IntEnum):
    # icc.common.v1.EtaSource: where an estimated travel time came from.
    TRAVEL_MODEL = 1
    ROUTING_ENGINE = 2
    TRAVEL_MODEL_FALLBACK = 3
