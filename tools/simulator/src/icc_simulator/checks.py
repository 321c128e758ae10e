"""End-of-run checks, by the services' own word: why each incident of the run is still
open, and whether any unit is held by two incidents at once."""

import asyncio
from collections.abc import Callable

import grpc

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc_simulator.players import api
from icc_simulator.players.dispatcher import Dispatcher
from icc_simulator.players.tracks import Track
from icc_simulator.report.result import OpenIncident
from icc_simulator.world.eventlog import EventLog, IncidentQueued

ACTIVE = (
    common_pb2.ASSIGNMENT_STATE_PROPOSED,
    common_pb2.ASSIGNMENT_STATE_ASSIGNED,
    common_pb2.ASSIGNMENT_STATE_ACKNOWLEDGED,
)


async def _dispatch_status(clients: api.Clients, incident: str) -> dispatch_pb2.DispatchStatus:
    reply = await clients.dispatch.GetDispatchStatus(
        dpb.GetDispatchStatusRequest(incident=incident),
        timeout=api.TIMEOUT_S,
        metadata=api.DISPATCHER,
    )
    return reply.status


async def explain(
    clients: api.Clients,
    dispatcher: Dispatcher,
    event_log: EventLog,
    wall_now: Callable[[], float],
) -> list[OpenIncident]:
    """Why each incident of the run is still open, from dispatch's own status; one still
    short of units is logged as having waited."""
    out: list[OpenIncident] = []
    for track in dispatcher.open_tracks():
        call = track.call
        assert call is not None
        try:
            s = await _dispatch_status(clients, track.name)
        except grpc.aio.AioRpcError as exc:
            why = f"dispatch does not know it ({exc.code().name})"
            out.append(OpenIncident(track.name, call.type_code, track.priority.name, why))
            continue
        active = [a for a in s.assignments if a.state in ACTIVE]
        short = "; ".join(f"{x.role} ×{x.missing}" for x in s.shortfalls)
        why = _why_open(track, s, len(active), short)
        if not active and s.shortfalls and not track.queued_logged:
            track.queued_logged = True
            event_log.add(
                IncidentQueued(
                    wall_now(),
                    track.name,
                    sum(x.missing for x in s.shortfalls),
                    f"still waiting at the end: {short}",
                )
            )
        out.append(OpenIncident(track.name, call.type_code, track.priority.name, why))
    return out


def _why_open(track: Track, s: dispatch_pb2.DispatchStatus, active: int, short: str) -> str:
    if s.state == dispatch_pb2.DISPATCH_STATE_QUEUED and not active:
        return f"waiting for units: {short}"
    if s.state == dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER and not active:
        return f"waiting for units (P3/P4, dispatcher retrying): {short}"
    if active:
        return f"{active} unit(s) still working" + (f"; still short of {short}" if short else "")
    if track.ever_assigned:
        return "all its units had cleared; the dispatcher was closing it"
    if s.state == dispatch_pb2.DISPATCH_STATE_ENDED:
        return "ended at dispatch; incident record not yet closed"
    return f"dispatch state {dispatch_pb2.DispatchState.Name(s.state)}"


async def double_booked(clients: api.Clients, dispatcher: Dispatcher) -> list[str]:
    """Units held by two incidents, by dispatch's and the resources service's word.
    Checked a few times: a release still travelling through the bus is not a fault."""
    found: list[str] = []
    for attempt in range(3):
        found = await _holds(clients, dispatcher)
        if not found:
            return []
        await asyncio.sleep(1.0 + attempt)
    return found


async def _holds(clients: api.Clients, dispatcher: Dispatcher) -> list[str]:
    units = await api.list_units(clients)
    at_resources = {u.name: u.incident for u in units if u.incident}
    names = set(at_resources.values()) | {t.name for t in dispatcher.open_tracks()}
    held: dict[str, set[str]] = {}
    for name in sorted(names):
        try:
            status = await _dispatch_status(clients, name)
        except grpc.aio.AioRpcError:
            continue
        for a in status.assignments:
            if a.state in ACTIVE:
                held.setdefault(a.unit, set()).add(name)
    problems = [
        f"{unit} held by {', '.join(sorted(incidents))}"
        for unit, incidents in sorted(held.items())
        if len(incidents) > 1
    ]
    for unit, incidents in sorted(held.items()):
        there = at_resources.get(unit)
        if there and there not in incidents:
            problems.append(
                f"{unit}: dispatch says {', '.join(sorted(incidents))}, resources says {there}"
            )
    return problems
