"""gRPC health that says whether the service can work: its database and bus reachable,
no handler stuck.

A replica that has lost its database or the bus, or whose work is stuck, answers
NOT_SERVING, so an orchestrator (a readiness probe, a load balancer) sends its calls to
another replica and replaces it if it stays so; it is SERVING again once all is well.
Checked every `CHECK_EVERY_S`; the database by one `SELECT 1` bounded by `PROBE_TIMEOUT_S`.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from nats.aio.client import Client
from sqlalchemy import text

from icc_bus import cancel_and_wait
from icc_rpc import GrpcServer
from icc_storage import Database

log = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0
PROBE_TIMEOUT_S = 3.0


class Stuck(Protocol):
    """Work that can tell it is stuck (`icc_bus.DurableConsumer`)."""

    def stuck(self) -> bool: ...


async def problems(db: Database, nc: Client, workers: Sequence[Stuck]) -> list[str]:
    """What keeps the service from working now; empty when nothing does."""
    found = []
    if not nc.is_connected:
        found.append("bus")
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S), db.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
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
        self._serving = True
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="health-watch")

    async def stop(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            found = await problems(self._db, self._nc, self._workers)
            serving = not found
            if serving != self._serving:
                log.warning(
                    "health changed", extra={"serving": serving, "problems": ",".join(found)}
                )
                self._serving = serving
                with contextlib.suppress(Exception):
                    await self._server.set_serving([self._service_name], serving)
