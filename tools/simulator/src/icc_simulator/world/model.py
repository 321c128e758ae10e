"""What the simulator reasons about, free of protobuf. The contract's enums are
`icc_kernel.vocabulary`'s (equal to the proto numbers, so translation at the edges is a
cast); here are the simulator's own words: which units are busy or ambulances, and the
call mix by family."""

from dataclasses import dataclass
from enum import Enum

from icc_kernel.vocabulary import Agency, Priority, UnitKind, UnitStatus

# Working an incident (the resources service's BUSY set).
BUSY = frozenset(
    {
        UnitStatus.DISPATCHED,
        UnitStatus.EN_ROUTE,
        UnitStatus.ON_SCENE,
        UnitStatus.TRANSPORTING,
        UnitStatus.AT_HOSPITAL,
    }
)
AMBULANCES = frozenset({UnitKind.AMBULANCE_ALS, UnitKind.AMBULANCE_BLS})


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
