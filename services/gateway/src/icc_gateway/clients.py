"""The gateway's gRPC clients of the incidents, resources and dispatch services.

Every call has a deadline, carries the trace context (icc_rpc channels) and says who
acts: `icc-user`, `icc-agency` and `icc-role`, so the services' chronology records the
dispatcher, not the gateway. A failure becomes the API's error here (errors.py).
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import grpc

from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc
from icc_gateway.errors import from_rpc
from icc_rpc import DEFAULT_TIMEOUT_S, open_channel
from icc_rpc.identity import META_AGENCY, META_ROLE, META_USER

Request = TypeVar("Request")
Response = TypeVar("Response")
Metadata = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Identity:
    user: str
    agency: str
    role: str

    def metadata(self) -> Metadata:
        return ((META_USER, self.user), (META_AGENCY, self.agency), (META_ROLE, self.role))


# The gateway itself, reading what the picture needs.
SYSTEM = Identity("gateway", "COMMAND_CENTER", "system")


class Services:
    def __init__(self, incidents: str, resources: str, dispatch: str) -> None:
        self._channels = [open_channel(t) for t in (incidents, resources, dispatch)]
        self.incidents = incident_grpc.IncidentServiceStub(self._channels[0])
        self.resources = resource_grpc.ResourceServiceStub(self._channels[1])
        self.dispatch = dispatch_grpc.DispatchServiceStub(self._channels[2])

    async def call(
        self,
        service: str,
        method: Callable[..., Awaitable[Response]],
        request: Request,
        who: Identity = SYSTEM,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Response:
        """`method(request)` as `who`; a failed call raises the API's `ApiError`."""
        try:
            return await method(request, metadata=who.metadata(), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc(exc, service) from None

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
