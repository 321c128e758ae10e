"""Public warnings through the gateway's HTTP API (real services, real uvicorn): a
supervisor issues, updates and cancels; the public Atom feed and CAP messages serve real
warnings only; every message served conforms to the OASIS CAP 1.2 schema."""

from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from icc_gateway import cap

from .conftest import Gateway

NS = {"cap": cap.CAP, "atom": cap.ATOM}


def body(request_id: str, **changes: Any) -> dict[str, Any]:
    expires = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    out: dict[str, Any] = {
        "request_id": request_id,
        "category": "Met",
        "urgency": "Expected",
        "severity": "Severe",
        "certainty": "Likely",
        "vi": {
            "event": "Triều cường",
            "headline": "Triều cường đỉnh 1,7 m lúc 18 giờ",
            "instruction": "Không đi qua đường ngập.",
        },
        "en": {
            "event": "Tidal flooding",
            "headline": "Tide to peak at 1.7 m at 18:00",
            "instruction": "Do not drive through flooded streets.",
        },
        "areas": [
            {
                "description_vi": "Ven sông Sài Gòn",
                "description_en": "Saigon riverbank",
                "polygons": [
                    [
                        {"lat": 10.80, "lon": 106.72},
                        {"lat": 10.81, "lon": 106.74},
                        {"lat": 10.79, "lon": 106.75},
                    ]
                ],
                "circles": [{"lat": 10.825, "lon": 106.708, "radius_km": 1.5}],
                "wards": ["Bến Thành"],
            }
        ],
        "expires": expires,
    }
    out.update(changes)
    return out


def conforming(reply: httpx.Response) -> ET.Element:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith(cap.CAP_MEDIA_TYPE)
    assert cap.faults(reply.content) == []
    alert = ET.fromstring(reply.content)
    infos = alert.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["vi-VN", "en-US"]
    return alert


async def feed_ids(client: httpx.AsyncClient) -> list[str]:
    reply = await client.get("/public/warnings.atom")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith(cap.ATOM_MEDIA_TYPE)
    feed = ET.fromstring(reply.content)
    return [e.findtext("atom:id", namespaces=NS) or "" for e in feed.findall("atom:entry", NS)]


async def test_a_supervisor_issues_updates_and_cancels_and_the_public_sees_it(
    gateway: Gateway,
) -> None:
    supervisor = await gateway.client("supervisor")
    public = await gateway.client()
    issued = await supervisor.post("/api/v1/warnings", json=body("flood-2026-12-07"))
    assert issued.status_code == 201, issued.text
    warning = issued.json()["warning"]
    assert warning["status"] == "Actual" and warning["issued_by"] == "supervisor"
    again = await supervisor.post("/api/v1/warnings", json=body("flood-2026-12-07"))
    assert again.status_code == 200 and again.json()["warning"]["messages"] == warning["messages"]

    assert await feed_ids(public) == [warning["messages"][0]["identifier"]]
    alert = conforming(await public.get("/public/warnings/flood-2026-12-07.cap"))
    assert alert.findtext("cap:msgType", namespaces=NS) == "Alert"

    changed = body("flood-2026-12-07", severity="Extreme")
    updated = await supervisor.put("/api/v1/warnings/flood-2026-12-07", json=changed)
    assert updated.status_code == 200, updated.text
    alert = conforming(await public.get("/public/warnings/flood-2026-12-07.cap"))
    assert alert.findtext("cap:msgType", namespaces=NS) == "Update"
    assert alert.findtext("cap:info/cap:severity", namespaces=NS) == "Extreme"
    assert alert.findtext("cap:references", namespaces=NS).count("urn:icc:warning:") == 1

    cancelled = await supervisor.post("/api/v1/warnings/flood-2026-12-07/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["warning"]["cancelled"]
    alert = conforming(await public.get("/public/warnings/flood-2026-12-07.cap"))
    assert alert.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert await feed_ids(public) == [cancelled.json()["warning"]["messages"][-1]["identifier"]]
    assert (await supervisor.post("/api/v1/warnings/flood-2026-12-07/cancel")).status_code == 409
    stale = await supervisor.put("/api/v1/warnings/flood-2026-12-07", json=changed)
    assert stale.status_code == 409


async def test_a_drill_is_exercise_and_never_public(gateway: Gateway) -> None:
    supervisor = await gateway.client("supervisor")
    public = await gateway.client()
    drill = await supervisor.post("/api/v1/warnings", json=body("drill-1", exercise=True))
    assert drill.status_code == 201, drill.text
    assert drill.json()["warning"]["status"] == "Exercise"
    assert await feed_ids(public) == []
    assert (await public.get("/public/warnings/drill-1.cap")).status_code == 404
    alert = conforming(await supervisor.get("/api/v1/warnings/drill-1/cap"))
    assert alert.findtext("cap:status", namespaces=NS) == "Exercise"
    listed = (await supervisor.get("/api/v1/warnings")).json()["warnings"]
    assert [w["id"] for w in listed] == ["drill-1"]
    # A drill stays a drill: an update cannot make it public.
    await supervisor.put("/api/v1/warnings/drill-1", json=body("drill-1"))
    assert await feed_ids(public) == []


async def test_only_supervisors_issue_and_bad_warnings_name_their_fields(gateway: Gateway) -> None:
    dispatcher = await gateway.client("dispatcher")
    assert (await dispatcher.post("/api/v1/warnings", json=body("w-1"))).status_code == 403
    anonymous = await gateway.client()
    assert (await anonymous.post("/api/v1/warnings", json=body("w-1"))).status_code == 401
    supervisor = await gateway.client("supervisor")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    late = await supervisor.post("/api/v1/warnings", json=body("w-2", expires=past))
    assert late.status_code == 422
    assert [f["field"] for f in late.json()["error"]["fields"]] == ["expires"]
    nowhere = body("w-3")
    nowhere["areas"][0]["wards"] = ["Atlantis"]
    refused = await supervisor.post("/api/v1/warnings", json=nowhere)
    assert refused.status_code == 400
    assert [f["field"] for f in refused.json()["error"]["fields"]] == ["areas[0].wards[0]"]
    unnamed = body("w-4")
    unnamed["vi"]["headline"] = " "
    assert (await supervisor.post("/api/v1/warnings", json=unnamed)).status_code == 400
    assert (await supervisor.get("/api/v1/warnings")).json()["warnings"] == []
