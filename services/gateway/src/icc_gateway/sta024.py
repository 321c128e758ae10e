"""NENA-STA-024.1a-2023 subscribe/notify (its section 2.1) on the partner WebSocket.

A partner whose client offers the WebSocket subprotocol `emergency-ent1.0` (or whose first
message is a `subscribe`) speaks the standard's messages, each a JSON object with one
member named after the message:

    → {"subscribe": {"requestId", "requestType": "EIDO", "requestSubType": "new"|"single",
                     "requestAccepts"?, "incidentId"? (single), "expires"?, "minRate"?,
                     "maxRate"?, "subscriptionId"? (a renewal), "cursor"? (ICC)}}
    ← {"subscribeResponse": {"requestId", "subscriptionId", "expires", "minRate"?,
                             "maxRate"?, "statusCode", "statusText"}}
    ← {"event": {"subscriptionId", "transactionId", "notification": [EIDO, ...],
                 "cursor"? (ICC), "action"? (ICC)}}
    → {"eventResponse": {"transactionId", "statusCode", "statusText"}}   (read)
    → {"unsubscribe": {"requestId", "subscriptionId"}}
    ← {"unsubscribeResponse": {"requestId", "subscriptionId", "statusCode", "statusText"}}
    ← {"terminate": {"requestId", "subscriptionId", "reason" (ICC)}}  → terminateResponse (read)

Each subscription is a `WatchIncidents(eido)` of the incidents service as the partner (the
partner's scope, as in ICC's own envelope). ICC's extensions: `cursor` in a subscribe
resumes after that event, and each event that carries an incident's change has the event's
`cursor` and `action`; a partner that re-subscribes with the last cursor it received
misses nothing and is sent nothing twice. A new subscription without a cursor is first sent
one event with every active incident it may see (possibly none); a single-incident one,
that incident's document. Not supported: `qualFilter` (refused with 400), `maxRate` (always
granted as 0: notifications go as events happen), the notifier's role for the partner (it
transfers calls with ICC's `{"type": "update"}`, which is accepted here too).
"""

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc_gateway.clients import Services
from icc_pki.assertion import Person
from icc_rpc import DEFAULT_TIMEOUT_S

log = logging.getLogger(__name__)

# NENA-STA-024.1a-2023 section 2.1.3.1.2: the WebSocket subprotocol of EIDO conveyance.
SUBPROTOCOL = "emergency-ent1.0"
EIDO_MEDIA_TYPE = "application/emergency.eido+json"
OK, BAD_REQUEST, FORBIDDEN, NOT_FOUND, NOT_ACCEPTABLE = 200, 400, 403, 404, 406
NO_SUBSCRIPTION, INTERNAL, UNAVAILABLE = 481, 500, 503
STATUS_TEXT = {
    OK: "OK",
    BAD_REQUEST: "Bad Request",
    FORBIDDEN: "Forbidden",
    NOT_FOUND: "Not Found",
    NOT_ACCEPTABLE: "Not Acceptable",
    NO_SUBSCRIPTION: "Subscription Does Not Exist",
    INTERNAL: "Internal Server Error",
    UNAVAILABLE: "Service Unavailable",
}
# Seconds a subscription lasts unless renewed: as asked, within these bounds.
DEFAULT_EXPIRES, MIN_EXPIRES, MAX_EXPIRES = 3600, 15, 86400
MIN_MIN_RATE = 5
MAX_SUBSCRIPTIONS = 8
# The first notification of a new subscription holds at most this many active incidents.
MAX_ACTIVE = 500
ACTIVE = [
    incident_pb2.INCIDENT_STATE_NEW,
    incident_pb2.INCIDENT_STATE_DISPATCHED,
    incident_pb2.INCIDENT_STATE_EN_ROUTE,
    incident_pb2.INCIDENT_STATE_ON_SCENE,
]
_STATUS_OF_RPC = {
    grpc.StatusCode.INVALID_ARGUMENT: BAD_REQUEST,
    grpc.StatusCode.PERMISSION_DENIED: FORBIDDEN,
    grpc.StatusCode.UNAUTHENTICATED: FORBIDDEN,
    grpc.StatusCode.NOT_FOUND: NOT_FOUND,
    grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
}
TRACKING_PREFIX = "urn:emergency:uid:incidentid:"

Update = Callable[[ServerConnection, Person, Any], Awaitable[None]]


class Refused(Exception):
    """A request answered with a status other than 200."""

    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(text)
        self.status = status
        self.text = text or STATUS_TEXT[status]


def is_subscribe(message: Any) -> bool:
    """Whether a message is an STA-024 `subscribe` (a partner choosing the standard's
    messages without offering the subprotocol)."""
    try:
        body = json.loads(message)
    except ValueError:
        return False
    return isinstance(body, dict) and "subscribe" in body and "type" not in body


def incident_ids(document: dict[str, Any]) -> set[str]:
    """The ids a partner may name an incident by: its tracking id (the document's `$id`),
    its incident component's `$id`, ICC's name (`incidents/ID`)."""
    ids = {document.get("$id")}
    components = document.get("incidentComponent")
    for c in components if isinstance(components, list) else [components]:
        if isinstance(c, dict):
            ids |= {c.get("$id"), c.get("internalIncidentId")}
    return {i for i in ids if isinstance(i, str) and i}


def name_of(incident_id: str) -> str:
    """ICC's name of the incident a partner names (checked against its document later)."""
    if incident_id.startswith("incidents/"):
        return incident_id
    if incident_id.startswith(TRACKING_PREFIX):
        return "incidents/" + incident_id.removeprefix(TRACKING_PREFIX).partition(":")[0]
    return "incidents/" + incident_id.rpartition(":")[2]


def _positive(request: dict[str, Any], key: str) -> int | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Refused(BAD_REQUEST, f"{key} must be a number of seconds")
    return value


def _accepts_eido(accepts: Any) -> bool:
    """`requestAccepts` names EIDO's media type with a version list including 1."""
    if not isinstance(accepts, str):
        return False
    for kind in accepts.split(","):
        if kind.strip().lower().startswith(EIDO_MEDIA_TYPE):
            break
    else:
        return False
    _, _, params = accepts.lower().partition(EIDO_MEDIA_TYPE)
    _, has_version, versions = params.partition("version=")
    if not has_version:
        return True
    wanted = versions.strip().strip("\"'“”").replace('"', "").replace("”", "")
    return "1" in {v.strip().partition(".")[0] for v in wanted.split(",")}


@dataclass
class Subscription:
    id: str
    watch: Any
    expires: int
    min_rate: int
    incident: str | None  # a single incident's id as the partner named it
    first: list[dict[str, Any]] | None  # the first notification's documents, if any
    deadline: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def renew(self) -> None:
        self.deadline = time.monotonic() + self.expires


class PartnerReads:
    """What a subscription reads from the incidents service, as the partner."""

    def __init__(self, services: Services, partner: Person) -> None:
        self._services = services
        self._partner = partner

    async def watch(self, cursor: str) -> Any:
        """The partner's watch, once the service has it live (nothing later is missed)."""
        watch = self._services.incidents.WatchIncidents(
            pb.WatchIncidentsRequest(cursor=cursor, eido=True),
            metadata=self._services.acting_for(self._partner, "incidents"),
        )
        try:
            await watch.initial_metadata()
        except grpc.aio.AioRpcError as exc:
            raise _refused(exc) from exc
        if watch.done():  # refused as it started (or ended at once)
            code = await watch.code()
            status = _STATUS_OF_RPC.get(code, UNAVAILABLE)
            text = "" if status == INTERNAL else await watch.details() or ""
            raise Refused(status, text[:500] or "the incidents service ended the watch")
        return watch

    async def _call(self, rpc: Any, request: Any) -> Any:
        try:
            return await rpc(
                request,
                metadata=self._services.acting_for(self._partner, "incidents"),
                timeout=DEFAULT_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            raise _refused(exc) from exc

    async def document(self, incident: str) -> dict[str, Any]:
        """The incident a single-incident subscription names, as the partner sees it."""
        try:
            reply = await self._call(
                self._services.incidents.GetIncidentEido,
                pb.GetIncidentEidoRequest(name=name_of(incident)),
            )
        except Refused as refused:
            if refused.status in (BAD_REQUEST, FORBIDDEN):
                raise Refused(NOT_FOUND, "no such incident") from refused
            raise
        document: dict[str, Any] = json.loads(reply.document)
        if incident not in incident_ids(document):
            raise Refused(NOT_FOUND, "no such incident")
        return document

    async def active(self) -> list[dict[str, Any]]:
        """Every active incident the partner sees, as EIDO documents."""
        names: list[str] = []
        token = ""
        while len(names) < MAX_ACTIVE:
            page = await self._call(
                self._services.incidents.ListIncidents,
                pb.ListIncidentsRequest(page_size=MAX_ACTIVE, page_token=token, states=ACTIVE),
            )
            names += [i.name for i in page.incidents]
            token = page.next_page_token
            if not token:
                break
        documents = []
        for name in names[:MAX_ACTIVE]:
            try:
                reply = await self._call(
                    self._services.incidents.GetIncidentEido, pb.GetIncidentEidoRequest(name=name)
                )
            except Refused as refused:
                if refused.status == NOT_FOUND:
                    continue  # no longer the partner's
                raise
            documents.append(json.loads(reply.document))
        return documents


class Sta024Session:
    """One partner's socket speaking STA-024: its subscriptions, each relayed from the
    incidents service as that partner."""

    def __init__(
        self,
        services: Services,
        connection: ServerConnection,
        partner: Person,
        update: Update,
    ) -> None:
        self._services = services
        self._connection = connection
        self._partner = partner
        self._update = update
        self._reads = PartnerReads(services, partner)
        self._subscriptions: dict[str, Subscription] = {}

    async def run(self, first: Any = None) -> None:
        try:
            if first is not None:
                await self._on(first)
            async for message in self._connection:
                await self._on(message)
        except ConnectionClosed:
            pass
        finally:
            for subscription in list(self._subscriptions.values()):
                await self._end(subscription)

    async def _on(self, message: Any) -> None:
        try:
            body = json.loads(message)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("type") == "update":
            await self._update(self._connection, self._partner, message)  # ICC's own
        elif isinstance(body, dict) and "subscribe" in body:
            await self._subscribe(body["subscribe"])
        elif isinstance(body, dict) and "unsubscribe" in body:
            await self._unsubscribe(body["unsubscribe"])
        elif isinstance(body, dict) and body.keys() & {"eventResponse", "terminateResponse"}:
            pass  # acknowledgements: ICC's delivery does not depend on them
        else:
            await self._send(
                {
                    "type": "error",
                    "code": "invalid_argument",
                    "message": "send subscribe, unsubscribe, eventResponse or terminateResponse",
                    "fields": [],
                }
            )

    async def _send(self, body: dict[str, Any]) -> None:
        await self._connection.send(json.dumps(body, ensure_ascii=False))

    async def _subscribe(self, request: Any) -> None:
        request_id = request.get("requestId") if isinstance(request, dict) else None
        answer: dict[str, Any] = {"requestId": request_id}
        try:
            if not isinstance(request, dict) or not isinstance(request_id, str) or not request_id:
                raise Refused(BAD_REQUEST, "subscribe needs a requestId")
            renewed = request.get("subscriptionId")
            if renewed is not None:
                subscription = self._renew(renewed, request)
            else:
                subscription = await self._new(request)
        except Refused as refused:
            if isinstance(request, dict) and isinstance(request.get("subscriptionId"), str):
                answer["subscriptionId"] = request["subscriptionId"]
            answer |= {"statusCode": refused.status, "statusText": refused.text}
            await self._send({"subscribeResponse": answer})
            return
        answer |= {"subscriptionId": subscription.id, "expires": subscription.expires}
        if subscription.min_rate:
            answer["minRate"] = subscription.min_rate
        if request.get("maxRate") is not None:
            answer["maxRate"] = 0  # no wait between notifications (shorter, as allowed)
        answer |= {"statusCode": OK, "statusText": STATUS_TEXT[OK]}
        await self._send({"subscribeResponse": answer})
        if subscription.task is None:
            subscription.task = asyncio.create_task(self._notify(subscription))

    def _renew(self, subscription_id: Any, request: dict[str, Any]) -> Subscription:
        subscription = self._subscriptions.get(subscription_id)
        if subscription is None:
            raise Refused(NO_SUBSCRIPTION)
        expires = _positive(request, "expires")
        if expires is not None:
            subscription.expires = min(max(expires, MIN_EXPIRES), MAX_EXPIRES)
        subscription.renew()
        return subscription

    async def _new(self, request: dict[str, Any]) -> Subscription:
        kind, sub_type = request.get("requestType"), request.get("requestSubType")
        if not isinstance(kind, str) or kind.upper() != "EIDO":
            raise Refused(BAD_REQUEST, "requestType must be EIDO")
        if sub_type not in ("new", "single"):
            raise Refused(BAD_REQUEST, "requestSubType must be new or single")
        incident = request.get("incidentId")
        if sub_type == "single" and not (isinstance(incident, str) and incident):
            raise Refused(BAD_REQUEST, "a single-incident subscription needs an incidentId")
        if sub_type == "new" and incident is not None:
            raise Refused(BAD_REQUEST, "incidentId is for a single-incident subscription")
        if request.get("qualFilter") is not None:
            raise Refused(BAD_REQUEST, "qualFilter is not supported")
        if "requestAccepts" in request and not _accepts_eido(request["requestAccepts"]):
            raise Refused(NOT_ACCEPTABLE, f'only {EIDO_MEDIA_TYPE}; version="1"')
        expires = _positive(request, "expires")
        min_rate = _positive(request, "minRate") or 0
        _positive(request, "maxRate")
        cursor = request.get("cursor", "")
        if not isinstance(cursor, str):
            raise Refused(BAD_REQUEST, "cursor must be the text of an event's cursor")
        if len(self._subscriptions) >= MAX_SUBSCRIPTIONS:
            raise Refused(UNAVAILABLE, f"at most {MAX_SUBSCRIPTIONS} subscriptions a socket")
        # The watch is live before the first notification is read: a change in between
        # comes after it, none is missed.
        watch = await self._reads.watch(cursor)
        first: list[dict[str, Any]] | None = None
        try:
            if incident is not None and not cursor:
                first = [await self._reads.document(incident)]
            elif not cursor:
                first = await self._reads.active()
        except Refused:
            watch.cancel()
            raise
        subscription = Subscription(
            id=str(uuid.uuid4()),
            watch=watch,
            expires=DEFAULT_EXPIRES
            if expires is None
            else min(max(expires, MIN_EXPIRES), MAX_EXPIRES),
            min_rate=max(min_rate, MIN_MIN_RATE) if min_rate else 0,
            incident=incident,
            first=first,
        )
        subscription.renew()
        self._subscriptions[subscription.id] = subscription
        return subscription

    async def _notify(self, subscription: Subscription) -> None:
        """The subscription's events as they come: its first notification, then each change
        (a single incident's only), an empty one after `minRate` seconds of none, and
        `terminate` when it expires or the service ends the watch."""
        reading: asyncio.Future[Any] | None = None
        try:
            last = time.monotonic()
            if subscription.first is not None:
                await self._event(subscription, subscription.first)
                last = time.monotonic()
            while True:
                if reading is None:
                    reading = asyncio.ensure_future(subscription.watch.read())
                now = time.monotonic()
                wait = subscription.deadline - now
                if subscription.min_rate:
                    wait = min(wait, last + subscription.min_rate - now)
                done, _ = await asyncio.wait({reading}, timeout=max(wait, 0))
                if not done:
                    now = time.monotonic()
                    if now >= subscription.deadline:
                        await self._terminate(subscription, "expired")
                        return
                    if subscription.min_rate and now >= last + subscription.min_rate:
                        await self._event(subscription, [])  # nothing new, still there
                        last = now
                    continue  # renewed meanwhile
                item, reading = reading.result(), None
                if item is grpc.aio.EOF:
                    await self._terminate(subscription, "the incidents service ended the watch")
                    return
                document = json.loads(item.eido_document)
                if subscription.incident and subscription.incident not in incident_ids(document):
                    continue
                await self._event(subscription, [document], item.cursor, item.eido_action)
                last = time.monotonic()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                await self._terminate(subscription, _refused(exc).text)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("partner subscription failed", extra={"subscription": subscription.id})
            await self._terminate(subscription, "internal error")
        finally:
            if reading is not None:
                reading.cancel()  # the read of a watch cancelled with the subscription

    async def _event(
        self,
        subscription: Subscription,
        documents: list[dict[str, Any]],
        cursor: str = "",
        action: str = "",
    ) -> None:
        event: dict[str, Any] = {
            "subscriptionId": subscription.id,
            "transactionId": str(uuid.uuid4()),
            "notification": documents,
        }
        if cursor:
            event |= {"cursor": cursor, "action": action}
        await self._send({"event": event})

    async def _terminate(self, subscription: Subscription, reason: str) -> None:
        """The notifier ends a subscription; the socket closes with its last one."""
        self._subscriptions.pop(subscription.id, None)
        subscription.watch.cancel()
        with contextlib.suppress(ConnectionClosed):
            await self._send(
                {
                    "terminate": {
                        "requestId": str(uuid.uuid4()),
                        "subscriptionId": subscription.id,
                        "reason": reason,
                    }
                }
            )
            if not self._subscriptions:
                await self._connection.close(1000, "no subscription left")

    async def _end(self, subscription: Subscription) -> None:
        """Stops a subscription's notifications: none is sent once this returns."""
        self._subscriptions.pop(subscription.id, None)
        subscription.watch.cancel()
        if subscription.task is not None and subscription.task is not asyncio.current_task():
            subscription.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await subscription.task

    async def _unsubscribe(self, request: Any) -> None:
        request_id = request.get("requestId") if isinstance(request, dict) else None
        subscription_id = request.get("subscriptionId") if isinstance(request, dict) else None
        answer: dict[str, Any] = {"requestId": request_id, "subscriptionId": subscription_id}
        if not isinstance(request_id, str) or not isinstance(subscription_id, str):
            status, text = BAD_REQUEST, "unsubscribe needs a requestId and a subscriptionId"
        elif (subscription := self._subscriptions.get(subscription_id)) is None:
            status, text = NO_SUBSCRIPTION, STATUS_TEXT[NO_SUBSCRIPTION]
        else:
            await self._end(subscription)
            status, text = OK, STATUS_TEXT[OK]
        await self._send(
            {"unsubscribeResponse": answer | {"statusCode": status, "statusText": text}}
        )


def _refused(exc: grpc.aio.AioRpcError) -> Refused:
    """The incidents service's refusal as an STA-024 status."""
    status = _STATUS_OF_RPC.get(exc.code(), INTERNAL)
    text = "" if status == INTERNAL else exc.details() or ""
    return Refused(status, text[:500])
