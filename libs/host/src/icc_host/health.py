"""gRPC health that says whether the service can work: its database and bus reachable,
no handler stuck.

Two answers, for the two questions an orchestrator asks:
- ready (the service's own name, e.g. `icc.dispatch.v1.DispatchService`): NOT_SERVING
  while the replica has lost its database or the bus, or its work is stuck, so a
  readiness probe or a load balancer sends calls to another replica; SERVING again once
  all is well.
- alive (the overall status, the empty name): NOT_SERVING only while its work is stuck,
  which a restart cures, so a liveness probe replaces the replica. A database or a bus
  away is not cured by a restart: restarting every replica during an outage would only
  delay their return (start-up needs both).

Checked every `CHECK_EVERY_S`, every `RECHECK_AWAY_S` while the database is away; the
database by one `SELECT 1` bounded by `PROBE_TIMEOUT_S` (`Database.probe`, which also
makes the replica's work fail fast while the database does not answer).
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from nats.aio.client import Client

from icc_bus import cancel_and_wait
from icc_rpc import GrpcServer
from icc_storage import Database

log = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0
RECHECK_AWAY_S = 0.5
PROBE_TIMEOUT_S = 3.0


class Stuck(Protocol):
    """Work that can tell it is stuck (`icc_bus.DurableConsumer`)."""

    def stuck(self) -> bool: ...


async def problems(db: Database, nc: Client, workers: Sequence[Stuck]) -> list[str]:
    """What keeps the service from working now; empty when nothing does."""
    found = []
    if not nc.is_connected:
        found.append("bus")
    if not await db.probe(PROBE_TIMEOUT_S):
        found.append("database")
    if any(w.stuck() for w in workers):
        found.append("stuck")
    return found


class HealthWatch:
    """Sets the server's health from `problems`, every `CHECK_EVERY_S`, until stopped."""

    def __init__(
        self,
        server: GrpcServer,
        service_name: str,
        db: Database,
        nc: Client,
        workers: Sequence[Stuck] = (),
    ) -> None:
        self._server = server
        self._service_name = service_name
        self._db = db
        self._nc = nc
        self._workers = list(workers)
        self._found: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="health-watch")

    async def stop(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            away = "database" in self._found
            await asyncio.sleep(RECHECK_AWAY_S if away else CHECK_EVERY_S)
            found = await problems(self._db, self._nc, self._workers)
            if found != self._found:
                log.warning(
                    "health changed", extra={"serving": not found, "problems": ",".join(found)}
                )
                self._found = found
                with contextlib.suppress(Exception):
                    await self._server.set_health(
                        self._service_name, ready=not found, alive="stuck" not in found
                    )
