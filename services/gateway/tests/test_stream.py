"""The live picture over real HTTP: snapshot, changes, resuming with Last-Event-ID."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc
from icc_bus import BusConfig
from icc_dispatch import main as dispatch_main
from icc_dispatch.service import Settings
from icc_gateway import main as gateway_main
from icc_gateway.config import PictureSettings
from icc_gateway.domain.model import Incident
from icc_incidents import main as incidents_main
from icc_resources import main as resources_main
from icc_testing import NatsServer, Pki, free_port

from .conftest import (
    CURSOR_BASE,
    Event,
    EventStream,
    Gateway,
    Services,
    eventually,
    gateway_config,
    incident_body,
)


@contextlib.asynccontextmanager
async def stream(
    client: httpx.AsyncClient, last_event_id: str | None = None, query: str = ""
) -> AsyncIterator[EventStream]:
    headers = {"accept": "text/event-stream"}
    if last_event_id is not None:
        headers["last-event-id"] = last_event_id
    async with client.stream(
        "GET", "/api/v1/picture/stream" + query, headers=headers, timeout=None
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)


def incident_change(incident_id: str, op: str = "upsert") -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        return (
            e.event == "change"
            and e.data["kind"] == "incident"
            and e.data["op"] == op
            and e.data["item"]["id"] == incident_id
        )

    return match


async def create(client: httpx.AsyncClient, request_id: str, **extra: Any) -> str:
    reply = await client.post("/api/v1/incidents", json=incident_body(request_id, **extra))
    assert reply.status_code == 201, reply.text
    incident_id: str = reply.json()["incident"]["id"]
    return incident_id


async def test_a_new_incident_reaches_the_picture_and_every_screen(gateway: Gateway) -> None:
    viewer = await gateway.client("viewer")
    calltaker = await gateway.client("calltaker")
    async with stream(viewer) as screen:
        snapshot = await screen.next()
        assert snapshot.event == "snapshot"
        assert int(snapshot.id or 0) == snapshot.data["cursor"] > CURSOR_BASE
        assert len(snapshot.data["units"]) > 500 and len(snapshot.data["hospitals"]) > 40
        assert snapshot.data["incidents"] == []
        assert snapshot.data["server_time"].endswith("Z")

        incident_id = await create(calltaker, "stream-1", priority=4, description="rác cháy")
        change, seen = await screen.until(incident_change(incident_id))
        ids = [int(e.id or 0) for e in seen]
        assert ids == list(range(snapshot.data["cursor"] + 1, ids[-1] + 1))
        item = change.data["item"]
        assert item["type_code"] == "FIRE.RUBBISH" and item["priority"] == 4
        assert item["state"] == "NEW" and item["description"] == "rác cháy"
        assert "caller" not in item and "notes" not in item

        picture = (await viewer.get("/api/v1/picture")).json()
        assert picture["cursor"] >= int(change.id or 0)
        assert [i["id"] for i in picture["incidents"]] == [incident_id]


async def test_dispatch_shows_on_the_picture_and_a_closed_incident_leaves(
    gateway: Gateway,
) -> None:
    dispatcher = await gateway.client("dispatcher")
    async with stream(dispatcher) as screen:
        await screen.next()
        # P1: dispatched automatically, no dispatcher involved.
        incident_id = await create(dispatcher, "stream-p1", type_code="MEDICAL.CARDIAC_ARREST")

        def assigned(e: Event) -> bool:
            return incident_change(incident_id)(e) and len(e.data["item"]["assignments"]) == 2

        change, seen = await screen.until(assigned)
        assignments = change.data["item"]["assignments"]
        assert {a["kind"] for a in assignments} == {"AMBULANCE_ALS", "MOTORBIKE_RESPONDER"}
        assert {a["state"] for a in assignments} == {"ASSIGNED"}
        units = {a["unit"] for a in assignments}

        def held(e: Event) -> bool:
            return (
                e.event == "change"
                and e.data["kind"] == "unit"
                and e.data["item"]["id"] in units
                and e.data["item"]["incident"] == incident_id
            )

        # The units' own changes come before or after the incident's, in any order.
        while len({e.data["item"]["id"] for e in seen if held(e)}) < len(units):
            seen.append(await screen.next())
        assert {e.data["item"]["status"] for e in seen if held(e)} == {"DISPATCHED"}

        released = await dispatcher.post(
            f"/api/v1/incidents/{incident_id}/release", json={"reason": "false alarm"}
        )
        assert released.status_code == 200, released.text

        async def cancelled() -> bool:
            reply = await dispatcher.post(
                f"/api/v1/incidents/{incident_id}/cancel", json={"reason": "false alarm"}
            )
            assert reply.status_code in (200, 409), reply.text
            return reply.status_code == 200

        await eventually(cancelled)
        removed, _ = await screen.until(incident_change(incident_id, "remove"))
        assert removed.data["item"] == {"id": incident_id}
    picture = (await dispatcher.get("/api/v1/picture")).json()
    assert incident_id not in {i["id"] for i in picture["incidents"]}


async def test_a_screen_that_reconnects_gets_exactly_what_it_missed(gateway: Gateway) -> None:
    calltaker = await gateway.client("calltaker")
    viewer = await gateway.client("viewer")
    async with stream(viewer) as reference:
        start = await reference.next()
        async with stream(viewer) as screen:
            first = await screen.next()
            assert first.event == "snapshot" and first.id == start.id
            early = [await create(calltaker, f"resume-a{n}", priority=4) for n in range(3)]
            _, seen = await screen.until(incident_change(early[-1]))
            last_id = seen[-1].id
            assert last_id is not None
        # Dropped; more happens meanwhile.
        late = [await create(calltaker, f"resume-b{n}", priority=4) for n in range(3)]
        _, everything = await reference.until(incident_change(late[-1]))
        missed = [e for e in everything if int(e.id or 0) > int(last_id)]
        assert len(missed) >= 3

        async with stream(viewer, last_event_id=last_id) as screen:
            replayed = [await screen.next() for _ in missed]
        assert [(e.event, e.id, e.data) for e in replayed] == [
            (e.event, e.id, e.data) for e in missed
        ]
        ids = [int(e.id or 0) for e in replayed]
        assert ids == list(range(int(last_id) + 1, int(last_id) + 1 + len(ids)))

        # The same through the query parameter (clients that cannot set the header).
        async with stream(viewer, query=f"?last_event_id={last_id}") as screen:
            assert (await screen.next()).id == str(int(last_id) + 1)

        # Up to date: nothing is replayed, the next change is the next id.
        current = everything[-1].id
        async with stream(viewer, last_event_id=current) as screen:
            newest = await create(calltaker, "resume-c", priority=4)
            change, seen = await screen.until(incident_change(newest))
            assert seen[0].id == str(int(current or 0) + 1)
            assert all(e.event == "change" for e in seen)

        # Too old (not in the ring) or not this gateway's: a fresh snapshot.
        for stale in ("1", str(CURSOR_BASE - 5), str(int(current or 0) + 10_000), "garbage"):
            async with stream(viewer, last_event_id=stale) as screen:
                snapshot = await screen.next()
                assert snapshot.event == "snapshot", stale
                assert snapshot.data["cursor"] == int(snapshot.id or 0) >= int(change.id or 0)
                assert newest in {i["id"] for i in snapshot.data["incidents"]}
        # A digit `int()` refuses ("²"), through the query parameter: a snapshot too.
        async with stream(viewer, query="?last_event_id=%C2%B2") as screen:
            assert (await screen.next()).event == "snapshot"


async def test_unit_positions_are_coalesced(gateway: Gateway, services: Services) -> None:
    viewer = await gateway.client("viewer")
    channel = services.pki.channel(services.targets["resources"], "simulator")
    resources = resource_grpc.ResourceServiceStub(channel)
    try:
        async with stream(viewer) as screen:
            snapshot = await screen.next()
            unit = snapshot.data["units"][0]
            reports = 10
            now = datetime.now(UTC)
            for n in range(reports):
                taken = Timestamp()
                taken.FromDatetime(now + timedelta(milliseconds=100 * n))
                reply = await resources.ReportPosition(
                    rpb.ReportPositionRequest(
                        report=resource_events.UnitPositionReported(
                            unit=f"units/{unit['id']}",
                            position=resource_pb2.Position(
                                lat=10.77 + n * 0.001, lon=106.70, report_time=taken
                            ),
                        )
                    ),
                    timeout=5,
                )
                assert reply.accepted
            last_lat = 10.77 + (reports - 1) * 0.001

            def moved(e: Event) -> bool:
                return bool(e.data["kind"] == "unit" and e.data["item"]["id"] == unit["id"])

            moves: list[Event] = []
            while not moves or moves[-1].data["item"]["lat"] != last_lat:
                move, _ = await screen.until(moved)
                moves.append(move)
            # Ten reports in quick succession: the first at once, then the latest per 0.2 s.
            assert len(moves) < reports
            assert moves[-1].data["item"]["lon"] == 106.70
    finally:
        await channel.close()


async def test_keep_alive_comments(services: Services, tmp_path: Path) -> None:
    config = gateway_config(
        services, tmp_path, picture=PictureSettings(cursor_base=CURSOR_BASE, keepalive_s=0.2)
    )
    running = await gateway_main.start(config)
    gw = Gateway(running, f"http://127.0.0.1:{running.port}")
    try:
        await asyncio.wait_for(running.loaded.wait(), timeout=15)
        viewer = await gw.client("viewer")
        async with stream(viewer) as screen:
            await screen.next()
            # A quiet picture: a keep-alive comes every 0.2 s.
            assert await asyncio.wait_for(screen.comment(), timeout=10) == "keep-alive"
    finally:
        for client in gw.clients:
            await client.aclose()
        await running.stop()


async def test_the_picture_heals_after_a_nats_restart(gateway: Gateway, services: Services) -> None:
    viewer = await gateway.client("viewer")
    calltaker = await gateway.client("calltaker")
    async with stream(viewer) as screen:
        await screen.next()
        await asyncio.to_thread(services.nats.restart)

        async def created() -> bool:
            reply = await calltaker.post(
                "/api/v1/incidents", json=incident_body("after-restart", priority=4)
            )
            return reply.status_code in (200, 201)

        # The services come back too; until then the create may answer 503.
        await eventually(created, timeout_s=15)
        reply = await calltaker.post(
            "/api/v1/incidents", json=incident_body("after-restart", priority=4)
        )
        incident_id = reply.json()["incident"]["id"]
        # Through the restarted ordered consumer, or the re-read that follows a reconnect.
        await screen.until(incident_change(incident_id), timeout_s=15)


async def test_a_resync_removes_what_the_feed_missed(gateway: Gateway) -> None:
    viewer = await gateway.client("viewer")
    gw = gateway.running.gateway
    ghost = Incident(
        **{
            "id": "ghost",
            "type_code": "FIRE.RUBBISH",
            "priority": 4,
            "state": "NEW",
            "lat": 10.77,
            "lon": 106.70,
            "address": "",
            "ward": "",
            "agencies": ["FIRE"],
            "description": "",
            "exercise": False,
            "create_time": None,
            "first_dispatch_time": None,
            "first_on_scene_time": None,
            "close_time": None,
            "etag": 'W/"1"',
            "assignments": [],
        }
    )
    async with stream(viewer) as screen:
        await screen.next()
        # An incident whose closing this gateway never heard of.
        change = gw.picture.put_incident(ghost, (1, 0), True)
        assert change is not None
        gw.hub.publish(change)
        await screen.until(incident_change("ghost"))
        await gw.feed.load()
        await screen.until(incident_change("ghost", "remove"))
    assert (await viewer.get("/api/v1/picture")).json()["incidents"] == []


async def test_the_gateway_waits_for_the_services(
    nats_server: NatsServer, tmp_path: Path, pki: Pki
) -> None:
    """Started first (as in a cluster, where everything starts at once), the gateway answers
    503 until the streams exist and the services answer, then loads."""
    ports = {name: free_port() for name in ("incidents", "resources", "dispatch")}
    targets = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    early = Services(nats_server, targets, pki)
    running = await gateway_main.start(gateway_config(early, tmp_path))
    gw = Gateway(running, f"http://127.0.0.1:{running.port}")
    bus = BusConfig(url=nats_server.url)
    started: list[Any] = []
    try:
        client = await gw.client()
        health = await client.get("/healthz")
        assert health.status_code == 503 and health.json() == {"status": "loading"}
        viewer = await gw.client("viewer")
        loading = await viewer.get("/api/v1/picture")
        assert loading.status_code == 503 and loading.json()["error"]["code"] == "unavailable"

        started.append(
            await incidents_main.start(
                incidents_main.Config(
                    targets["incidents"],
                    f"sqlite+aiosqlite:///{tmp_path / 'i.db'}",
                    bus,
                    True,
                    tls=pki.tls("incidents"),
                )
            )
        )
        started.append(
            await resources_main.start(
                resources_main.Config(
                    targets["resources"],
                    f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
                    bus,
                    True,
                    timedelta(seconds=60),
                    tls=pki.tls("resources"),
                )
            )
        )
        started.append(
            await dispatch_main.start(
                dispatch_main.Config(
                    address=targets["dispatch"],
                    database_url=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
                    bus=bus,
                    relay_enabled=True,
                    resources_target=targets["resources"],
                    settings=Settings(),
                    tls=pki.tls("dispatch"),
                )
            )
        )
        await asyncio.wait_for(running.loaded.wait(), timeout=15)
        assert (await client.get("/healthz")).status_code == 200
        assert len((await viewer.get("/api/v1/picture")).json()["units"]) > 500
    finally:
        for c in gw.clients:
            await c.aclose()
        await running.stop()
        for service in reversed(started):
            await service.stop()
