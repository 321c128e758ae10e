"""The gateway's gRPC clients of the incidents, resources and dispatch services.

Every call has a deadline (a partner's watch excepted), carries the trace context and goes
over mutual TLS with the gateway's certificate (icc_rpc channels). A call made for the
signed-in user carries the gateway's signed assertion of who they are (`icc_pki.assertion`:
name, agency, role; 60 s; for that service only), and one made for a partner on the
partner listener (partners.py) its assertion of that partner, so the services decide by,
and their chronology records, the dispatcher (and the gateway they came through) or the
partner. A failure becomes the API's error here (errors.py).
"""

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc
from cryptography import x509

from icc.dispatch.v1 import dispatch_service_pb2 as dispatch_pb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc
from icc_gateway.errors import from_rpc
from icc_pki import identity_of
from icc_pki.assertion import METADATA_KEY, TTL_S, Person, Signer
from icc_rpc import DEFAULT_TIMEOUT_S, TlsConfig, open_channel

Request = TypeVar("Request")
Response = TypeVar("Response")
Metadata = Sequence[tuple[str, str]]

# Each assertion is for one service: its gRPC full name is the audience.
AUDIENCES = {
    "incidents": incident_pb.DESCRIPTOR.services_by_name["IncidentService"].full_name,
    "resources": resource_pb.DESCRIPTOR.services_by_name["ResourceService"].full_name,
    "dispatch": dispatch_pb.DESCRIPTOR.services_by_name["DispatchService"].full_name,
}
# A signed assertion is reused for this long (it lives `TTL_S`): one signature per user,
# service and half minute, not one per call.
REUSE_S = TTL_S / 2


class Assertions:
    """Signed assertions of the signed-in users, kept while fresh."""

    def __init__(self, tls: TlsConfig) -> None:
        issuer = identity_of(_certificate(tls)).spiffe_id
        self._signer = Signer(tls.key.read_bytes(), issuer)
        self._made: dict[tuple[Person, str], tuple[Metadata, float]] = {}

    def metadata(self, person: Person, service: str) -> Metadata:
        now = time.monotonic()
        made = self._made.get((person, service))
        if made is not None and made[1] > now:
            return made[0]
        if len(self._made) > 10_000:
            self._made = {k: v for k, v in self._made.items() if v[1] > now}
        token = self._signer.sign(person, AUDIENCES[service])
        metadata = ((METADATA_KEY, token),)
        self._made[person, service] = (metadata, now + REUSE_S)
        return metadata


def _certificate(tls: TlsConfig) -> x509.Certificate:
    return x509.load_pem_x509_certificate(tls.cert.read_bytes())


class Services:
    def __init__(self, incidents: str, resources: str, dispatch: str, tls: TlsConfig) -> None:
        credentials = tls.channel_credentials()
        self._channels = [open_channel(t, credentials) for t in (incidents, resources, dispatch)]
        self._assertions = Assertions(tls)
        self.incidents = incident_grpc.IncidentServiceStub(self._channels[0])
        self.resources = resource_grpc.ResourceServiceStub(self._channels[1])
        self.dispatch = dispatch_grpc.DispatchServiceStub(self._channels[2])

    def acting_for(self, who: Person, service: str) -> Metadata:
        """The metadata of a call to `service` made for `who` (a person signed in, or a
        partner whose certificate the partner listener verified)."""
        return self._assertions.metadata(who, service)

    async def call(
        self,
        service: str,
        method: Callable[..., Awaitable[Response]],
        request: Request,
        who: Person | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Response:
        """`method(request)` for `who` (None: the gateway itself, reading the picture); a
        failed call raises the API's `ApiError`."""
        metadata = self._assertions.metadata(who, service) if who is not None else ()
        try:
            return await method(request, metadata=metadata, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc(exc, service) from None

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
