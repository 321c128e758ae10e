"""The call-taker: plays the generated calls at their simulated times, each becoming an
incident through CreateIncident (idempotent by request id, so a retry after a lost
reply creates nothing twice). Simulated incidents are exercises: shown and dispatched
like any, never sent to real partners."""

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc_simulator.players.api import CALL_TAKER, TIMEOUT_S, location, with_retries
from icc_simulator.players.clock import SimClock
from icc_simulator.world.calls import Call
from icc_simulator.world.stats import Stats

log = logging.getLogger(__name__)
# Calls being put through at once: enough for a benchmark's burst, bounded so that an
# overloaded system sees back-pressure rather than an unbounded pile of requests.
MAX_IN_FLIGHT = 256


def request(call: Call, run_id: str) -> ipb.CreateIncidentRequest:
    return ipb.CreateIncidentRequest(
        request_id=f"sim-{run_id}-{call.seq}",
        incident=incident_pb2.Incident(
            type_code=call.type_code,
            priority=common_pb2.Priority.ValueType(int(call.priority)),
            location=location(call.lat, call.lon, call.ward, call.address),
            caller=incident_pb2.Caller(
                name=call.caller.name, phone=call.caller.phone, language=call.caller.language
            ),
            description=call.description or "Cuộc gọi mô phỏng (simulated call)",
            exercise=True,
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
        req = request(call, self.run_id)
        try:
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
        self.on_created(call, reply.incident)
