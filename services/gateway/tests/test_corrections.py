"""Correcting an incident (PATCH with an etag) and finding incidents again, open or ended,
through the HTTP API against the real services."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from icc_gateway.domain.model import Incident, IncidentAssignment
from icc_gateway.domain.search import Query, labels_of

from .conftest import Gateway, eventually, incident_body
from .test_api import error_of, fields_of

# Thảo Cầm Viên (the zoo), Sài Gòn ward.
ZOO = (10.7875, 106.7053)


async def created(client: httpx.AsyncClient, request_id: str, **extra: Any) -> dict[str, Any]:
    reply = await client.post("/api/v1/incidents", json=incident_body(request_id, **extra))
    assert reply.status_code == 201, reply.text
    incident: dict[str, Any] = reply.json()["incident"]
    return incident


async def test_a_correction_changes_only_what_it_names_and_refuses_a_stale_etag(
    gateway: Gateway,
) -> None:
    calltaker = await gateway.client("calltaker")
    incident = await created(calltaker, "fix-1", priority=4, description="khói nhẹ")
    path = f"/api/v1/incidents/{incident['id']}"

    raised = await calltaker.patch(
        path,
        json={
            "etag": incident["etag"],
            "priority": 1,
            "type_code": "FIRE.STRUCTURE",
            "agencies": ["FIRE", "MEDICAL"],
            "location": {"lat": ZOO[0], "lon": ZOO[1], "address": "2 Nguyễn Bỉnh Khiêm"},
        },
    )
    assert raised.status_code == 200, raised.text
    after = raised.json()["incident"]
    assert (after["priority"], after["type_code"], after["agencies"]) == (
        1,
        "FIRE.STRUCTURE",
        ["FIRE", "MEDICAL"],
    )
    assert (after["lat"], after["lon"], after["address"], after["ward"]) == (
        *ZOO,
        "2 Nguyễn Bỉnh Khiêm",
        "",
    )
    assert after["description"] == "khói nhẹ" and after["etag"] != incident["etag"]

    # The etag read before the correction: refused, nothing written.
    stale = await calltaker.patch(path, json={"etag": incident["etag"], "description": "x"})
    error_of(stale, 409, "conflict")
    now = (await calltaker.get(path)).json()["incident"]
    assert now["description"] == "khói nhẹ"

    # Rules of the document, and of the catalog.
    assert fields_of(await calltaker.patch(path, json={"priority": 2})) == {"etag"}
    unknown = await calltaker.patch(path, json={"etag": now["etag"], "type_code": "NO.SUCH"})
    assert fields_of(unknown) == {"type_code"}
    outside = await calltaker.patch(
        path, json={"etag": now["etag"], "location": {"lat": 21.03, "lon": 105.85}}
    )
    assert fields_of(outside, 422) == {"location"}
    viewer = await gateway.client("viewer")
    error_of(await viewer.patch(path, json={"etag": now["etag"]}), 403, "permission_denied")


async def test_search_finds_open_and_ended_incidents_by_id_place_type_and_unit(
    gateway: Gateway,
) -> None:
    dispatcher = await gateway.client("dispatcher")
    fire = await created(dispatcher, "find-1", type_code="FIRE.STRUCTURE", address="12 Lê Lợi")
    rubbish = await created(dispatcher, "find-2", priority=4, address="Chợ Bến Thành")
    cancelled = await dispatcher.post(
        f"/api/v1/incidents/{rubbish['id']}/cancel", json={"reason": "cháy giả"}
    )
    assert cancelled.status_code == 200, cancelled.text

    async def ids(**params: str) -> list[str]:
        reply = await dispatcher.get("/api/v1/incidents", params=params)
        assert reply.status_code == 200, reply.text
        found = reply.json()
        assert found["complete"] is True
        return [i["id"] for i in found["incidents"]]

    # Newest first; the ended one too.
    assert (await ids())[:2] == [rubbish["id"], fire["id"]]
    assert await ids(q="cho ben thanh") == [rubbish["id"]]
    assert await ids(q="chay nha", state="open") == [fire["id"]]
    assert await ids(q="Structure fire") == [fire["id"]]
    assert await ids(q=rubbish["id"][:8], state="ended") == [rubbish["id"]]
    assert await ids(q="ben thanh", state="open") == []
    # A whole id, whenever it was created.
    assert await ids(q=fire["id"], since="2020-01-01T00:00:00Z", until="2020-01-02T00:00:00Z") == [
        fire["id"]
    ]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await ids(since=later) == []

    # A unit sent to the fire (P1 is dispatched at once), by its call sign.
    async def sent() -> bool:
        incident = (await dispatcher.get(f"/api/v1/incidents/{fire['id']}")).json()["incident"]
        return bool(incident["assignments"])

    await eventually(sent)
    incident = (await dispatcher.get(f"/api/v1/incidents/{fire['id']}")).json()["incident"]
    sign = incident["assignments"][0]["call_sign"]
    assert fire["id"] in await ids(q=sign.lower())
    bad = await dispatcher.get("/api/v1/incidents", params={"state": "gone"})
    assert fields_of(bad) == {"state"}
    await asyncio.sleep(0)


def test_every_word_must_be_in_the_id_place_type_or_units() -> None:
    incident = Incident(
        id="9f3c0a11b2c3d4e5",
        type_code="FIRE.STRUCTURE",
        priority=1,
        state="CLOSED",
        lat=10.77,
        lon=106.70,
        address="36 Lê Lợi",
        ward="Bến Thành",
        agencies=["FIRE"],
        description="khói đen",
        exercise=False,
        create_time=None,
        first_dispatch_time=None,
        first_on_scene_time=None,
        close_time=None,
        etag='W/"3"',
        assignments=[
            IncidentAssignment(
                id="a1",
                unit="u1",
                call_sign="PCCC-Q1-01",
                agency="FIRE",
                kind="ENGINE",
                state="RELEASED",
                assign_time=None,
            )
        ],
    )
    labels = labels_of({"FIRE.STRUCTURE": ("Cháy nhà, công trình", "Structure fire")})
    for text in ("9f3c", "le loi ben thanh", "CHÁY NHÀ", "structure", "pccc-q1", "", "fire.struct"):
        assert Query.parse(text).matches(incident, labels), text
    for text in ("khoi den", "le loi q7", "9f3d"):
        assert not Query.parse(text).matches(incident, labels), text
