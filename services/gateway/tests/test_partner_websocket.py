"""EIDO subscribe/notify over WebSocket on the gateway's partner listener (mutual TLS, the
real services on real NATS): a partner's notifications stay within its scope and resume
after a dropped connection with nothing missed or repeated; it transfers a call in over
the same socket; a client without an ICC certificate never gets past the handshake, and
one that is not a partner's is closed."""

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_incidents.eido import schema
from icc_testing import Pki

from .conftest import Gateway, Services

T = 10
AT = common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn")
# NENA's call-transfer sample, as the incidents service's EIDO tests use it.
SAMPLE = json.loads(
    (
        Path(__file__).parents[2]
        / "incidents"
        / "tests"
        / "fixtures"
        / "nena-call-transfer-sample.json"
    ).read_text()
)


def url(gw: Gateway, cursor: str = "") -> str:
    port = gw.running.partner_port
    return f"wss://127.0.0.1:{port}/eido" + (f"?cursor={cursor}" if cursor else "")


def client_tls(pki: Pki, who: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_path))
    if who is not None:
        tls = pki.tls(who)
        context.load_cert_chain(str(tls.cert), str(tls.key))
    return context


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=T))
    return message


async def subscribe(
    gw: Gateway, pki: Pki, cursor: str = "", who: str = "police-113"
) -> ClientConnection:
    ws = await connect(url(gw, cursor), ssl=client_tls(pki, who), open_timeout=T)
    assert (await receive(ws))["type"] == "subscribed"  # nothing published now is missed
    return ws


async def create(stub: pb_grpc.IncidentServiceStub, type_code: str) -> str:
    reply = await stub.CreateIncident(
        pb.CreateIncidentRequest(incident=incident_pb2.Incident(type_code=type_code, location=AT)),
        timeout=T,
    )
    return reply.incident.name


def incident_id(message: dict[str, Any]) -> str:
    found: str = message["document"]["incidentComponent"]["internalIncidentId"]
    return found


async def until_created(ws: ClientConnection, name: str) -> list[dict[str, Any]]:
    """The notifications read up to `name`'s creation (itself included)."""
    seen = [await receive(ws)]
    while (seen[-1]["action"], incident_id(seen[-1])) != ("created", name):
        seen.append(await receive(ws))
    return seen


async def test_notifications_resume_after_a_dropped_connection(
    partners: Gateway, services: Services, pki: Pki
) -> None:
    channel = pki.channel(services.targets["incidents"])
    stub = pb_grpc.IncidentServiceStub(channel)
    try:
        # Never dropped: what the police are sent, for comparison (dispatch assigns units
        # as they are created: more than their creations are sent).
        continuous = await subscribe(partners, pki)
        ws = await subscribe(partners, pki)
        a = await create(stub, "POLICE.BURGLARY")
        medical = await create(stub, "MEDICAL.STROKE")  # not the police's
        b = await create(stub, "POLICE.ROBBERY")
        first = await receive(ws)
        assert (first["type"], first["action"]) == ("notify", "created")
        assert incident_id(first) == a
        assert schema.violations(first["document"]) == []
        await until_created(ws, b)
        await ws.close()  # dropped after reading a's creation and b's

        c = await create(stub, "POLICE.DRUGS")
        ws = await subscribe(partners, pki, first["cursor"])
        resumed = await until_created(ws, c)
        expected = (await until_created(continuous, c))[1:]
        assert [m["cursor"] for m in resumed] == [m["cursor"] for m in expected]
        assert [(m["action"], incident_id(m)) for m in resumed] == [
            (m["action"], incident_id(m)) for m in expected
        ]
        created = [incident_id(m) for m in resumed if m["action"] == "created"]
        assert created == [b, c], "after a: b and c, once each"
        assert medical not in {incident_id(m) for m in resumed + expected}
        await ws.close()
        await continuous.close()
    finally:
        await channel.close()


async def test_each_partner_sees_what_it_would_see_calling_itself(
    partners: Gateway, services: Services, pki: Pki
) -> None:
    """Personal data by the partner's role, drills only to those taking part: the scope
    of the partner's certificate, not the gateway's."""
    channel = pki.channel(services.targets["incidents"])
    stub = pb_grpc.IncidentServiceStub(channel)
    try:
        dispatcher = await subscribe(partners, pki)
        viewer = await subscribe(partners, pki, who="police-viewer")
        drill = await stub.CreateIncident(
            pb.CreateIncidentRequest(
                incident=incident_pb2.Incident(
                    type_code="POLICE.BURGLARY", location=AT, exercise=True
                )
            ),
            timeout=T,
        )
        made = await stub.CreateIncident(
            pb.CreateIncidentRequest(
                incident=incident_pb2.Incident(
                    type_code="POLICE.ROBBERY",
                    location=AT,
                    caller=incident_pb2.Caller(name="Nguyễn Văn A", phone="0909123456"),
                )
            ),
            timeout=T,
        )
        name = made.incident.name
        seen = await until_created(dispatcher, name)
        document = seen[-1]["document"]
        persons = document["personComponent"][0]["ncPersonComponent"]["name"][0]
        assert persons["personFullName"] == [{"value": "Nguyễn Văn A"}]
        shown = await until_created(viewer, name)
        assert "personComponent" not in shown[-1]["document"]
        assert "0909123456" not in json.dumps(shown[-1]["document"])
        # Neither police client takes part in drills.
        assert drill.incident.name not in {incident_id(m) for m in seen + shown}
        await dispatcher.close()
        await viewer.close()
    finally:
        await channel.close()


async def test_a_partner_transfers_a_call_over_the_socket(partners: Gateway, pki: Pki) -> None:
    doc = json.loads(json.dumps(SAMPLE).replace("a56e556d871", "ws000001"))
    doc["locationComponent"][0]["locationByValue"] = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gml="http://www.opengis.net/gml">'
        "<gml:Point><gml:pos>10.7769 106.7009</gml:pos></gml:Point></presence>"
    )
    ws = await subscribe(partners, pki)
    await ws.send(json.dumps({"type": "update", "document": doc}))
    messages = [await receive(ws), await receive(ws)]
    by_type = {m["type"]: m for m in messages}
    assert by_type["updated"]["created"] is True
    name = by_type["updated"]["incident"]
    assert incident_id(by_type["notify"]) == name

    # Sent again: found, nothing changed.
    await ws.send(json.dumps({"type": "update", "document": doc}))
    again = await receive(ws)
    assert (again["type"], again["incident"], again["created"], again["replayed"]) == (
        "updated",
        name,
        False,
        True,
    )

    broken = dict(doc, callComponent=[dict(doc["callComponent"][0], direction="sideways")])
    await ws.send(json.dumps({"type": "update", "document": broken}))
    refused = await receive(ws)
    assert (refused["type"], refused["code"]) == ("error", "invalid_argument")
    assert [f["field"] for f in refused["fields"]] == ["document.callComponent[0].direction"]

    # What is not an update is answered with an error; the socket stays open.
    await ws.send("not json")
    assert (await receive(ws))["code"] == "invalid_argument"
    await ws.send(json.dumps({"type": "subscribe"}))
    wrong = await receive(ws)
    assert (wrong["type"], [f["field"] for f in wrong["fields"]]) == ("error", ["type"])
    await ws.close()


async def test_a_partner_acts_within_its_own_rights(partners: Gateway, pki: Pki) -> None:
    # A viewer watches but may not transfer calls (ImportEido is for call-takers and up).
    ws = await subscribe(partners, pki, who="police-viewer")
    await ws.send(json.dumps({"type": "update", "document": SAMPLE}))
    refused = await receive(ws)
    assert (refused["type"], refused["code"]) == ("error", "permission_denied")
    assert "ImportEido" in refused["message"]
    await ws.close()


async def test_a_bad_cursor_is_refused(partners: Gateway, pki: Pki) -> None:
    ws = await connect(url(partners, "not-a-cursor"), ssl=client_tls(pki, "police-113"))
    messages = []
    with pytest.raises(ConnectionClosed):
        while True:
            messages.append(await receive(ws))
    # The service refuses the watch as it starts; its client may have seen the stream's
    # (empty) headers first, and then "subscribed" came before the refusal.
    assert [m["type"] for m in messages if m["type"] != "subscribed"] == ["error"]
    assert messages[-1]["code"] == "invalid_argument"
    assert ws.close_code == 1008


@pytest.mark.parametrize("who", ["dispatch", "device-ambulance"])
async def test_a_certificate_that_is_not_a_partners_is_closed(
    partners: Gateway, pki: Pki, who: str
) -> None:
    ws = await connect(url(partners), ssl=client_tls(pki, who), open_timeout=T)
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), timeout=T)
    assert ws.close_code == 1008


def foreign_tls(pki: Pki) -> ssl.SSLContext:
    """police-113's identity, certified by another CA."""
    context = client_tls(pki, None)
    issued = pki.other_ca.issue(pki.identities["police-113"])
    cert, key = pki.folder / "foreign.crt", pki.folder / "foreign.key"
    cert.write_bytes(issued.cert_pem)
    key.write_bytes(issued.key_pem)
    context.load_cert_chain(str(cert), str(key))
    return context


@pytest.mark.parametrize("who", [None, "foreign"])
async def test_a_client_without_an_icc_certificate_is_refused(
    partners: Gateway, pki: Pki, who: str | None
) -> None:
    context = foreign_tls(pki) if who == "foreign" else client_tls(pki, None)
    # Refused by TLS itself, not closed by the application after it let the client in.
    with pytest.raises((ssl.SSLError, OSError, EOFError, InvalidHandshake)):
        ws = await connect(url(partners), ssl=context, open_timeout=T)
        # TLS 1.3 may finish the client's side first: the server's refusal then ends it.
        await asyncio.wait_for(ws.recv(), timeout=T)
