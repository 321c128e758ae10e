"""NENA-STA-024.1a-2023 subscribe/notify on the gateway's partner WebSocket (mutual TLS,
the real services on real NATS): a client offering the `emergency-ent1.0` subprotocol
subscribes, is answered with the standard's status codes, is notified with EIDO documents
of its scope only, unsubscribes, and resumes after a dropped connection (ICC's cursor)
with nothing missed or repeated."""

import json
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_incidents.eido import schema
from icc_testing import Pki

from .conftest import Gateway, Services
from .test_partner_websocket import T, client_tls, create, receive, url

SUBPROTOCOL = "emergency-ent1.0"
ACCEPTS = 'application/emergency.eido+json; version="1"'
TRACKING = "urn:emergency:uid:incidentid:"


async def open_socket(gw: Gateway, pki: Pki, who: str = "police-113") -> ClientConnection:
    ws = await connect(
        url(gw), ssl=client_tls(pki, who), subprotocols=[SUBPROTOCOL], open_timeout=T
    )
    assert ws.subprotocol == SUBPROTOCOL
    return ws


async def answer(ws: ClientConnection, skipped: list[dict[str, Any]] | None = None) -> Any:
    """The next message that is not a notification (those go to `skipped`)."""
    while True:
        message = await receive(ws)
        if "event" not in message and message.get("type") not in ("notify", "subscribed"):
            return message
        if skipped is not None:
            skipped.append(message)


async def request(
    ws: ClientConnection, kind: str, skipped: list[dict[str, Any]] | None = None, **body: Any
) -> dict[str, Any]:
    """Sends `kind` (with a fresh requestId) and returns its response's body."""
    request_id = str(uuid.uuid4())
    await ws.send(json.dumps({kind: {"requestId": request_id, **body}}))
    reply: dict[str, Any] = (await answer(ws, skipped))[f"{kind}Response"]
    assert reply["requestId"] == request_id
    return reply


async def subscribe(ws: ClientConnection, **body: Any) -> dict[str, Any]:
    asked = {"requestType": "EIDO", "requestSubType": "new", "requestAccepts": ACCEPTS}
    return await request(ws, "subscribe", **(asked | body))


def internal_ids(documents: list[dict[str, Any]]) -> list[str]:
    return [d["incidentComponent"]["internalIncidentId"] for d in documents]


async def event(ws: ClientConnection) -> dict[str, Any]:
    message = await receive(ws)
    body: dict[str, Any] = message["event"]
    assert body["transactionId"]
    return body


async def until_created(ws: ClientConnection, name: str) -> list[dict[str, Any]]:
    """The events read up to `name`'s creation (itself included)."""
    seen = [await event(ws)]
    while (seen[-1].get("action"), internal_ids(seen[-1]["notification"])) != ("created", [name]):
        seen.append(await event(ws))
    return seen


async def test_subscribe_notify_unsubscribe_and_resume(
    partners: Gateway, services: Services, pki: Pki
) -> None:
    channel = pki.channel(services.targets["incidents"])
    stub = pb_grpc.IncidentServiceStub(channel)
    try:
        before = await create(stub, "POLICE.BURGLARY")
        others = await create(stub, "MEDICAL.STROKE")  # not the police's
        continuous = await open_socket(partners, pki)
        answer = await subscribe(continuous, expires=120)
        assert (answer["statusCode"], answer["statusText"], answer["expires"]) == (200, "OK", 120)
        # First, every active incident the subscriber may see.
        first = await event(continuous)
        assert first["subscriptionId"] == answer["subscriptionId"]
        assert internal_ids(first["notification"]) == [before]
        assert "cursor" not in first

        ws = await open_socket(partners, pki)
        dropped = (await subscribe(ws))["subscriptionId"]
        assert internal_ids((await event(ws))["notification"]) == [before]
        a = await create(stub, "POLICE.ROBBERY")
        medical = await create(stub, "MEDICAL.STROKE")
        b = await create(stub, "POLICE.DRUGS")
        seen = await until_created(ws, b)
        assert (seen[0]["action"], internal_ids(seen[0]["notification"])) == ("created", [a])
        assert {e["subscriptionId"] for e in seen} == {dropped}
        assert all(schema.violations(e["notification"][0]) == [] for e in seen)

        # Unsubscribed: nothing more for that subscription, even on the same socket.
        gone = await request(ws, "unsubscribe", subscriptionId=dropped)
        assert (gone["statusCode"], gone["subscriptionId"]) == (200, dropped)
        skipped: list[dict[str, Any]] = []
        again = await request(ws, "unsubscribe", skipped, subscriptionId=dropped)
        assert again["statusCode"] == 481
        renewed = (await subscribe(ws, skipped=skipped))["subscriptionId"]
        assert skipped == []
        assert sorted(internal_ids((await event(ws))["notification"])) == sorted([before, a, b])
        c = await create(stub, "POLICE.ASSAULT")
        after = await until_created(ws, c)
        assert {e["subscriptionId"] for e in after} == {renewed}
        await ws.close()  # dropped

        # Resumed on a new socket from a's event (ICC's cursor): as if never dropped.
        d = await create(stub, "POLICE.FRAUD")
        ws = await open_socket(partners, pki)
        resuming = await subscribe(ws, cursor=seen[0]["cursor"])
        assert resuming["statusCode"] == 200
        resumed = await until_created(ws, d)
        assert (await until_created(continuous, a))[-1]["cursor"] == seen[0]["cursor"]
        expected = await until_created(continuous, d)
        assert [e["cursor"] for e in resumed] == [e["cursor"] for e in expected]
        assert [e["action"] for e in resumed] == [e["action"] for e in expected]
        created = [internal_ids(e["notification"])[0] for e in resumed if e["action"] == "created"]
        assert created == [b, c, d], "after a: b, c and d, once each"
        notified = {i for e in resumed + expected for i in internal_ids(e["notification"])}
        assert not {medical, others} & notified
        await ws.close()
        await continuous.close()
    finally:
        await channel.close()


async def test_requests_are_answered_with_the_standards_codes(
    partners: Gateway, services: Services, pki: Pki
) -> None:
    channel = pki.channel(services.targets["incidents"])
    stub = pb_grpc.IncidentServiceStub(channel)
    try:
        mine = await create(stub, "POLICE.BURGLARY")
        theirs = await create(stub, "MEDICAL.STROKE")
        ws = await open_socket(partners, pki)
        await ws.send(json.dumps({"subscribe": {"requestType": "EIDO"}}))
        assert (await answer(ws))["subscribeResponse"]["statusCode"] == 400  # no requestId
        for wrong, status in [
            ({"requestType": "XML"}, 400),
            ({"requestSubType": "all"}, 400),
            ({"requestSubType": "single"}, 400),  # which incident?
            ({"incidentId": mine}, 400),  # only for a single incident
            ({"qualFilter": "<filter_string>"}, 400),  # not supported
            ({"minRate": "soon"}, 400),
            ({"requestAccepts": "application/json"}, 406),
            ({"requestAccepts": ACCEPTS.replace('"1"', '"2,3"')}, 406),
            ({"subscriptionId": "sub1234"}, 481),  # a renewal of nothing
            ({"requestSubType": "single", "incidentId": theirs}, 404),  # not the police's
            ({"requestSubType": "single", "incidentId": TRACKING + "nope:example.org"}, 404),
        ]:
            refused = await subscribe(ws, **wrong)
            assert (wrong, refused["statusCode"]) == (wrong, status)
            assert "subscriptionId" not in refused or wrong.get("subscriptionId")

        # One incident, named by its tracking id: its document first, then its changes only.
        got = await stub.GetIncidentEido(pb.GetIncidentEidoRequest(name=mine), timeout=T)
        document = json.loads(got.document)
        assert document["$id"].startswith(TRACKING)
        single = await subscribe(
            ws, requestType="eido", requestSubType="single", incidentId=document["$id"], maxRate=9
        )
        assert (single["statusCode"], single["maxRate"]) == (200, 0)  # sent as they happen
        first = await event(ws)
        assert (first["subscriptionId"], internal_ids(first["notification"])) == (
            single["subscriptionId"],
            [mine],
        )
        await create(stub, "POLICE.ROBBERY")  # another police incident: not this subscription's
        await stub.AddNote(pb.AddNoteRequest(parent=mine, text="cửa sau bị phá"), timeout=T)
        changed = await event(ws)
        assert internal_ids(changed["notification"]) == [mine]
        assert changed["cursor"] and changed["action"]
        renewed = await subscribe(ws, subscriptionId=single["subscriptionId"], expires=30)
        assert (renewed["statusCode"], renewed["subscriptionId"], renewed["expires"]) == (
            200,
            single["subscriptionId"],
            30,
        )
        rated = await subscribe(ws, minRate=1)
        assert (rated["statusCode"], rated["minRate"]) == (200, 5)

        # What is not a request of the standard (nor ICC's update) is answered with an error.
        await ws.send("not json")
        assert (await answer(ws))["type"] == "error"
        gone = await request(ws, "unsubscribe", subscriptionId=None)
        assert gone["statusCode"] == 400
        await ws.close()
    finally:
        await channel.close()


async def test_a_subscribe_switches_a_socket_to_the_standards_messages(
    partners: Gateway, pki: Pki
) -> None:
    # A client that offers no subprotocol starts with ICC's envelope...
    ws = await connect(url(partners), ssl=client_tls(pki, "police-113"), open_timeout=T)
    assert ws.subprotocol is None
    assert (await receive(ws))["type"] == "subscribed"
    # ...and a subscribe turns it to the standard's.
    subscribed = await subscribe(ws)
    assert subscribed["statusCode"] == 200
    assert (await event(ws))["notification"] == []  # no active police incident
    await ws.close()


async def test_a_bad_cursor_is_refused(partners: Gateway, pki: Pki) -> None:
    ws = await open_socket(partners, pki)
    refused = await subscribe(ws, cursor="not-a-cursor")
    if refused["statusCode"] == 200:
        # The service may have made the watch live before it refused the cursor: the
        # subscription is then terminated at once (and the socket, its last, closed).
        ended = await answer(ws)
        assert ended["terminate"]["subscriptionId"] == refused["subscriptionId"]
    else:
        assert refused["statusCode"] == 400
    await ws.close()
