"""EIDO subscribe/notify over WebSocket (mutual TLS, real NATS, the test database): a
partner's notifications stay within its scope and resume after a dropped connection with
nothing missed or repeated; it transfers a call in over the same socket; a client without
an ICC certificate never gets past the handshake."""

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_bus import BusConfig
from icc_incidents.eido import schema
from icc_incidents.main import Config, Running, start
from icc_testing import NatsServer, Pki

T = 10
AT = common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn")
SAMPLE = json.loads(
    (Path(__file__).parent / "fixtures" / "nena-call-transfer-sample.json").read_text()
)


@pytest_asyncio.fixture
async def running(nats_server: NatsServer, database_url: str, pki: Pki) -> AsyncIterator[Running]:
    config = Config(
        address="127.0.0.1:0",
        database_url=database_url,
        bus=BusConfig(url=nats_server.url),
        relay_enabled=True,
        tls=pki.tls("incidents"),
    )
    started = await start(replace(config, eido_ws_address="127.0.0.1:0"))
    try:
        yield started
    finally:
        await started.stop()


def client_tls(pki: Pki, who: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_path))
    if who is not None:
        tls = pki.tls(who)
        context.load_cert_chain(str(tls.cert), str(tls.key))
    return context


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=T))
    return message


async def subscribe(running: Running, pki: Pki, cursor: str = "") -> ClientConnection:
    url = f"wss://127.0.0.1:{running.eido_port}/eido" + (f"?cursor={cursor}" if cursor else "")
    ws = await connect(url, ssl=client_tls(pki, "police-113"), open_timeout=T)
    assert (await receive(ws))["type"] == "subscribed"  # nothing published now is missed
    return ws


async def create(stub: pb_grpc.IncidentServiceStub, type_code: str) -> str:
    reply = await stub.CreateIncident(
        pb.CreateIncidentRequest(incident=incident_pb2.Incident(type_code=type_code, location=AT)),
        timeout=T,
    )
    return reply.incident.name


async def test_notifications_resume_after_a_dropped_connection(running: Running, pki: Pki) -> None:
    channel = pki.channel(f"127.0.0.1:{running.port}")
    stub = pb_grpc.IncidentServiceStub(channel)
    try:
        ws = await subscribe(running, pki)
        a = await create(stub, "POLICE.BURGLARY")
        await create(stub, "MEDICAL.STROKE")  # not the police's
        b = await create(stub, "POLICE.ROBBERY")
        first = await receive(ws)
        assert (first["type"], first["action"]) == ("notify", "created")
        assert first["document"]["incidentComponent"]["internalIncidentId"] == a
        assert schema.violations(first["document"]) == []
        await ws.close()  # dropped before b's notification was read

        c = await create(stub, "POLICE.DRUGS")
        ws = await subscribe(running, pki, first["cursor"])
        seen = [(await receive(ws))["document"]["incidentComponent"]["internalIncidentId"]]
        seen.append((await receive(ws))["document"]["incidentComponent"]["internalIncidentId"])
        assert seen == [b, c], "after a: b and c, once each, and not the medical incident"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), timeout=0.5)  # nothing more, nothing twice
        await ws.close()
    finally:
        await channel.close()


async def test_a_partner_transfers_a_call_over_the_socket(running: Running, pki: Pki) -> None:
    doc = json.loads(json.dumps(SAMPLE).replace("a56e556d871", "ws000001"))
    doc["locationComponent"][0]["locationByValue"] = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gml="http://www.opengis.net/gml">'
        "<gml:Point><gml:pos>10.7769 106.7009</gml:pos></gml:Point></presence>"
    )
    ws = await subscribe(running, pki)
    await ws.send(json.dumps({"type": "update", "document": doc}))
    messages = [await receive(ws), await receive(ws)]
    by_type = {m["type"]: m for m in messages}
    assert by_type["updated"]["created"] is True
    name = by_type["updated"]["incident"]
    assert by_type["notify"]["document"]["incidentComponent"]["internalIncidentId"] == name

    broken = dict(doc, callComponent=[dict(doc["callComponent"][0], direction="sideways")])
    await ws.send(json.dumps({"type": "update", "document": broken}))
    refused = await receive(ws)
    assert refused["type"] == "error"
    assert [f["field"] for f in refused["fields"]] == ["document.callComponent[0].direction"]
    await ws.close()


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
    running: Running, pki: Pki, who: str | None
) -> None:
    context = foreign_tls(pki) if who == "foreign" else client_tls(pki, None)
    # Refused by TLS itself, not closed by the application after it let the client in.
    with pytest.raises((ssl.SSLError, OSError, EOFError, InvalidHandshake)):
        ws = await connect(f"wss://127.0.0.1:{running.eido_port}/eido", ssl=context, open_timeout=T)
        # TLS 1.3 may finish the client's side first: the server's refusal then ends it.
        await asyncio.wait_for(ws.recv(), timeout=T)
