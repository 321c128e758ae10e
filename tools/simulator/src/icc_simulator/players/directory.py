"""What the simulator knows of each incident a unit may be sent to: its own calls, and
(read through GetIncident) incidents that people or partners created."""

import asyncio
from dataclasses import dataclass, field

import grpc

from icc.incident.v1 import incident_service_pb2 as ipb
from icc_city.geo import Point
from icc_simulator.players.api import DISPATCHER, TIMEOUT_S, Clients, with_retries


@dataclass(frozen=True)
class IncidentInfo:
    name: str
    point: Point
    type_code: str
    # Patients needing transport, when the scenario says (0: the crews decide).
    patients: int = 0
    ours: bool = False


@dataclass
class IncidentDirectory:
    clients: Clients
    _known: dict[str, IncidentInfo] = field(default_factory=dict)
    _lookups: dict[str, "asyncio.Future[IncidentInfo | None]"] = field(default_factory=dict)

    def put(self, info: IncidentInfo) -> None:
        self._known[info.name] = info

    def forget(self, name: str) -> None:
        self._known.pop(name, None)
        self._lookups.pop(name, None)

    def known(self, name: str) -> IncidentInfo | None:
        return self._known.get(name)

    async def get(self, name: str) -> IncidentInfo | None:
        """The incident, read from the incidents service once when it is not ours."""
        found = self._known.get(name)
        if found is not None:
            return found
        pending = self._lookups.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._read(name))
            self._lookups[name] = pending
        return await asyncio.shield(pending)

    async def _read(self, name: str) -> IncidentInfo | None:
        try:
            reply = await with_retries(
                lambda: self.clients.incidents.GetIncident(
                    ipb.GetIncidentRequest(name=name), timeout=TIMEOUT_S, metadata=DISPATCHER
                )
            )
        except grpc.aio.AioRpcError:
            self._lookups.pop(name, None)
            return None
        i = reply.incident
        info = IncidentInfo(name, Point(i.location.lat, i.location.lon), i.type_code)
        self._known.setdefault(name, info)
        return self._known[name]
