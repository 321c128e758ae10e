"""Response plans: which units each incident type calls for, by priority and hour of day.

The plans are data (`data/response_plans.json`); this module reads them and
answers "what does this incident need now", and "what is still missing".
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from icc_dispatch.domain.errors import InvalidInput, Violation
from icc_dispatch.domain.model import Agency, Assignment, Priority, UnitKind

# Ho Chi Minh City keeps UTC+7 all year (no daylight saving): a fixed offset
# needs no time-zone database on the host.
LOCAL_OFFSET = timedelta(hours=7)


def local_hour(at: datetime) -> int:
    return (at.astimezone(UTC) + LOCAL_OFFSET).hour


@dataclass(frozen=True)
class PlanItem:
    role: str
    agency: Agency
    kinds: tuple[UnitKind, ...]
    count: int
    first: bool
    label_vi: str
    label_en: str


@dataclass(frozen=True)
class ResponsePlan:
    type_code: str
    priority: Priority
    items: tuple[PlanItem, ...]
    variant: str

    def item(self, role: str) -> PlanItem | None:
        return next((i for i in self.items if i.role == role), None)


@dataclass(frozen=True)
class Need:
    """Units still missing for one role of a plan."""

    item: PlanItem
    missing: int


@dataclass(frozen=True)
class _Variant:
    priorities: frozenset[int] | None
    hours: tuple[int, int] | None
    items: tuple[PlanItem, ...]

    def matches(self, priority: Priority, hour: int) -> bool:
        if self.priorities is not None and int(priority) not in self.priorities:
            return False
        if self.hours is not None:
            start, end = self.hours
            inside = start <= hour < end if start <= end else (hour >= start or hour < end)
            if not inside:
                return False
        return True

    @property
    def label(self) -> str:
        parts = []
        if self.priorities is not None:
            parts.append("priorities " + ",".join(str(p) for p in sorted(self.priorities)))
        if self.hours is not None:
            parts.append(f"hours {self.hours[0]}-{self.hours[1]}")
        return " ".join(parts)


class UnknownType(InvalidInput):
    """No plan for the incident type: the request's `type_code` is at fault."""

    def __init__(self, type_code: str) -> None:
        super().__init__(
            [Violation("type_code", f"no response plan for incident type {type_code!r}")]
        )
        self.type_code = type_code


class PlanBook:
    def __init__(self, plans: Mapping[str, tuple[tuple[PlanItem, ...], tuple[_Variant, ...]]]):
        self._plans = dict(plans)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "PlanBook":
        """Reads the JSON structure; a bad entry raises ValueError naming it."""
        plans = {}
        for code, entry in data["plans"].items():
            try:
                items = _items(entry["items"])
                variants = tuple(
                    _Variant(
                        priorities=frozenset(v["when"]["priorities"])
                        if "priorities" in v["when"]
                        else None,
                        hours=tuple(v["when"]["hours"]) if "hours" in v["when"] else None,
                        items=_items(v["items"]),
                    )
                    for v in entry.get("variants", ())
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"response plan {code}: {exc!r}") from exc
            plans[code] = (items, variants)
        return cls(plans)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._plans)

    def plan(self, type_code: str, priority: Priority, at: datetime) -> ResponsePlan:
        return self.plan_at_hour(type_code, priority, local_hour(at))

    def plan_at_hour(self, type_code: str, priority: Priority, hour: int) -> ResponsePlan:
        found = self._plans.get(type_code)
        if found is None:
            raise UnknownType(type_code)
        items, variants = found
        for variant in variants:
            if variant.matches(priority, hour):
                return ResponsePlan(type_code, priority, variant.items, variant.label)
        return ResponsePlan(type_code, priority, items, "default")


def _items(raw: Iterable[Mapping[str, Any]]) -> tuple[PlanItem, ...]:
    items = []
    for r in raw:
        agency = Agency[r["agency"]]
        count = int(r["count"])
        if not 1 <= count <= 10:
            raise ValueError(f"role {r['role']}: count {count} out of 1..10")
        items.append(
            PlanItem(
                role=r["role"],
                agency=agency,
                kinds=tuple(UnitKind[k] for k in r["kinds"]),
                count=count,
                first=bool(r.get("first", False)),
                label_vi=r.get("label_vi", r["role"]),
                label_en=r.get("label_en", r["role"]),
            )
        )
    # The first wave leads: it is filled before anything else.
    return tuple(sorted(items, key=lambda i: not i.first))


def needs(plan: ResponsePlan, assignments: Iterable[Assignment]) -> list[Need]:
    """What the plan still lacks, given the incident's assignments, in plan order.

    A unit released after serving still counts (the plan was met); one released
    before it served does not.
    """
    held = Counter(a.role for a in assignments if a.fills_role)
    out = []
    for item in plan.items:
        missing = item.count - held[item.role]
        if missing > 0:
            out.append(Need(item, missing))
    return out
