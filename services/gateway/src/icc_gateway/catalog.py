"""The incident types as the incidents service has them: read at start-up (again until it
answers) and every few minutes after, so that one copy serves GET /incident-types, names
in the API document the codes `type_code` may take, and checks a new call's code before
it is sent.
"""

import asyncio
import contextlib
import logging

from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc_gateway import convert, schemas
from icc_gateway.clients import Services
from icc_gateway.errors import ApiError

log = logging.getLogger(__name__)

_RETRY_S = 2.0


class TypeCatalog:
    def __init__(self, services: Services, refresh_s: float = 300.0) -> None:
        self._services = services
        self._refresh_s = refresh_s
        self.types: schemas.IncidentTypes | None = None
        # Empty until read (the API document lists them from then on).
        self.codes: frozenset[str] = frozenset()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep(), name="incident-types")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def get(self) -> schemas.IncidentTypes:
        """The catalog; read now if it has not been yet (an ApiError when that fails)."""
        if self.types is None:
            await self.load()
        assert self.types is not None
        return self.types

    async def load(self) -> None:
        request = incident_pb.ListIncidentTypesRequest()
        reply = await self._services.call(
            "incidents", self._services.incidents.ListIncidentTypes, request
        )
        self.types = schemas.IncidentTypes(types=[convert.incident_type(t) for t in reply.types])
        self.codes = frozenset(t.code for t in self.types.types)

    async def _keep(self) -> None:
        while True:
            try:
                await self.load()
                wait = self._refresh_s
            except Exception as exc:
                text = exc.message if isinstance(exc, ApiError) else repr(exc)
                log.info("incident types not read", extra={"error": text[:200]})
                wait = _RETRY_S if self.types is None else self._refresh_s
            await asyncio.sleep(wait)

    async def unknown(self, code: str) -> schemas.ErrorField | None:
        """What is wrong with a new call's type code (the catalog read first if need be)."""
        if code in (await self.get(), self.codes)[1]:
            return None
        return schemas.ErrorField(
            field="type_code",
            description=f"unknown incident type {code[:60]!r}: one of the codes of "
            "GET /api/v1/incident-types",
        )
