"""EIDO subscribe/notify over WebSocket (after NENA-STA-024), for partner systems that do
not speak gRPC: mutual TLS (the city's CA; a client without a certificate never gets
past the handshake), the partner's identity and scope from its certificate, as on the
gRPC port.

    wss://HOST:PORT/eido?cursor=CURSOR      (cursor optional: from now on)

ICC first sends `{"type": "subscribed"}` (from then on nothing published is missed), then
one JSON text message per event about an incident the partner may see:
`{"type": "notify", "action", "cursor", "document"}` (the incident's EIDO document). A
partner that reconnects with the last `cursor` it received resumes with the next event:
nothing missed, nothing twice (the same cursor as `WatchIncidents`). It may send
`{"type": "update", "document": {...}}` (a call transferred in, as `ImportEido`); ICC
answers `{"type": "updated", "incident", "created", "replayed"}` or `{"type": "error",
"code", "message", "fields"}`. The rules are the gRPC methods' (`WatchIncidents`,
`ImportEido` in policy.py): a partner that may not call them is closed with 1008.
"""

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from icc_incidents.api import IncidentApi
from icc_incidents.policy import POLICY
from icc_kernel.errors import DomainError, InvalidInput
from icc_kernel.principals import Scope
from icc_pki import identity_of
from icc_rpc import TlsConfig
from icc_rpc.authz import answer_as, scope_of

log = logging.getLogger(__name__)
PATH = "/eido"
# A document is at most 1 MiB (as ImportEido); a little more for the envelope.
MAX_MESSAGE = (1 << 20) + 4096
POLICY_VIOLATION = 1008


def server_context(tls: TlsConfig) -> ssl.SSLContext:
    """TLS that requires a client certificate from the city's CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls.ca))
    context.load_cert_chain(str(tls.cert), str(tls.key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _scope(connection: ServerConnection) -> Scope | None:
    ssl_object = connection.transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    if not der:
        return None
    try:
        principal = identity_of(x509.load_der_x509_certificate(der)).principal()
    except ValueError:
        return None
    return scope_of(principal)


class EidoNotifier:
    def __init__(self, api: IncidentApi) -> None:
        self._api = api

    async def handle(self, connection: ServerConnection) -> None:
        request = connection.request
        target = urlsplit(request.path if request else "")
        s = _scope(connection)
        if target.path != PATH or s is None:
            await connection.close(POLICY_VIOLATION, "wss://.../eido with an ICC certificate")
            return
        if not POLICY.rules["WatchIncidents"].allows(s.principal):
            await connection.close(POLICY_VIOLATION, f"{s.principal.describe()} may not watch")
            return
        cursor = parse_qs(target.query).get("cursor", [""])[0]
        # The sending task answers as a WatchIncidents call (its scope, its audit).
        answer_as(s, "WatchIncidents")
        sending = asyncio.create_task(self._notify(connection, cursor))
        try:
            async for message in connection:
                await self._receive(connection, s, message)
        except ConnectionClosed:
            pass
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sending

    async def _notify(self, connection: ServerConnection, cursor: str) -> None:
        async def subscribed() -> None:
            await connection.send(json.dumps({"type": "subscribed"}))

        try:
            async for item in self._api.eido_stream(cursor, subscribed, set()):
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
        except InvalidInput as exc:
            await _error(connection, exc)
            await connection.close(POLICY_VIOLATION, "bad cursor")

    async def _receive(self, connection: ServerConnection, s: Scope, message: Any) -> None:
        try:
            body = json.loads(message)
            if not isinstance(body, dict) or body.get("type") != "update":
                raise InvalidInput.one("type", 'send {"type": "update", "document": {...}}')
            if not POLICY.rules["ImportEido"].allows(s.principal):
                await _send_error(connection, "permission_denied", "may not transfer calls")
                return
            document = body.get("document")
            text = document if isinstance(document, str) else json.dumps(document)
            answer_as(s, "ImportEido")
            imported = await self._api.import_document(text)
        except ValueError:
            await _send_error(connection, "invalid_argument", "not JSON")
            return
        except DomainError as exc:
            await _error(connection, exc)
            return
        await connection.send(
            json.dumps(
                {
                    "type": "updated",
                    "incident": imported.incident.name,
                    "created": imported.created,
                    "replayed": imported.replayed,
                }
            )
        )


async def _send_error(
    connection: ServerConnection,
    code: str,
    message: str,
    fields: tuple[dict[str, str], ...] = (),
) -> None:
    body = {"type": "error", "code": code, "message": message, "fields": list(fields)}
    await connection.send(json.dumps(body))


async def _error(connection: ServerConnection, exc: DomainError) -> None:
    fields = (
        tuple({"field": v.field, "description": v.description} for v in exc.violations)
        if isinstance(exc, InvalidInput)
        else ()
    )
    code = "invalid_argument" if isinstance(exc, InvalidInput) else type(exc).__name__
    await _send_error(connection, code, str(exc)[:500], fields)


async def start_notifier(
    address: str, api: IncidentApi, tls: TlsConfig
) -> tuple[Server, int, Callable[[], Awaitable[None]]]:
    """The WebSocket server on `address` ("host:port", port 0: any); (server, port, stop)."""
    host, _, port = address.rpartition(":")
    notifier = EidoNotifier(api)
    server = await serve(
        notifier.handle,
        host or "127.0.0.1",
        int(port),
        ssl=server_context(tls),
        max_size=MAX_MESSAGE,
    )
    bound = next(iter(server.sockets)).getsockname()[1]

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return server, int(bound), stop
