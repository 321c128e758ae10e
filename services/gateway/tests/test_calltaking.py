"""Call-taking over HTTP against the real services: places, possible duplicates and another
caller, merging, premise cautions and a place's history, key questions and answers."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .conftest import Gateway, eventually, incident_body
from .test_api import error_of, fields_of

MARKET = (10.7725, 106.6980)  # Chợ Bến Thành, as the gazetteer has it
CENTRE = {"lat": 10.776, "lon": 106.70}


def at_market(request_id: str, type_code: str, **extra: Any) -> dict[str, Any]:
    return incident_body(
        request_id, type_code, lat=MARKET[0], lon=MARKET[1], address="Chợ Bến Thành", **extra
    )


async def created(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    reply = await client.post("/api/v1/incidents", json=body)
    assert reply.status_code == 201, reply.text
    incident: dict[str, Any] = reply.json()["incident"]
    return incident


async def test_places_are_found_as_callers_say_them(gateway: Gateway) -> None:
    calltaker = await gateway.client("calltaker")
    found = await calltaker.get("/api/v1/places", params={"q": "cho ben thanh", **CENTRE})
    assert found.status_code == 200, found.text
    first = found.json()["places"][0]
    assert (first["id"], first["kind"], first["label"]) == (
        "market-ben-thanh",
        "MARKET",
        "Chợ Bến Thành",
    )
    assert (first["lat"], first["lon"], first["ward"]) == (*MARKET, "Bến Thành")
    assert first["approximate"] and first["distance_m"] > 0 and first["source"] == "gazetteer"
    # An old district name: the wards it became; no centre, no distance.
    found = await calltaker.get("/api/v1/places", params={"q": "quan 1", "max_results": 2})
    places = found.json()["places"]
    assert len(places) == 2 and places[0]["kind"] == "FORMER_DISTRICT"
    assert "Bến Thành" in places[0]["wards"] and places[0]["distance_m"] is None

    for q, rule in (
        ("", "at least 1"),
        ("  ", "required"),
        ("chợ\x07", "control"),
        ("a" * 201, "200"),
    ):
        problem = error_of(
            await calltaker.get("/api/v1/places", params={"q": q}), 400, "invalid_argument"
        )
        assert [f["field"] for f in problem["fields"]] == ["q"], problem
        assert rule in problem["fields"][0]["description"], problem
    assert fields_of(await calltaker.get("/api/v1/places")) == {"q"}
    viewer = await gateway.client("viewer")
    error_of(await viewer.get("/api/v1/places", params={"q": "cho"}), 403, "permission_denied")


async def test_a_repeat_call_is_offered_attached_and_merged(gateway: Gateway) -> None:
    calltaker = await gateway.client("calltaker")
    phone = "0909 111 222"
    first = await created(
        calltaker, at_market("dup-1", "FIRE.RUBBISH", caller={"name": "A", "phone": phone})
    )
    where = {"lat": MARKET[0] + 0.0003, "lon": MARKET[1]}  # about 33 m north
    asked = await calltaker.post(
        "/api/v1/possible-duplicates", json={"location": where, "type_code": "FIRE.SMOKE_ODOUR"}
    )
    assert asked.status_code == 200, asked.text
    [dup] = asked.json()["duplicates"]
    assert dup["incident"] == first["id"] and dup["reasons"] == ["NEARBY"]
    assert dup["type_code"] == "FIRE.RUBBISH" and dup["state"] == "NEW"
    assert 20 < dup["distance_m"] < 50
    # The phone alone finds it anywhere; another family at the place does not.
    by_phone = await calltaker.post("/api/v1/possible-duplicates", json={"caller_phone": phone})
    assert [d["reasons"] for d in by_phone.json()["duplicates"]] == [["SAME_PHONE"]]
    other = await calltaker.post(
        "/api/v1/possible-duplicates", json={"location": where, "type_code": "POLICE.ROBBERY"}
    )
    assert other.json()["duplicates"] == []
    assert fields_of(await calltaker.post("/api/v1/possible-duplicates", json={})) == {"body"}
    unknown = await calltaker.post(
        "/api/v1/possible-duplicates", json={"location": where, "type_code": "NOPE"}
    )
    assert fields_of(unknown) == {"type_code"}

    # Attached as another caller: the same incident, no new one; the same request_id once.
    caller = {"request_id": "dup-2", "name": "B", "phone": "0909 333 444", "call_line": "FIRE_114"}
    attached = await calltaker.post(f"/api/v1/incidents/{first['id']}/callers", json=caller)
    assert attached.status_code == 201, attached.text
    incident = attached.json()["incident"]
    assert incident["id"] == first["id"] and incident["caller_count"] == 2
    [extra] = incident["additional_callers"]
    assert (extra["name"], extra["call_line"]) == ("B", "FIRE_114") and extra["call_time"]
    again = await calltaker.post(f"/api/v1/incidents/{first['id']}/callers", json=caller)
    assert again.status_code == 200 and again.json()["incident"]["caller_count"] == 2
    picture = (await calltaker.get("/api/v1/picture")).json()
    assert [i["id"] for i in picture["incidents"]] == [first["id"]]
    assert fields_of(
        await calltaker.post(f"/api/v1/incidents/{first['id']}/callers", json={"name": "C"})
    ) == {"request_id"}
    error_of(
        await calltaker.post("/api/v1/incidents/nope/callers", json={"request_id": "x"}),
        404,
        "not_found",
    )

    # Created anyway: it says what it may repeat; a dispatcher folds it into the first.
    second = await created(calltaker, at_market("dup-3", "FIRE.SMOKE_ODOUR"))
    assert [d["incident"] for d in second["possible_duplicates"]] == [first["id"]]
    merge = {"duplicates": [second["id"]], "reason": "cùng một đám cháy"}
    error_of(
        await calltaker.post(f"/api/v1/incidents/{first['id']}/merge", json=merge),
        403,
        "permission_denied",
    )
    dispatcher = await gateway.client("dispatcher")
    merged = await dispatcher.post(f"/api/v1/incidents/{first['id']}/merge", json=merge)
    assert merged.status_code == 200, merged.text
    [folded] = merged.json()["duplicates"]
    assert folded["state"] == "MERGED" and folded["merged_into"] == first["id"]
    assert merged.json()["incident"]["id"] == first["id"]
    twice = {"duplicates": [second["id"], second["id"]]}
    assert fields_of(
        await dispatcher.post(f"/api/v1/incidents/{first['id']}/merge", json=twice)
    ) == {"duplicates"}
    itself = {"duplicates": [first["id"]]}
    assert fields_of(
        await dispatcher.post(f"/api/v1/incidents/{first['id']}/merge", json=itself), 422
    ) == {"duplicates"}


async def test_cautions_are_entered_by_supervisors_and_shown_at_the_place(
    gateway: Gateway,
) -> None:
    supervisor = await gateway.client("supervisor")
    calltaker = await gateway.client("calltaker")
    caution = {
        "request_id": "caution-1",
        "kind": "HAZARDOUS_MATERIALS",
        "text": "Kho bình gas trong hẻm phía sau chợ",
        "lat": MARKET[0],
        "lon": MARKET[1],
        "address": "Chợ Bến Thành",
        "radius_m": 30,
        "valid_until": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    error_of(await calltaker.post("/api/v1/cautions", json=caution), 403, "permission_denied")
    made = await supervisor.post("/api/v1/cautions", json=caution)
    assert made.status_code == 201, made.text
    entered = made.json()["caution"]
    assert (
        entered["kind"] == "HAZARDOUS_MATERIALS" and entered["created_by"]["user"] == "supervisor"
    )
    assert (await supervisor.post("/api/v1/cautions", json=caution)).status_code == 200

    listed = await calltaker.get("/api/v1/cautions", params={"lat": MARKET[0], "lon": MARKET[1]})
    assert [c["text"] for c in listed.json()["cautions"]] == [caution["text"]]
    far = {"lat": 10.80, "lon": 106.70}
    assert (await calltaker.get("/api/v1/cautions", params=far)).json()["cautions"] == []
    incident = await created(calltaker, at_market("with-caution", "FIRE.STRUCTURE"))
    assert [c["id"] for c in incident["cautions"]] == [entered["id"]]

    past = {**caution, "request_id": "caution-2", "valid_until": "2020-01-01T00:00:00Z"}
    assert fields_of(await supervisor.post("/api/v1/cautions", json=past), 422) == {"valid_until"}
    outside = {**caution, "request_id": "caution-3", "lat": 10.95, "lon": 107.4}
    assert fields_of(await supervisor.post("/api/v1/cautions", json=outside), 422) == {"location"}
    empty = {**caution, "request_id": "caution-4", "text": " ", "radius_m": 5000}
    assert fields_of(await supervisor.post("/api/v1/cautions", json=empty)) == {"text", "radius_m"}
    assert fields_of(await calltaker.get("/api/v1/cautions", params={"lat": 10.8})) == {"lon"}


async def test_the_place_history_counts_earlier_incidents_by_family(gateway: Gateway) -> None:
    calltaker = await gateway.client("calltaker")
    await created(calltaker, at_market("h-1", "FIRE.RUBBISH"))
    await created(calltaker, at_market("h-2", "POLICE.SNATCH_THEFT"))
    seen = await calltaker.get("/api/v1/place-history", params={"lat": MARKET[0], "lon": MARKET[1]})
    assert seen.status_code == 200, seen.text
    assert {(h["family"], h["count"], h["days"]) for h in seen.json()["history"]} == {
        ("FIRE_RESCUE", 1, 30),
        ("POLICE", 1, 30),
    }
    outside = await calltaker.get("/api/v1/place-history", params={"lat": 10.95, "lon": 107.4})
    assert fields_of(outside, 422) == {"location"}


async def test_key_questions_set_the_priority_and_the_answers_are_personal_data(
    gateway: Gateway,
) -> None:
    viewer = await gateway.client("viewer")
    asked = await viewer.get("/api/v1/key-questions", params={"type_code": "MEDICAL.SICK_PERSON"})
    assert asked.status_code == 200, asked.text
    questions = asked.json()["questions"]
    breathing = next(q for q in questions if q["id"] == "medical.breathing")
    no = next(o for o in breathing["options"] if o["value"] == "no")
    assert no["priority"] == 1 and no["type_code"] == "MEDICAL.CARDIAC_ARREST"
    assert "CPR" in no["instruction_en"] and "ép tim" in no["instruction_vi"]
    assert fields_of(await viewer.get("/api/v1/key-questions", params={"type_code": "X"})) == {
        "type_code"
    }

    calltaker = await gateway.client("calltaker")
    answers = [{"question": "medical.breathing", "answer": "no"}]
    incident = await created(
        calltaker, at_market("q-1", "MEDICAL.SICK_PERSON", answers=answers, call_line="MEDICAL_115")
    )
    assert (incident["priority"], incident["type_code"]) == (1, "MEDICAL.CARDIAC_ARREST")
    assert incident["call_line"] == "MEDICAL_115"
    assert incident["answers"] == answers and "ép tim" in incident["instructions"][0]
    seen = (await viewer.get(f"/api/v1/incidents/{incident['id']}")).json()["incident"]
    assert seen["answers"] == [] and seen["instructions"] == []

    # Answered later: a P4 call becomes P1.
    later = await created(calltaker, at_market("q-2", "POLICE.FRAUD"))
    assert later["priority"] == 4
    weapon = {"answers": [{"question": "police.weapon", "answer": "yes"}], "etag": later["etag"]}
    raised = await calltaker.post(f"/api/v1/incidents/{later['id']}/answers", json=weapon)
    assert raised.status_code == 200, raised.text
    assert raised.json()["incident"]["priority"] == 1
    stale = await calltaker.post(f"/api/v1/incidents/{later['id']}/answers", json=weapon)
    error_of(stale, 409, "conflict")
    wrong = {"answers": [{"question": "medical.breathing", "answer": "maybe"}]}
    refused = await calltaker.post(f"/api/v1/incidents/{later['id']}/answers", json=wrong)
    assert fields_of(refused, 422) == {"answers[0].question"}
    assert fields_of(
        await calltaker.post(f"/api/v1/incidents/{later['id']}/answers", json={"answers": []})
    ) == {"answers"}

    async def p1_in_the_picture() -> bool:
        picture = (await viewer.get("/api/v1/picture")).json()
        return any(i["id"] == later["id"] and i["priority"] == 1 for i in picture["incidents"])

    await eventually(p1_in_the_picture)


async def test_the_document_lists_type_codes_and_the_query_rule(gateway: Gateway) -> None:
    client = await gateway.client()
    document = (await client.get("/api/openapi.json")).json()
    shapes = document["components"]["schemas"]
    params = {
        p["name"]: p["schema"]
        for p in document["paths"]["/api/v1/key-questions"]["get"]["parameters"]
    }
    assert "MEDICAL.CARDIAC_ARREST" in params["type_code"]["enum"]
    codes = shapes["DuplicatesRequest"]["properties"]["type_code"]["anyOf"][0]["enum"]
    assert "FIRE.RUBBISH" in codes
    assert "FIRE.RUBBISH" in shapes["CreateIncidentRequest"]["properties"]["type_code"]["enum"]
    query = {
        p["name"]: p["schema"] for p in document["paths"]["/api/v1/places"]["get"]["parameters"]
    }["q"]
    assert query["maxLength"] == 200 and query["pattern"].startswith("^[\\u0020-")
