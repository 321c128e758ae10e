"""The HTTP API against the real services: sessions, roles, errors, who did what."""

import asyncio
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .conftest import Gateway, eventually, incident_body


def error_of(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and len(error["message"]) > 5
    assert isinstance(error["fields"], list)
    return error


def fields_of(reply: httpx.Response, status: int = 400) -> set[str]:
    return {f["field"] for f in error_of(reply, status, "invalid_argument")["fields"]}


def rule_of(reply: httpx.Response, field: str) -> str:
    """The sentence a 400 gives for `field`."""
    found = error_of(reply, 400, "invalid_argument")["fields"]
    return next(f["description"] for f in found if f["field"] == field)


async def recommendation(client: httpx.AsyncClient, incident_id: str) -> dict[str, Any]:
    """Once dispatch has heard of the incident (its event may still be on the way)."""
    for _ in range(200):
        reply = await client.get(f"/api/v1/incidents/{incident_id}/recommendation")
        if reply.status_code != 404:
            assert reply.status_code == 200, reply.text
            found: dict[str, Any] = reply.json()
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("dispatch never heard of the incident")


async def test_sign_in_out_and_401(gateway: Gateway) -> None:
    anonymous = await gateway.client()
    error_of(await anonymous.get("/api/v1/session"), 401, "unauthenticated")
    error_of(await anonymous.get("/api/v1/picture"), 401, "unauthenticated")

    wrong_password = await anonymous.post(
        "/api/v1/session", json={"username": "dispatcher", "password": "nope"}
    )
    unknown_user = await anonymous.post(
        "/api/v1/session", json={"username": "nobody", "password": "icc-demo"}
    )
    # The same answer for both: it must not tell which of the two was wrong.
    assert error_of(wrong_password, 401, "unauthenticated") == error_of(
        unknown_user, 401, "unauthenticated"
    )

    reply = await anonymous.post(
        "/api/v1/session", json={"username": "dispatcher", "password": "icc-demo"}
    )
    assert reply.status_code == 200
    assert reply.json() == {
        "user": {
            "username": "dispatcher",
            "display_name": "Điều phối viên (demo)",
            "role": "dispatcher",
            "agency": "COMMAND_CENTER",
        }
    }
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith("icc_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    me = await anonymous.get("/api/v1/session")
    assert me.status_code == 200 and me.json()["user"]["role"] == "dispatcher"

    gone = await anonymous.delete("/api/v1/session")
    assert gone.status_code == 204
    error_of(await anonymous.get("/api/v1/session"), 401, "unauthenticated")

    # A forged or stale cookie is no session.
    forged = httpx.AsyncClient(base_url=gateway.url, cookies={"icc_session": "x" * 43})
    gateway.clients.append(forged)
    error_of(await forged.get("/api/v1/session"), 401, "unauthenticated")


async def test_roles_are_enforced(gateway: Gateway) -> None:
    viewer = await gateway.client("viewer")
    calltaker = await gateway.client("calltaker")
    dispatcher = await gateway.client("dispatcher")

    denied = error_of(
        await viewer.post("/api/v1/incidents", json=incident_body("viewer-1")),
        403,
        "permission_denied",
    )
    assert "call_taker" in denied["message"]

    created = await calltaker.post("/api/v1/incidents", json=incident_body("ct-1", priority=4))
    assert created.status_code == 201, created.text
    incident_id = created.json()["incident"]["id"]
    rec = await recommendation(calltaker, incident_id)
    best = next(c["unit"] for c in rec["candidates"] if c["selected"])
    error_of(
        await calltaker.post(f"/api/v1/incidents/{incident_id}/assign", json={"units": [best]}),
        403,
        "permission_denied",
    )
    error_of(
        await viewer.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "x"}),
        403,
        "permission_denied",
    )
    error_of(
        await calltaker.post(f"/api/v1/incidents/{incident_id}/cancel", json={"reason": "x"}),
        403,
        "permission_denied",
    )
    # Traces are for supervisors; this gateway has no trace sink: 503 with a reason.
    error_of(
        await dispatcher.get(f"/api/v1/incidents/{incident_id}/trace"), 403, "permission_denied"
    )
    supervisor = await gateway.client("supervisor")
    no_sink = error_of(
        await supervisor.get(f"/api/v1/incidents/{incident_id}/trace"), 503, "unavailable"
    )
    assert "ICC_TRACESINK_QUERY_URL" in no_sink["message"]

    # Every role reads.
    for client in (viewer, calltaker, dispatcher):
        assert (await client.get(f"/api/v1/incidents/{incident_id}")).status_code == 200
        assert (await client.get("/api/v1/picture")).status_code == 200


async def test_personal_data_only_for_roles_that_may_see_it(gateway: Gateway) -> None:
    calltaker = await gateway.client("calltaker")
    caller = {"name": "Nguyễn Văn A", "phone": "+84 90 123 4567", "language": "vi"}
    created = await calltaker.post(
        "/api/v1/incidents", json=incident_body("pii-1", priority=4, caller=caller)
    )
    assert created.status_code == 201
    incident = created.json()["incident"]
    # The command center answers 112: its call takers' calls came in on it.
    assert incident["caller"] == {**caller, "call_line": "EMERGENCY_112", "call_time": ANY}
    assert incident["call_line"] == "EMERGENCY_112" and incident["caller_count"] == 1
    caller = incident["caller"]
    note = await calltaker.post(
        f"/api/v1/incidents/{incident['id']}/notes", json={"text": "khó thở"}
    )
    assert note.status_code == 201
    assert note.json()["note"]["author"] == "calltaker"

    viewer = await gateway.client("viewer")
    seen = (await viewer.get(f"/api/v1/incidents/{incident['id']}")).json()["incident"]
    assert seen["caller"] is None and seen["notes"] == []
    dispatcher = await gateway.client("dispatcher")
    seen = (await dispatcher.get(f"/api/v1/incidents/{incident['id']}")).json()["incident"]
    assert seen["caller"] == caller and [n["text"] for n in seen["notes"]] == ["khó thở"]

    # Once closed, only supervisors still see them.
    cancelled = await dispatcher.post(
        f"/api/v1/incidents/{incident['id']}/cancel", json={"reason": "prank call"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["incident"]["caller"] is None
    supervisor = await gateway.client("supervisor")
    seen = (await supervisor.get(f"/api/v1/incidents/{incident['id']}")).json()["incident"]
    assert seen["state"] == "CANCELLED" and seen["caller"] == caller
    # The picture never carries personal data.
    picture = (await supervisor.get("/api/v1/picture")).text
    assert "Nguyễn Văn A" not in picture and "4567" not in picture


async def test_the_chronology_records_who_acted(gateway: Gateway) -> None:
    calltaker = await gateway.client("calltaker")
    dispatcher = await gateway.client("dispatcher")
    created = await calltaker.post("/api/v1/incidents", json=incident_body("who-1", priority=3))
    incident = created.json()["incident"]
    incident_id = incident["id"]

    again = await calltaker.post("/api/v1/incidents", json=incident_body("who-1", priority=3))
    assert again.status_code == 200 and again.json()["incident"]["id"] == incident_id

    rec = await recommendation(dispatcher, incident_id)
    assert rec["plan"]["type_code"] == "FIRE.RUBBISH" and rec["plan"]["priority"] == 3
    assert all(i["label_vi"] and i["label_en"] for i in rec["plan"]["items"])
    best = next(c for c in rec["candidates"] if c["selected"])
    assert best["eta_s"] > 0 and best["reasons"]
    # The reasons as codes with parameters, for the screen to say in its language.
    assert best["coded_reasons"][0]["code"] in {"KIND_AS_PLANNED", "KIND_IN_PLACE_OF"}
    eta = next(r for r in best["coded_reasons"] if r["code"] == "ETA")
    assert eta["params"] == {"eta_seconds": str(best["eta_s"]), "distance_meters": ANY}
    assert rec["eta_source_code"] == "TRAVEL_MODEL" and rec["mutual_aid_eta_s"] == 900
    # A P3 waits for a dispatcher: a decision, not a shortage.
    waiting = (await dispatcher.get(f"/api/v1/incidents/{incident_id}/dispatch")).json()
    assert waiting["awaiting_decision"] is True and waiting["awaiting_since"]
    assert {s["coded_reason"]["code"] for s in waiting["shortfalls"]} == {"AWAITING_DISPATCHER"}
    # Every available unit by ETA, for an override; filtered by kind.
    ranked = (await dispatcher.get(f"/api/v1/incidents/{incident_id}/available-units")).json()
    etas = [c["eta_s"] for c in ranked["candidates"]]
    assert len(etas) > 100 and etas == sorted(etas)
    assert ranked["mutual_aid_eta_s"] == 900
    assert any(c["beyond_mutual_aid_eta"] for c in ranked["candidates"])
    assert all(c["beyond_mutual_aid_eta"] == (c["eta_s"] > 900) for c in ranked["candidates"])
    engines = await dispatcher.get(
        f"/api/v1/incidents/{incident_id}/available-units",
        params={"kind": "ENGINE", "agency": "FIRE", "limit": 5},
    )
    assert {c["kind"] for c in engines.json()["candidates"]} == {"ENGINE"}
    assert len(engines.json()["candidates"]) == 5
    error_of(
        await calltaker.get(f"/api/v1/incidents/{incident_id}/available-units"),
        403,
        "permission_denied",
    )
    assert "kind" in fields_of(
        await dispatcher.get(
            f"/api/v1/incidents/{incident_id}/available-units", params={"kind": "TANK"}
        )
    )
    assigned = await dispatcher.post(
        f"/api/v1/incidents/{incident_id}/assign",
        json={"units": [best["unit"]], "request_id": "who-1-assign"},
    )
    assert assigned.status_code == 200, assigned.text
    (assignment,) = assigned.json()["assignments"]
    assert assignment["unit"] == best["unit"] and assignment["state"] == "ASSIGNED"
    assert assignment["assigned_by"]["user"] == "dispatcher"
    assert assignment["assigned_by"]["role"] == "dispatcher"
    assert assignment["destination_hospital"] is None  # an engine takes nobody to hospital

    status = (await dispatcher.get(f"/api/v1/incidents/{incident_id}/dispatch")).json()
    assert status["state"] == "COMPLETE" and status["waiting"] is False
    assert [a["id"] for a in status["assignments"]] == [assignment["id"]]

    acked = await dispatcher.post(f"/api/v1/assignments/{assignment['id']}/acknowledge")
    assert acked.status_code == 200 and acked.json()["assignment"]["state"] == "ACKNOWLEDGED"
    released = await dispatcher.post(
        f"/api/v1/incidents/{incident_id}/release", json={"reason": "fire out"}
    )
    assert released.status_code == 200, released.text
    assert {a["state"] for a in released.json()["assignments"]} == {"RELEASED"}

    async def release_heard() -> bool:
        # The incidents service hears of the assignment and its release through dispatch's
        # events; until it has heard of both, a close could come before them (and be refused,
        # or find no units it knows of).
        reply = await dispatcher.get(f"/api/v1/incidents/{incident_id}/chronology")
        return any(e["coded_detail"][0]["code"] == "RELEASED" for e in reply.json()["entries"])

    await eventually(release_heard)
    closed = await dispatcher.post(
        f"/api/v1/incidents/{incident_id}/close", json={"resolution": "put out"}
    )
    assert closed.status_code == 200, closed.text
    entries = (await dispatcher.get(f"/api/v1/incidents/{incident_id}/chronology")).json()[
        "entries"
    ]
    by_action = {e["action"]: e for e in entries}
    assert by_action["created"]["actor"] == {
        "user": "calltaker",
        "agency": "COMMAND_CENTER",
        "role": "call_taker",
    }
    assert by_action["closed"]["actor"]["user"] == "dispatcher"
    assert by_action["closed"]["actor"]["role"] == "dispatcher"
    assert [e["sequence"] for e in entries] == sorted(e["sequence"] for e in entries)
    assert by_action["created"]["coded_detail"][0] == {
        "code": "CREATED",
        "params": {"type_code": "FIRE.RUBBISH", "priority": "P3", "call_line": ANY},
    }
    assert by_action["closed"]["coded_detail"][-1]["code"] == "CLOSED"
    released_entry = next(e for e in entries if e["coded_detail"][0]["code"] == "RELEASED")
    assert released_entry["coded_detail"][1] == {
        "code": "RELEASED_BY_DISPATCHER",
        "params": {"text": "fire out"},
    }


async def test_bad_input_is_answered_with_the_fields(gateway: Gateway) -> None:
    client = await gateway.client("supervisor")
    assert fields_of(await client.post("/api/v1/session", json={"username": "x"})) == {"password"}
    assert fields_of(
        await client.post("/api/v1/incidents", json={"request_id": "bad-1", "lat": "north"})
    ) == {"type_code", "lat", "lon"}
    assert fields_of(
        await client.post("/api/v1/incidents", json=incident_body("bad id with spaces", priority=9))
    ) == {"request_id", "priority"}
    # Every rule the API document states is checked here, with a sentence naming it.
    assert "GET /api/v1/incident-types" in rule_of(
        await client.post("/api/v1/incidents", json=incident_body("bad-2", type_code="0")),
        "type_code",
    )
    assert "NUL" in rule_of(
        await client.post("/api/v1/incidents", json=incident_body("bad-2", address="a\u0000b")),
        "address",
    )
    assert "unicode" in rule_of(
        await client.post(
            "/api/v1/incidents",
            content=b'{"request_id": "bad-2", "type_code": "FIRE.RUBBISH", "lat": 10.77, '
            b'"lon": 106.7, "ward": "\\ud800"}',
            headers={"content-type": "application/json"},
        ),
        "ward",
    )
    # The services' own checks (what the document cannot say) come back as 422, with the
    # API's field names.
    assert fields_of(
        await client.post(
            "/api/v1/incidents", json={**incident_body("bad-3"), "lat": 21.03, "lon": 105.85}
        ),
        422,
    ) == {"location"}  # Hà Nội is outside Ho Chi Minh City
    assert fields_of(
        await client.post(
            "/api/v1/incidents",
            json=incident_body("bad-4", caller={"name": "A", "phone": "call me"}),
        )
    ) == {"caller.phone"}
    reply = await client.post(
        "/api/v1/incidents", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert fields_of(reply) == {"body"}

    created = await client.post("/api/v1/incidents", json=incident_body("bad-5", priority=4))
    incident_id = created.json()["incident"]["id"]
    base = f"/api/v1/incidents/{incident_id}"
    assert fields_of(await client.post(f"{base}/notes", json={"text": "  "})) == {"text"}
    blank = rule_of(await client.post(f"{base}/notes", json={"text": "\f"}), "text")
    assert blank == "required: at least one character other than spaces"
    assert fields_of(await client.post(f"{base}/close", json={})) == {"resolution"}
    assert fields_of(await client.post(f"{base}/cancel", json={"reason": ""})) == {"reason"}
    assert fields_of(await client.post(f"{base}/assign", json={"units": []})) == {"units"}
    assert fields_of(await client.post(f"{base}/assign", json={"units": ["a/b"]})) == {"units[0]"}
    twice = await client.post(f"{base}/assign", json={"units": ["u1", "u1"]})
    assert rule_of(twice, "units") == "a unit is named twice"
    assert fields_of(await client.post(f"{base}/release", json={"units": []})) == {"reason"}
    assert fields_of(await client.post("/api/v1/units/u1/status", json={"status": "FLYING"})) == {
        "status"
    }
    for path in ("", "/chronology", "/dispatch", "/recommendation", "/trace"):
        assert fields_of(await client.get(f"/api/v1/incidents/not%20an%20id{path}")) == {"id"}
        # Longer than any incident id (32): refused here, as the document says.
        assert fields_of(await client.get(f"/api/v1/incidents/{'0' * 33}{path}")) == {"id"}
    assert fields_of(await client.post("/api/v1/assignments/a%20b/acknowledge")) == {"id"}
    error_of(await client.get("/api/v1/incidents/0123456789abcdef/dispatch"), 404, "not_found")

    # A unit the dispatcher was not offered needs a reason (the dispatch service says so).
    rec = await recommendation(client, incident_id)
    offered = {c["unit"] for c in rec["candidates"]}
    picture = (await client.get("/api/v1/picture")).json()
    other = next(
        u["id"] for u in picture["units"] if u["id"] not in offered and u["status"] == "AVAILABLE"
    )
    refused = await client.post(f"{base}/assign", json={"units": [other]})
    assert fields_of(refused, 422) == {"override_reason"}

    error_of(await client.get("/api/v1/incidents/0123456789abcdef"), 404, "not_found")
    error_of(await client.post("/api/v1/assignments/nope/acknowledge"), 404, "not_found")
    error_of(await client.get("/api/v1/no-such-thing"), 404, "not_found")
    # Illegal transitions and stale etags are conflicts.
    conflict = error_of(
        await client.post("/api/v1/units/" + other + "/status", json={"status": "ON_SCENE"}),
        409,
        "conflict",
    )
    assert "AVAILABLE" in conflict["message"]
    error_of(
        await client.post(f"{base}/cancel", json={"reason": "dup", "etag": 'W/"999"'}),
        409,
        "conflict",
    )


async def test_reference_data_health_and_openapi(gateway: Gateway) -> None:
    anonymous = await gateway.client()
    health = await anonymous.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    spec = (await anonymous.get("/api/openapi.json")).json()
    assert "/api/v1/picture/stream" in spec["paths"]
    assert "Picture" in spec["components"]["schemas"]
    assert (await anonymous.get("/api/docs")).status_code == 200
    error_of(await anonymous.get("/api/v1/incident-types"), 401, "unauthenticated")

    viewer = await gateway.client("viewer")
    types = (await viewer.get("/api/v1/incident-types")).json()["types"]
    fire = next(t for t in types if t["code"] == "FIRE.STRUCTURE")
    assert fire["family"] == "FIRE" and fire["priority"] == 1 and "FIRE" in fire["agencies"]
    assert fire["label_vi"] and fire["label_en"] and fire["keywords_vi"]
    stations = (await viewer.get("/api/v1/stations")).json()["stations"]
    assert len(stations) > 100
    assert {"id", "name", "agency", "lat", "lon"} == set(stations[0])
    city_map = (await viewer.get("/api/v1/map")).json()
    assert city_map["type"] == "FeatureCollection"
    assert {f["properties"]["kind"] for f in city_map["features"]} == {"city", "river"}


@pytest.mark.parametrize("path", ["/vendor/leaflet/leaflet.js"])
async def test_leaflet_is_served_when_installed(gateway: Gateway, path: str) -> None:
    leaflet = gateway.running.gateway.config.leaflet_dir
    if leaflet is None or not (leaflet / "leaflet.js").exists():
        pytest.skip("Leaflet not installed with npm in services/gateway/web")
    reply = await (await gateway.client()).get(path)
    assert reply.status_code == 200 and "javascript" in reply.headers["content-type"]


async def test_one_trace_from_the_browser_through_the_services(
    gateway: Gateway, spans: InMemorySpanExporter
) -> None:
    calltaker = await gateway.client("calltaker")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    reply = await calltaker.post(
        "/api/v1/incidents",
        json=incident_body("traced-1", priority=4),
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )
    assert reply.status_code == 201
    incident_id = reply.json()["incident"]["id"]
    await (await gateway.client()).get("/healthz")
    finished = spans.get_finished_spans()
    ours = [s for s in finished if format(s.context.trace_id, "032x") == trace_id]
    names = {s.name for s in ours}
    assert "POST /api/v1/incidents" in names
    assert "/icc.incident.v1.IncidentService/CreateIncident" in names
    server = next(s for s in ours if s.name == "POST /api/v1/incidents")
    assert server.attributes is not None and server.attributes["icc.incident.id"] == incident_id
    assert server.attributes["http.route"] == "/api/v1/incidents"
    assert "/api/v1/incidents" in {str(v) for v in server.attributes.values()}
    # No span for health checks.
    assert not any(
        "/healthz" in str(value) for s in finished for value in (s.attributes or {}).values()
    )
