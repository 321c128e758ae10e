"""Scenarios: what the city throws at the command center in a run (`data/scenarios.json`).

A scenario is one or more call *streams* over simulated time plus scripted events
and set-up actions. A stream either follows the city's hour-of-day mix (`profile:
city`) or has fixed family shares and its own places (the storm of `flood`); its
`factor` windows scale the base call rate over time.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from icc_simulator.world.city import families, read_data
from icc_simulator.world.model import Family


@dataclass(frozen=True)
class Window:
    """`factor` times the base rate from simulated second `from_s` until `to_s`."""

    from_s: float
    to_s: float | None
    factor: float

    def covers(self, sim_s: float) -> bool:
        return self.from_s <= sim_s and (self.to_s is None or sim_s < self.to_s)


@dataclass(frozen=True)
class Stream:
    name: str
    windows: tuple[Window, ...]
    # None: the city's hour-of-day mix; else fixed shares by family.
    families: Mapping[Family, float] | None = None
    # Zone weights by family replacing the city's (where the calls come from).
    zones: Mapping[Family, Mapping[str, float]] = field(default_factory=dict)
    # Type weights replacing the city's for the codes named.
    type_weights: Mapping[str, float] = field(default_factory=dict)

    def factor(self, sim_s: float) -> float:
        return next((w.factor for w in self.windows if w.covers(sim_s)), 0.0)

    @property
    def peak_factor(self) -> float:
        return max((w.factor for w in self.windows), default=0.0)


@dataclass(frozen=True)
class ScriptedEvent:
    """An event the scenario stages at a set time, e.g. the mass-casualty crash."""

    at_s: float
    type_code: str
    hotspot: str
    patients: int
    callers: int
    description: str


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start_hour: int
    rainy: bool
    streams: tuple[Stream, ...]
    events: tuple[ScriptedEvent, ...] = ()
    # Stations whose units are put out of service before the run.
    close_stations: tuple[str, ...] = ()
    # The stream's windows are flattened to their value at the start (benchmarks).
    steady: bool = False

    def as_steady(self) -> "Scenario":
        """The mix of the start (the start hour's, each stream's first window) at a
        constant total rate equal to the base rate: for sustained load."""
        streams = tuple(
            replace(s, windows=(Window(0.0, None, s.factor(0.0)),)) for s in self.streams
        )
        return replace(self, streams=streams, steady=True)

    def with_stations_closed(self, stations: tuple[str, ...]) -> "Scenario":
        return replace(self, close_stations=stations)


def _stream(raw: Mapping[str, Any]) -> Stream:
    windows = tuple(
        Window(float(a), None if b is None else float(b), float(f)) for a, b, f in raw["factor"]
    )
    if raw.get("profile") == "city":
        shares = None
    else:
        shares = {f: float(v) for f, v in families(raw["families"]).items()}
    zones = {f: dict(v) for f, v in families(raw.get("zones", {})).items()}
    return Stream(
        name=raw["name"],
        windows=windows,
        families=shares,
        zones=zones,
        type_weights={k: float(v) for k, v in raw.get("type_weights", {}).items()},
    )


def from_data(name: str, raw: Mapping[str, Any]) -> Scenario:
    return Scenario(
        name=name,
        description=raw["description"],
        start_hour=int(raw["start_hour"]),
        rainy=bool(raw.get("rainy", False)),
        streams=tuple(_stream(s) for s in raw["streams"]),
        events=tuple(
            ScriptedEvent(
                at_s=float(e["at_s"]),
                type_code=e["type_code"],
                hotspot=e["hotspot"],
                patients=int(e.get("patients", 1)),
                callers=int(e.get("callers", 1)),
                description=e.get("description", ""),
            )
            for e in raw.get("events", ())
        ),
        close_stations=tuple(raw.get("close_stations", ())),
    )


@cache
def scenarios() -> dict[str, Scenario]:
    data = read_data("scenarios.json")
    return {name: from_data(name, raw) for name, raw in data["scenarios"].items()}


def scenario(name: str) -> Scenario:
    found = scenarios().get(name)
    if found is None:
        raise KeyError(f"unknown scenario {name!r}; choose one of: {', '.join(scenarios())}")
    return found
