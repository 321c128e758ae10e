"""The call generator: a deterministic stream of emergency calls for Ho Chi Minh City.

Pure: every draw comes from one `random.Random(seed)`, so the same seed, scenario
and rate give the identical stream (times are simulated seconds from the start;
the clock decides when they are played). Arrivals are a non-homogeneous Poisson
process (thinning): each stream's rate follows its factor windows and, for the
city's own stream, the hour-of-day mix of each family.

A second or third caller about the same event is generated too, seconds later and
a few dozen metres away, with the original's `event_id` (sometimes the first caller
calling back, from the same phone): the system sees separate calls and must find
the repeats itself; the simulator's log knows they are one event.

Each call comes in on a line (112, 113, 114, 115, a partner) by its family's shares, and
some callers name a landmark instead of an address, as they say it (without
diacritics, now and then with a slip of the finger): the call-taker searches it.
"""

import heapq
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from icc_city.area import ServiceArea, service_area
from icc_city.geo import Point, offset
from icc_city.text import fold_vietnamese
from icc_kernel.vocabulary import CallLine, Priority
from icc_simulator.world.city import HOURS, CityModel, Hotspot, city_model
from icc_simulator.world.model import Catalog, Family, IncidentKind
from icc_simulator.world.scenarios import Scenario, ScriptedEvent, Stream

# Made-up callers: common Vietnamese family, middle and given names, and numbers in
# one block. Personal-looking data on purpose (the system must protect it), never real.
_SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
_MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hoàng", "Quốc", "Thu", "Đức", "Kim"]
_GIVEN = [
    "An",
    "Bình",
    "Châu",
    "Dũng",
    "Hà",
    "Hải",
    "Hùng",
    "Khoa",
    "Lan",
    "Linh",
    "Mai",
    "Nam",
    "Phúc",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Vy",
]
# Default weight of a catalog type the city model does not name: rare but possible.
DEFAULT_TYPE_WEIGHT = 0.5
# How far a second caller stands from the first, and how much later they call.
DUPLICATE_SPREAD_M = 60.0
DUPLICATE_DELAY_S = (15.0, 120.0)
# The share of duplicate callers who describe the event as another type of its family.
DUPLICATE_OTHER_TYPE = 0.15

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """A made-up caller. Not shown in reprs, so it never lands in a log by accident."""

    name: str
    phone: str
    language: str

    def __repr__(self) -> str:
        return "Caller(<made up, not shown>)"


@dataclass(frozen=True)
class Call:
    seq: int
    # Simulated seconds since the start of the run.
    at_s: float
    # The real-world event; every caller about it shares the id.
    event_id: str
    # A later caller about an event already called in.
    duplicate: bool
    family: Family
    type_code: str
    priority: Priority
    # Priority raised one step above the catalog's (e.g. the caller reports injuries).
    escalated: bool
    lat: float
    lon: float
    ward: str
    address: str
    hotspot: str
    zone: str
    stream: str
    # Patients needing transport, when the scenario says (0: the crews decide).
    patients: int = 0
    description: str = ""
    caller: Caller = field(default=Caller("", "", "vi"), repr=False)
    line: CallLine = CallLine.OTHER
    # What the caller says the place is, when they name one instead of an address.
    place_named: str = ""

    @property
    def point(self) -> Point:
        return Point(self.lat, self.lon)


def spoken(label: str, rng: random.Random) -> str:
    """A place's name as a caller says it and a call-taker types it: often without
    diacritics, now and then with two letters swapped."""
    said = fold_vietnamese(label) if rng.random() < 0.5 else label
    if rng.random() < 0.1 and len(said) > 6:
        i = rng.randrange(2, len(said) - 2)
        said = said[:i] + said[i + 1] + said[i] + said[i + 2 :]
    return said


def local_hour(start_hour: int, sim_s: float) -> int:
    return int(start_hour + sim_s // 3600) % HOURS


def _pick(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    total = sum(weights)
    if total <= 0:
        raise ValueError("nothing to choose from: every weight is zero")
    x = rng.random() * total
    for item, w in zip(items, weights, strict=True):
        x -= w
        if x < 0:
            return item
    return items[-1]


class CallGenerator:
    """Calls in time order, forever (take what the run needs: see `until`).

    `calls_per_s`: the base rate in calls per *simulated* second, which the scenario's
    windows and the hour-of-day mix scale.
    """

    def __init__(
        self,
        *,
        seed: int,
        scenario: Scenario,
        catalog: Catalog,
        calls_per_s: float,
        city: CityModel | None = None,
        area: ServiceArea | None = None,
    ) -> None:
        if calls_per_s < 0:
            raise ValueError("the call rate cannot be negative")
        self.seed = seed
        self.scenario = scenario
        self.catalog = catalog
        self.base_rate = calls_per_s
        self.city = city or city_model()
        self.area = area or service_area()
        self._rng = random.Random(seed)
        self._events = 0
        self._seq = 0
        # Calls due later (second callers, scripted events), by time.
        self._pending: list[tuple[float, int, Call]] = []
        self._pending_n = 0
        self._by_family = {f: catalog.of_family(f) for f in Family}
        # Steady: the total rate is the base rate itself, shared as at the start.
        self._norm = 1.0
        if scenario.steady:
            start = sum(self.stream_rate(s, 0.0) for s in scenario.streams)
            self._norm = calls_per_s / start if start > 0 else 1.0
        for event in scenario.events:
            self._stage(event)

    # Rates

    def _hour(self, sim_s: float) -> int:
        # A steady scenario keeps the start hour's mix for ever (sustained load).
        return local_hour(self.scenario.start_hour, 0.0 if self.scenario.steady else sim_s)

    def _city_total(self, sim_s: float) -> float:
        hour = self._hour(sim_s)
        return sum(self.city.shares_at(hour, rainy=self.scenario.rainy).values())

    def stream_rate(self, stream: Stream, sim_s: float) -> float:
        """Calls per simulated second of `stream` at `sim_s`."""
        mix = self._city_total(sim_s) if stream.families is None else 1.0
        return self.base_rate * stream.factor(sim_s) * mix * self._norm

    def _peak_rate(self) -> float:
        hours = [self._hour(0.0)] if self.scenario.steady else range(HOURS)
        peak_city = max(
            sum(self.city.shares_at(h, rainy=self.scenario.rainy).values()) for h in hours
        )
        return (
            sum(
                self.base_rate * s.peak_factor * (peak_city if s.families is None else 1.0)
                for s in self.scenario.streams
            )
            * self._norm
        )

    # The stream

    def __iter__(self) -> Iterator[Call]:
        peak = self._peak_rate()
        t = 0.0
        while True:
            if peak <= 0:
                # No random arrivals at all: only what is staged.
                while self._pending:
                    yield self._next_pending()
                return
            t += self._rng.expovariate(peak)
            while self._pending and self._pending[0][0] <= t:
                yield self._next_pending()
            rates = [self.stream_rate(s, t) for s in self.scenario.streams]
            u = self._rng.random() * peak
            for stream, rate in zip(self.scenario.streams, rates, strict=True):
                if u < rate:
                    yield self._numbered(self._new_call(stream, t))
                    break
                u -= rate

    def until(self, end_s: float, limit: int | None = None) -> list[Call]:
        """Every call before simulated second `end_s` (at most `limit`)."""
        out: list[Call] = []
        for call in self:
            if call.at_s >= end_s or (limit is not None and len(out) >= limit):
                break
            out.append(call)
        return out

    def _numbered(self, call: Call) -> Call:
        self._seq += 1
        return replace(call, seq=self._seq)

    def _next_pending(self) -> Call:
        _, _, call = heapq.heappop(self._pending)
        return self._numbered(call)

    def _push(self, call: Call) -> None:
        self._pending_n += 1
        heapq.heappush(self._pending, (call.at_s, self._pending_n, call))

    # One call

    def _new_call(self, stream: Stream, t: float) -> Call:
        rng = self._rng
        hour = self._hour(t)
        shares = (
            self.city.shares_at(hour, rainy=self.scenario.rainy)
            if stream.families is None
            else dict(stream.families)
        )
        fams = [f for f in Family if shares.get(f, 0.0) > 0 and self._by_family[f]]
        family = _pick(rng, fams, [shares[f] for f in fams])
        kind = self._pick_kind(family, stream)
        hotspot = self._pick_hotspot(family, kind.code, stream)
        call = self._call_at(t, kind, hotspot, stream.name, self._event_id())
        self._maybe_duplicates(call, self.city.duplicate_chance.get(family, 0.0))
        return call

    def _pick_kind(self, family: Family, stream: Stream) -> IncidentKind:
        kinds = self._by_family[family]
        named = [k for k in kinds if k.code in stream.type_weights]
        if named:
            return _pick(self._rng, named, [stream.type_weights[k.code] for k in named])
        weights = [self.city.type_weights.get(k.code, DEFAULT_TYPE_WEIGHT) for k in kinds]
        return _pick(self._rng, kinds, weights)

    def _pick_hotspot(self, family: Family, code: str, stream: Stream) -> Hotspot:
        spots = self.city.hotspots
        zone = self.city.zone_of_type.get(code)
        weights: list[float]
        if zone is not None:
            weights = [h.weight if h.zone == zone else 0.0 for h in spots]
        else:
            zones: Mapping[str, float] = stream.zones.get(family) or {
                z: w.get(family, 0.0) for z, w in self.city.zone_weights.items()
            }
            weights = [h.weight * zones.get(h.zone, 0.0) for h in spots]
        return _pick(self._rng, spots, weights)

    def _event_id(self) -> str:
        self._events += 1
        return f"ev-{self.seed}-{self._events:06d}"

    def _place(self, hotspot: Hotspot, spread_m: float) -> Point:
        """A point around the hotspot (normal spread), always inside the service area."""
        rng = self._rng
        centre = Point(hotspot.lat, hotspot.lon)
        for _ in range(20):
            north = max(-2 * spread_m, min(2 * spread_m, rng.gauss(0.0, spread_m)))
            east = max(-2 * spread_m, min(2 * spread_m, rng.gauss(0.0, spread_m)))
            p = offset(centre, north, east)
            if self.area.contains(p.lat, p.lon):
                return p
        return centre

    def _caller(self) -> Caller:
        rng = self._rng
        name = f"{rng.choice(_SURNAMES)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"
        phone = f"0900{rng.randrange(1_000_000):06d}"
        return Caller(name, phone, "en" if rng.random() < 0.03 else "vi")

    def _call_at(
        self,
        t: float,
        kind: IncidentKind,
        hotspot: Hotspot,
        stream: str,
        event_id: str,
        *,
        point: Point | None = None,
        duplicate: bool = False,
        patients: int = 0,
        description: str = "",
        caller: Caller | None = None,
    ) -> Call:
        rng = self._rng
        where = point or self._place(hotspot, hotspot.radius_m / 2)
        lines = self.city.lines[kind.family]
        line = _pick(rng, list(lines), list(lines.values()))
        named = ""
        if rng.random() < self.city.named_place_share:
            named = spoken(hotspot.label, rng)
        priority = kind.default_priority
        escalated = priority > Priority.P1 and rng.random() < self.city.escalation_chance
        if escalated:
            priority = Priority(priority - 1)
        return Call(
            seq=0,
            at_s=t,
            event_id=event_id,
            duplicate=duplicate,
            family=kind.family,
            type_code=kind.code,
            priority=priority,
            escalated=escalated,
            lat=round(where.lat, 6),
            lon=round(where.lon, 6),
            ward=hotspot.ward,
            address=f"Gần {hotspot.label}",
            hotspot=hotspot.id,
            zone=hotspot.zone,
            stream=stream,
            patients=patients,
            description=description,
            caller=caller or self._caller(),
            line=line,
            place_named=named,
        )

    def _maybe_duplicates(
        self, call: Call, chance: float, *, callers: int = 0, same_type: bool = False
    ) -> None:
        """Stage later callers about `call`'s event: `callers` of them, or by `chance`."""
        rng = self._rng
        if callers <= 0:
            if rng.random() >= chance:
                return
            callers = 1 if rng.random() < 0.8 else 2
        hotspot = self.city.hotspot(call.hotspot)
        kind = self.catalog.get(call.type_code)
        assert kind is not None
        t = call.at_s
        for _ in range(callers):
            t += rng.uniform(*DUPLICATE_DELAY_S)
            other = kind
            if not same_type and rng.random() < DUPLICATE_OTHER_TYPE:
                other = rng.choice(self._by_family[kind.family])
            near = offset(
                call.point, rng.gauss(0.0, DUPLICATE_SPREAD_M), rng.gauss(0.0, DUPLICATE_SPREAD_M)
            )
            if not self.area.contains(near.lat, near.lon):
                near = call.point
            again = call.caller if rng.random() < self.city.repeat_same_phone else None
            self._push(
                self._call_at(
                    t,
                    other,
                    hotspot,
                    call.stream,
                    call.event_id,
                    point=near,
                    duplicate=True,
                    description=call.description,
                    caller=again,
                )
            )

    def _stage(self, event: ScriptedEvent) -> None:
        kind = self.catalog.get(event.type_code)
        if kind is None:
            raise ValueError(f"scripted event: {event.type_code} is not in the catalog")
        hotspot = self.city.hotspot(event.hotspot)
        call = self._call_at(
            event.at_s,
            kind,
            hotspot,
            "scripted",
            self._event_id(),
            point=self._place(hotspot, 100.0),
            patients=event.patients,
            description=event.description,
        )
        self._push(call)
        if event.callers > 1:
            self._maybe_duplicates(call, 1.0, callers=event.callers - 1, same_type=True)
