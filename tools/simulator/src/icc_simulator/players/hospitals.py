"""Hospitals as the simulator plays them: where ambulances take patients, and the
emergency departments' bed counts, which the simulated hospital updates through
`UpdateHospitalCapacity` when a patient arrives and again when the bed frees up.

At the end of a run every bed the simulator took is given back, so a run leaves the
hospitals as it found them (apart from changes people made meanwhile).
"""

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc

from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc_city.geo import Point
from icc_kernel.vocabulary import Agency
from icc_simulator.players.api import TIMEOUT_S, Clients, as_who, hospital_view, list_hospitals
from icc_simulator.players.clock import SimClock
from icc_simulator.world.behaviour import (
    BED_STAY_S,
    Bed,
    HospitalView,
    destination,
    patient_needs,
)

log = logging.getLogger(__name__)
HOSPITAL = as_who("hospital", Agency.MEDICAL)


@dataclass
class HospitalLedger:
    clients: Clients
    clock: SimClock
    _hospitals: dict[str, resource_pb2.Hospital] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    # Patients of each incident sent to each hospital (to spread a mass casualty).
    _sent: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # Beds taken and not yet given back: (simulated time due, hospital, bed field).
    _taken: list[tuple[float, str, str]] = field(default_factory=list)
    admitted: int = 0
    errors: int = 0

    async def load(self) -> None:
        for h in await list_hospitals(self.clients):
            self._hospitals[h.name] = h

    def views(self) -> list[HospitalView]:
        return [hospital_view(h) for h in self._hospitals.values()]

    def choose(
        self, recorded: str, at: Point, type_code: str, incident: str
    ) -> HospitalView | None:
        """The destination dispatch recorded (`recorded`), else the player's own choice."""
        chosen = destination(recorded, at, type_code, self.views(), self._sent[incident])
        if chosen is not None:
            self._sent[incident][chosen.name] += 1
        return chosen

    async def admit(self, hospital: str, type_code: str) -> None:
        """A patient takes a bed: the specialised kind if free, else an emergency bed."""
        bed, _ = patient_needs(type_code)
        h = self._hospitals.get(hospital)
        if h is None:
            return
        field_name = bed.value if getattr(h.available, bed.value) > 0 else Bed.EMERGENCY.value
        if await self._change(hospital, field_name, -1):
            self.admitted += 1
            self._taken.append((self.clock.sim_now() + BED_STAY_S, hospital, field_name))

    async def discharge_due(self) -> None:
        """Frees the beds whose patients' stay is over."""
        now = self.clock.sim_now()
        due = [t for t in self._taken if t[0] <= now]
        self._taken = [t for t in self._taken if t[0] > now]
        for _, hospital, field_name in due:
            await self._change(hospital, field_name, +1)

    async def give_back(self) -> None:
        """End of the run: every bed still taken is freed."""
        taken, self._taken = self._taken, []
        for _, hospital, field_name in taken:
            with contextlib.suppress(Exception):
                await self._change(hospital, field_name, +1)

    async def _change(self, hospital: str, field_name: str, delta: int) -> bool:
        """Read-modify-write with the etag, serialised per hospital; re-read on a race
        with someone else's update."""
        async with self._locks[hospital]:
            for _ in range(5):
                current = self._hospitals[hospital]
                updated = resource_pb2.Hospital()
                updated.CopyFrom(current)
                value = getattr(updated.available, field_name) + delta
                if value < 0:
                    return False
                setattr(updated.available, field_name, value)
                try:
                    reply = await self.clients.resources.UpdateHospitalCapacity(
                        rpb.UpdateHospitalCapacityRequest(hospital=updated),
                        timeout=TIMEOUT_S,
                        metadata=HOSPITAL,
                    )
                except grpc.aio.AioRpcError as exc:
                    if exc.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION):
                        await self.load()  # someone else changed it: read again
                        continue
                    self.errors += 1
                    log.warning("hospital capacity update failed", extra={"code": exc.code().name})
                    return False
                self._hospitals[hospital] = reply.hospital
                return True
            self.errors += 1
            return False
