"""EIDO subscribe/notify over WebSocket (after NENA-STA-024), for partner systems that do
not speak gRPC, on the gateway's partner listener (`ICC_GATEWAY_PARTNER_ADDR`): mutual
TLS with the gateway's certificate and the city's CA (a client without a certificate
never gets past the handshake); the partner is who its verified certificate names, never
what it writes.

    wss://HOST:PORT/eido?cursor=CURSOR      (cursor optional: from now on)

ICC first sends `{"type": "subscribed"}` (from then on nothing published is missed), then
one JSON text message per event about an incident the partner may see:
`{"type": "notify", "action", "cursor", "document"}` (the incident's EIDO document). A
partner that reconnects with the last `cursor` it received resumes with the next event:
nothing missed, nothing twice (the same cursor as `WatchIncidents`). It may send
`{"type": "update", "document": {...}}` (a call transferred in, as `ImportEido`); ICC
answers `{"type": "updated", "incident", "created", "replayed"}` or `{"type": "error",
"code", "message", "fields"}` (the codes of the HTTP API, API.md).

The gateway relays to the incidents service as the partner (its signed assertion of the
partner, `icc_pki.assertion`): `WatchIncidents` with `eido` for the notifications,
`ImportEido` for the updates. The service's policy decides, and its scope (the partner's
agency, personal data by its role, drills if it takes part) is the one the partner has
calling gRPC directly. A partner that may not watch is closed with 1008, as is one with a
bad cursor (after an error saying why).

A partner whose client offers the WebSocket subprotocol `emergency-ent1.0` speaks
NENA-STA-024.1a-2023's own messages instead (`subscribe`, `subscribeResponse`, `event`,
`unsubscribe`, `terminate`: `icc_gateway.sta024`), as does one that sends a `subscribe`
where ICC's envelope expects an update (ICC's stream to it stops there).
"""

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
from cryptography import x509
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from icc.incident.v1 import incident_service_pb2 as pb
from icc_gateway.clients import Services
from icc_gateway.errors import from_rpc
from icc_gateway.sta024 import SUBPROTOCOL, Sta024Session, is_subscribe
from icc_kernel.errors import InvalidInput
from icc_kernel.principals import Kind
from icc_kernel.roles import Role
from icc_pki import identity_of
from icc_pki.assertion import Person
from icc_rpc import DEFAULT_TIMEOUT_S, TlsConfig
from icc_rpc.errors import field_violations

log = logging.getLogger(__name__)
PATH = "/eido"
# A document is at most 1 MiB (as ImportEido); a little more for the envelope.
MAX_MESSAGE = (1 << 20) + 4096
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
# The incidents service refused the watch itself: who may not, or what it was asked.
_REFUSED = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
)


def server_context(tls: TlsConfig) -> ssl.SSLContext:
    """TLS that requires a client certificate from the city's CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls.ca))
    context.load_cert_chain(str(tls.cert), str(tls.key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def partner_of(connection: ServerConnection) -> Person | None:
    """The partner the connection's verified client certificate names; None for any
    other certificate (a service's, a device's) or one that names no one."""
    ssl_object = connection.transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    if not der:
        return None
    try:
        identity = identity_of(x509.load_der_x509_certificate(der))
    except ValueError:
        return None
    if identity.kind is not Kind.PARTNER:
        return None
    return Person(
        identity.name, identity.agency, Role(identity.role), identity.exercises, Kind.PARTNER
    )


def _reason(text: str) -> str:
    """A close reason: at most 123 bytes of UTF-8."""
    return text.encode()[:120].decode(errors="ignore")


class EidoRelay:
    """Each partner's socket, relayed to the incidents service as that partner."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def handle(self, connection: ServerConnection) -> None:
        request = connection.request
        target = urlsplit(request.path if request else "")
        partner = partner_of(connection)
        if target.path != PATH or partner is None:
            await connection.close(POLICY_VIOLATION, "wss://.../eido with a partner certificate")
            return
        if connection.subprotocol == SUBPROTOCOL:
            await Sta024Session(self._services, connection, partner, self._receive).run()
            return
        cursor = parse_qs(target.query).get("cursor", [""])[0]
        metadata = self._services.acting_for(partner, "incidents")
        watch = self._services.incidents.WatchIncidents(
            pb.WatchIncidentsRequest(cursor=cursor, eido=True), metadata=metadata
        )
        sending = asyncio.create_task(self._notify(connection, watch))
        standard = None
        try:
            async for message in connection:
                if is_subscribe(message):
                    standard = message  # the standard's messages from here on
                    break
                await self._receive(connection, partner, message)
        except ConnectionClosed:
            pass
        finally:
            watch.cancel()
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sending
        if standard is not None:
            await Sta024Session(self._services, connection, partner, self._receive).run(standard)

    async def _notify(self, connection: ServerConnection, watch: Any) -> None:
        try:
            # The service sends the stream's headers once its watch is live; a call it
            # refuses ends with its status instead.
            await watch.initial_metadata()
            if not watch.done():
                await connection.send(json.dumps({"type": "subscribed"}))
            async for item in watch:
                await connection.send(
                    json.dumps(
                        {
                            "type": "notify",
                            "action": item.eido_action,
                            "cursor": item.cursor,
                            "document": json.loads(item.eido_document),
                        },
                        ensure_ascii=False,
                    )
                )
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.CANCELLED:
                return  # the partner left
            if code == grpc.StatusCode.PERMISSION_DENIED:
                await connection.close(POLICY_VIOLATION, _reason(exc.details() or "may not watch"))
                return
            await connection.send(json.dumps(_rpc_error(exc)))
            if code in _REFUSED:
                why = "bad cursor" if code == grpc.StatusCode.INVALID_ARGUMENT else code.name
                await connection.close(POLICY_VIOLATION, why)
                return
        # The service stopped the watch (it is going away): the partner resumes with its
        # last cursor.
        await connection.close(INTERNAL_ERROR, "the incidents service ended the watch")

    async def _receive(self, connection: ServerConnection, partner: Person, message: Any) -> None:
        try:
            body = json.loads(message)
            if not isinstance(body, dict) or body.get("type") != "update":
                raise InvalidInput.one("type", 'send {"type": "update", "document": {...}}')
            document = body.get("document")
            text = document if isinstance(document, str) else json.dumps(document)
            reply = await self._services.incidents.ImportEido(
                pb.ImportEidoRequest(document=text),
                metadata=self._services.acting_for(partner, "incidents"),
                timeout=DEFAULT_TIMEOUT_S,
            )
        except ValueError:
            await _send_error(connection, "invalid_argument", "not JSON")
            return
        except InvalidInput as exc:
            fields = [{"field": v.field, "description": v.description} for v in exc.violations]
            await _send_error(connection, "invalid_argument", str(exc)[:500], fields)
            return
        except grpc.aio.AioRpcError as exc:
            await connection.send(json.dumps(_rpc_error(exc)))
            return
        await connection.send(
            json.dumps(
                {
                    "type": "updated",
                    "incident": reply.name,
                    "created": reply.created,
                    "replayed": reply.replayed,
                }
            )
        )


async def _send_error(
    connection: ServerConnection,
    code: str,
    message: str,
    fields: list[dict[str, str]] | None = None,
) -> None:
    body = {"type": "error", "code": code, "message": message, "fields": fields or []}
    await connection.send(json.dumps(body))


def _rpc_error(exc: grpc.aio.AioRpcError) -> dict[str, Any]:
    """The incidents service's refusal as an error message: the HTTP API's code, the
    service's own sentence (unless it failed), the offending fields as it names them."""
    api = from_rpc(exc, "incidents")
    message = api.message if api.code in ("internal", "unavailable") else exc.details() or ""
    fields = [{"field": v.field, "description": v.description} for v in field_violations(exc)]
    return {"type": "error", "code": api.code, "message": message[:500], "fields": fields}


def _select_subprotocol(
    _connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """STA-024's subprotocol when the client offers it; otherwise none (ICC's envelope)."""
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None


async def start_partners(address: str, services: Services, tls: TlsConfig) -> tuple[Server, int]:
    """The partner listener on `address` ("host:port", port 0: any): (server, port)."""
    host, _, port = address.rpartition(":")
    relay = EidoRelay(services)
    server = await serve(
        relay.handle,
        host.strip("[]") or "127.0.0.1",
        int(port),
        ssl=server_context(tls),
        max_size=MAX_MESSAGE,
        select_subprotocol=_select_subprotocol,
    )
    bound = next(iter(server.sockets)).getsockname()[1]
    log.info("partner listener (EIDO WebSocket)", extra={"address": f"{host}:{bound}"})
    return server, int(bound)
