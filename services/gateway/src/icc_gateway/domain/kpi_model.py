"""The response-time KPIs in the shape of API.md (`GET /api/v1/kpis`), declared once:
kpis.py computes them as these objects and the HTTP API serializes them as they are."""

from typing import Literal

from pydantic import Field

from icc_gateway.domain.model import Id, Shape

ExerciseFilter = Literal["include", "exclude", "only"]


class KpiSpread(Shape):
    """Real seconds from the call to a step, nearest-rank percentiles of `n` incidents."""

    n: int
    p50_s: float | None
    p90_s: float | None
    pending: int = Field(description="Open incidents of the group that have not got there yet")


class KpiStep(Shape):
    all: KpiSpread
    by_agency: dict[str, KpiSpread] = Field(description="By lead agency (the first one)")
    by_priority: dict[str, KpiSpread] = Field(description='By priority, "1" to "4"')


class KpiCalls(Shape):
    total: int
    exercise: int = Field(description="Of `total`, drills")
    open: int
    by_agency: dict[str, int]
    by_priority: dict[str, int]


class KpiTarget(Shape):
    target_s: float
    reached: int
    missed: int
    pending: int = Field(description="No unit yet, the target time not over yet")
    share: float | None = Field(description="reached / (reached + missed), null when none")


class KpiWaiting(Shape):
    count: int
    awaiting_dispatcher: int = Field(
        description="Of `count`, incidents dispatch does not assign by itself (P3, P4): "
        "a dispatcher's decision is awaited"
    )
    after_s: float
    oldest_s: float | None
    incidents: list[Id] = Field(description="The longest waiting first, at most 20")


class KpiUnitGroup(Shape):
    total: int
    out_of_service: int
    busy: int
    utilisation: float | None = Field(description="busy / (total - out_of_service)")


class KpiUnits(KpiUnitGroup):
    by_agency: dict[str, KpiUnitGroup]


class Kpis(Shape):
    server_time: str
    window_s: float
    exercise: ExerciseFilter
    calls: KpiCalls
    call_to_dispatch: KpiStep
    call_to_on_scene: KpiStep
    p1_within_target: dict[str, KpiTarget]
    waiting: KpiWaiting
    units: KpiUnits
