"""What the simulator reasons about, free of protobuf: the enums match the protos' numbers
so that translation at the edges is a cast, and the pure modules import nothing of gRPC."""

from dataclasses import dataclass
from enum import Enum, IntEnum


class Agency(IntEnum):
    # Values match icc.common.v1.Agency.
    POLICE = 1
    FIRE = 2
    MEDICAL = 3
    COMMAND_CENTER = 4
    UTILITY = 5


class Priority(IntEnum):
    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4


class UnitKind(IntEnum):
    # Values match icc.resource.v1.UnitKind.
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
        return self in (
            UnitKind.MOTORBIKE_RESPONDER,
            UnitKind.POLICE_MOTORBIKE,
            UnitKind.TRAFFIC_MOTORBIKE,
        )

    @property
    def heavy(self) -> bool:
        return self in (UnitKind.ENGINE, UnitKind.LADDER, UnitKind.WATER_TENDER, UnitKind.HAZMAT)

    @property
    def ambulance(self) -> bool:
        return self in (UnitKind.AMBULANCE_ALS, UnitKind.AMBULANCE_BLS)


class UnitStatus(IntEnum):
    # Values match icc.resource.v1.UnitStatus.
    AVAILABLE = 1
    DISPATCHED = 2
    EN_ROUTE = 3
    ON_SCENE = 4
    TRANSPORTING = 5
    AT_HOSPITAL = 6
    OUT_OF_SERVICE = 7

    @property
    def busy(self) -> bool:
        """Working an incident (the resources service's BUSY set)."""
        return self in BUSY


BUSY = frozenset(
    {
        UnitStatus.DISPATCHED,
        UnitStatus.EN_ROUTE,
        UnitStatus.ON_SCENE,
        UnitStatus.TRANSPORTING,
        UnitStatus.AT_HOSPITAL,
    }
)


class Family(Enum):
    """The call mix by which the city's demand is described: the catalog's seven
    categories folded into the five families the 113/114/115 centres plan by."""

    POLICE = "police"
    FIRE_RESCUE = "fire-rescue"
    MEDICAL = "medical"
    TRAFFIC = "traffic"
    FLOOD = "flood"


FAMILY_OF_CATEGORY: dict[str, Family] = {
    "POLICE": Family.POLICE,
    "FIRE": Family.FIRE_RESCUE,
    "RESCUE": Family.FIRE_RESCUE,
    "HAZMAT": Family.FIRE_RESCUE,
    "MEDICAL": Family.MEDICAL,
    "TRAFFIC": Family.TRAFFIC,
    "FLOOD": Family.FLOOD,
}


@dataclass(frozen=True)
class IncidentKind:
    """An entry of the incident type catalog, as the simulator needs it."""

    code: str
    category: str
    agencies: tuple[Agency, ...]
    default_priority: Priority

    @property
    def family(self) -> Family:
        return FAMILY_OF_CATEGORY.get(self.category, Family.POLICE)


@dataclass(frozen=True)
class Catalog:
    kinds: tuple[IncidentKind, ...]

    def get(self, code: str) -> IncidentKind | None:
        return next((k for k in self.kinds if k.code == code), None)

    def of_family(self, family: Family) -> tuple[IncidentKind, ...]:
        return tuple(k for k in self.kinds if k.family is family)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "Catalog":
        """The incidents service's `incident_types.json` layout (tests and offline use)."""
        kinds = []
        entries = data["types"]
        assert isinstance(entries, list)
        for t in entries:
            kinds.append(
                IncidentKind(
                    code=str(t["code"]),
                    category=str(t["category"]),
                    agencies=tuple(Agency[a] for a in t["agencies"]),
                    default_priority=Priority(int(t["default_priority"])),
                )
            )
        return cls(tuple(kinds))
