"""The call-taker: plays the generated calls at their simulated times as a person at
the command center would, through the public API:

- a caller who names a landmark is found with `SearchPlaces` (the first result, near
  the map's centre), which names the place and its ward; the call-taker then puts the
  pin where the caller says (the call's own point), as on the screen; the others give
  an address;
- `FindPossibleDuplicates` asks the system whether the call repeats an incident; when it
  offers the incident of the caller's own event (the caller confirms: only the caller's
  answer comes from the simulator's knowledge), the call is attached with `AddCaller`;
- otherwise it becomes an incident through `CreateIncident`, on the call's line.

Both writes are idempotent by request id, so a retry after a lost reply does nothing
twice. How well the system's check did is counted (hits, false alarms, misses).
Simulated incidents are exercises: shown and dispatched like any, never sent to real
partners."""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc_city.geo import Point, distance_m
from icc_simulator.players.api import CALL_TAKER, TIMEOUT_S, location, with_retries
from icc_simulator.players.clock import SimClock
from icc_simulator.world.calls import Call
from icc_simulator.world.stats import Stats

log = logging.getLogger(__name__)
# Calls being put through at once: enough for a benchmark's burst, bounded so that an
# overloaded system sees back-pressure rather than an unbounded pile of requests.
MAX_IN_FLIGHT = 256
# The map opens on the urban core: searches rank places near it first.
MAP_CENTRE = location(10.7769, 106.7009, "", "")
# A place found farther than this from where the caller is was not the one they meant.
NAMED_PLACE_M = 1500.0
# Events whose first incident is remembered (for the callers after it).
EVENTS_KEPT = 50_000


def point_of(loc: common_pb2.Location) -> Point:
    return Point(loc.lat, loc.lon)


def caller(call: Call) -> incident_pb2.Caller:
    return incident_pb2.Caller(
        name=call.caller.name,
        phone=call.caller.phone,
        language=call.caller.language,
        call_line=incident_pb2.CallLine.ValueType(int(call.line)),
    )


def request(
    call: Call, run_id: str, where: common_pb2.Location | None = None
) -> ipb.CreateIncidentRequest:
    return ipb.CreateIncidentRequest(
        request_id=f"sim-{run_id}-{call.seq}",
        incident=incident_pb2.Incident(
            type_code=call.type_code,
            priority=common_pb2.Priority.ValueType(int(call.priority)),
            location=where or location(call.lat, call.lon, call.ward, call.address),
            caller=caller(call),
            description=call.description or "Cuộc gọi mô phỏng (simulated call)",
            exercise=True,
            call_line=incident_pb2.CallLine.ValueType(int(call.line)),
        ),
    )


@dataclass
class CallTaker:
    incidents: Any  # IncidentServiceAsyncStub
    clock: SimClock
    stats: Stats
    run_id: str
    on_created: Callable[[Call, incident_pb2.Incident], None]
    _tasks: set["asyncio.Task[None]"] = field(default_factory=set)
    # The first incident of each event: what a later caller's confirmation names.
    _first_of_event: OrderedDict[str, str] = field(default_factory=OrderedDict)

    async def play(
        self, calls: Iterable[Call], end_s: float | None, stopping: asyncio.Event
    ) -> None:
        """Every call before simulated second `end_s` (None: until stopped), on time."""
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        for call in calls:
            if stopping.is_set() or (end_s is not None and call.at_s >= end_s):
                break
            delay = self.clock.scale.to_real(call.at_s) - self.clock.real_elapsed()
            if delay > 0:
                try:
                    await asyncio.wait_for(stopping.wait(), delay)
                    break
                except TimeoutError:
                    pass
            await slots.acquire()
            task = asyncio.ensure_future(self._take(call))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _t: slots.release())
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _take(self, call: Call) -> None:
        self.stats.calls += 1
        try:
            where = await self._place(call)
            offered = await self._possible_duplicates(call, where)
            first = self._first_of_event.get(call.event_id)
            self._judge(call, first, offered)
            if call.duplicate and first is not None and first in offered:
                await self._attach(call, first)
                return
            req = request(call, self.run_id, where)
            reply = await with_retries(
                lambda: self.incidents.CreateIncident(req, timeout=TIMEOUT_S, metadata=CALL_TAKER),
                attempts=6,
            )
        except grpc.aio.AioRpcError as exc:
            self.stats.error(f"create:{exc.code().name}")
            # The type and place are safe to log; the caller is not.
            log.warning(
                "a call could not become an incident",
                extra={"type_code": call.type_code, "code": exc.code().name},
            )
            return
        if call.event_id not in self._first_of_event:
            self._first_of_event[call.event_id] = reply.incident.name
            if len(self._first_of_event) > EVENTS_KEPT:
                self._first_of_event.popitem(last=False)
        self.on_created(call, reply.incident)

    async def _place(self, call: Call) -> common_pb2.Location:
        """Where the call-taker puts the call: the caller's point, named after the place
        the search found for what the caller said (when they named one and it is near)."""
        given = location(call.lat, call.lon, call.ward, call.address)
        if not call.place_named:
            return given
        self.stats.places_searched += 1
        found = await with_retries(
            lambda: self.incidents.SearchPlaces(
                ipb.SearchPlacesRequest(query=call.place_named, near=MAP_CENTRE, max_results=1),
                timeout=TIMEOUT_S,
                metadata=CALL_TAKER,
            )
        )
        best = found.places[0] if found.places else None
        if best is None or distance_m(call.point, point_of(best.location)) > NAMED_PLACE_M:
            # Nothing found, or a namesake elsewhere: the caller gives the address.
            self.stats.places_not_found += 1
            return given
        return location(call.lat, call.lon, best.location.ward, f"Gần {best.label}")

    async def _possible_duplicates(self, call: Call, where: common_pb2.Location) -> set[str]:
        reply = await with_retries(
            lambda: self.incidents.FindPossibleDuplicates(
                ipb.FindPossibleDuplicatesRequest(
                    location=where, type_code=call.type_code, caller_phone=call.caller.phone
                ),
                timeout=TIMEOUT_S,
                metadata=CALL_TAKER,
            )
        )
        return {d.incident for d in reply.duplicates}

    def _judge(self, call: Call, first: str | None, offered: set[str]) -> None:
        """The check's answer against what the simulator knows: a repeat whose event
        has an incident should be offered it, and nothing else should be offered."""
        repeat = call.duplicate and first is not None
        if repeat and first in offered:
            self.stats.duplicate_hits += 1
        elif repeat:
            self.stats.duplicate_misses += 1
        if offered and not (repeat and first in offered):
            self.stats.duplicate_false_alarms += 1

    async def _attach(self, call: Call, incident: str) -> None:
        req = ipb.AddCallerRequest(
            parent=incident, caller=caller(call), request_id=f"sim-{self.run_id}-{call.seq}"
        )
        await with_retries(
            lambda: self.incidents.AddCaller(req, timeout=TIMEOUT_S, metadata=CALL_TAKER),
            attempts=6,
        )
        self.stats.attached += 1
