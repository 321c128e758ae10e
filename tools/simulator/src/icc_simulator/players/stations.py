"""The station-closed what-if: a station's available units go out of service before the
run and come back after it, through the public API as a command center would."""

import contextlib
from collections.abc import Iterable, Mapping

import grpc

from icc.resource.v1 import resource_service_pb2 as rpb
from icc_kernel.vocabulary import UnitStatus
from icc_simulator.players import api
from icc_simulator.world.stats import Stats

STATION_CLOSED = "what-if: station closed (simulation)"


async def close_stations(
    clients: api.Clients,
    to_close: Iterable[str],
    stations: Mapping[str, object],
    stats: Stats,
) -> tuple[list[str], list[str]]:
    """Puts the available units of each station out of service: the units closed, and
    those left as they were (busy at the start, or refused)."""
    names = [s if s.startswith("stations/") else f"stations/{s}" for s in to_close]
    unknown = [n for n in names if n not in stations]
    if unknown:
        raise ValueError(f"unknown station(s): {', '.join(unknown)}; see ListStations")
    closed: list[str] = []
    busy: list[str] = []
    for station in names:
        reply = await clients.resources.ListUnits(
            rpb.ListUnitsRequest(page_size=5000, home_station=station), timeout=api.TIMEOUT_S
        )
        for u in reply.units:
            if u.status != int(UnitStatus.AVAILABLE):
                busy.append(u.name)
                continue
            try:
                await _set_status(clients, u.name, UnitStatus.OUT_OF_SERVICE, STATION_CLOSED)
                closed.append(u.name)
            except grpc.aio.AioRpcError as exc:
                stats.error(f"close-station:{exc.code().name}")
                busy.append(u.name)
    return closed, busy


async def reopen(clients: api.Clients, units: list[str]) -> None:
    for name in units:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await _set_status(clients, name, UnitStatus.AVAILABLE, "station reopened")


async def _set_status(clients: api.Clients, unit: str, status: UnitStatus, reason: str) -> None:
    await clients.resources.UpdateUnitStatus(
        rpb.UpdateUnitStatusRequest(name=unit, status=api.pb_status(status), reason=reason),
        timeout=api.TIMEOUT_S,
        metadata=api.DISPATCHER,
    )
