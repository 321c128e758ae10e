"""The partner example (examples/partner/partner.py) as a partner runs it: its own process,
its own certificate (police-113), against the city's services. It transfers a call in,
reads an incident as EIDO, resumes its EIDO stream from a cursor with nothing missed
or repeated, and reports one of its units en route, which the incident then follows."""

import asyncio
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc_incidents.eido import schema
from icc_testing import Pki

from .conftest import City

EXAMPLE = Path(__file__).parent.parent / "examples" / "partner" / "partner.py"
SAMPLE = (
    Path(__file__).parent.parent
    / "services/incidents/tests/fixtures/nena-call-transfer-sample.json"
)
T = 30


def document(uid: str, lat: float, lon: float) -> dict[str, Any]:
    """NENA's call-transfer sample from the police 113 center, with a point in the city."""
    doc: dict[str, Any] = json.loads(
        json.dumps(json.loads(SAMPLE.read_text())).replace("a56e556d871", uid)
    )
    doc["locationComponent"][0]["locationByValue"] = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' xmlns:gml="http://www.opengis.net/gml" entity="pres:c@113"><tuple id="t"><status><gp:geopriv>'
        f'<gp:location-info><gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{lat} {lon}</gml:pos>'
        "</gml:Point></gp:location-info></gp:geopriv></status></tuple></presence>"
    )
    doc["incidentComponent"] = {
        "$id": f"urn:emergency:uid:incidentcomp:{uid}:state.pa.us",
        "lastUpdateTimeStamp": doc["lastUpdateTimeStamp"],
        "updatedByAgencyReference": {"$ref": "state.pa.us"},
        "incidentTypeCommonRegistryText": "ROBBERY",
    }
    return copy.deepcopy(doc)


async def run(pki: Pki, city: City, *args: str) -> list[str]:
    env = {
        **os.environ,
        **pki.env("police-113"),
        "ICC_INCIDENTS_ADDR": f"127.0.0.1:{city.running['incidents'].port}",  # type: ignore[attr-defined]
        "ICC_RESOURCES_ADDR": city.resources_target,
        "ICC_DISPATCH_ADDR": f"127.0.0.1:{city.running['dispatch'].port}",  # type: ignore[attr-defined]
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=T)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode()
    return out.decode().splitlines()


async def test_the_partner_example_transfers_reads_and_resumes_its_eido_stream(
    city: City, tmp_path: Path
) -> None:
    police = city.pki.channel(f"127.0.0.1:{city.running['incidents'].port}", "police-113")  # type: ignore[attr-defined]
    watch = incident_grpc.IncidentServiceStub(police).WatchIncidents(
        incident_pb.WatchIncidentsRequest(eido=True), timeout=60
    )
    await watch.initial_metadata()
    first_doc, second_doc = tmp_path / "first.json", tmp_path / "second.json"
    first_doc.write_text(json.dumps(document("p0000001", 10.7769, 106.7009)))
    second_doc.write_text(json.dumps(document("p0000002", 10.7725, 106.698)))

    first = json.loads((await run(city.pki, city, "transfer", str(first_doc)))[0])
    assert first["created"] and first["incident"].startswith("incidents/")
    seen = await asyncio.wait_for(watch.read(), timeout=T)
    assert seen.eido_action == "created"
    watch.cancel()
    await police.close()

    second = json.loads((await run(city.pki, city, "transfer", str(second_doc)))[0])
    # Resumed after the first incident's creation, one event per run as after a dropped
    # connection each time: every later event once (dispatch moves the first incident on
    # meanwhile), up to the second's creation, never the first's creation again.
    cursor, events = seen.cursor, []
    while ("created", second["incident"]) not in [(e["action"], e["incident"]) for e in events]:
        assert len(events) < 20, events
        line = (await run(city.pki, city, "watch", "--cursor", cursor, "--max", "1"))[0]
        event = json.loads(line)
        assert schema.violations(event["document"]) == []
        events.append(event)
        cursor = event["cursor"]
    cursors = [seen.cursor, *(e["cursor"] for e in events)]
    assert len(set(cursors)) == len(cursors), "no event twice"
    assert ("created", first["incident"]) not in [(e["action"], e["incident"]) for e in events]

    shown = json.loads("\n".join(await run(city.pki, city, "get", first["incident"])))
    assert shown["incidentComponent"]["internalIncidentId"] == first["incident"]
    assert shown["incidentComponent"]["incidentTypeInternalCode"] == "POLICE.ROBBERY"


async def test_the_partner_example_reports_its_unit_en_route(city: City, tmp_path: Path) -> None:
    path = tmp_path / "robbery.json"
    path.write_text(json.dumps(document("p0000003", 10.7769, 106.7009)))
    made = json.loads((await run(city.pki, city, "transfer", str(path)))[0])
    name = made["incident"]

    async def shown() -> dict[str, Any]:
        lines = await run(city.pki, city, "get", name)
        found: dict[str, Any] = json.loads("\n".join(lines))
        return found

    # A P1 robbery: dispatch assigns police units by itself.
    deadline = asyncio.get_running_loop().time() + T
    doc = await shown()
    while not [
        r
        for r in doc.get("emergencyResourceComponent", [])
        if r["emergencyResourceTypeCommonRegistryText"] == "police"
    ]:
        assert asyncio.get_running_loop().time() < deadline, "no police unit assigned"
        await asyncio.sleep(0.5)
        doc = await shown()
    unit = next(
        r["emergencyResourceTypeInternalText"]
        for r in doc["emergencyResourceComponent"]
        if r["emergencyResourceTypeCommonRegistryText"] == "police"
    )
    # Its dispatcher confirms the assignment (named by the resource's `$id`); ICC refuses
    # it a unit of another agency on the same incident.
    acknowledged = [json.loads(line) for line in await run(city.pki, city, "acknowledge", name)]
    assert {"unit": unit, "acknowledged": True} in [
        {k: v for k, v in a.items() if k != "assignment"} for a in acknowledged
    ]
    assert all(a.get("acknowledged") or "refused" in a for a in acknowledged)
    doc = await shown()
    while not any(
        r["emergencyResourceTypeInternalText"] == unit
        and r["primaryUnitStatusRegistryText"] == "Acknowledged"
        for r in doc["emergencyResourceComponent"]
    ):
        assert asyncio.get_running_loop().time() < deadline + T, doc["emergencyResourceComponent"]
        await asyncio.sleep(0.5)
        doc = await shown()
    reported = json.loads((await run(city.pki, city, "unit-status", unit, "EN_ROUTE"))[0])
    assert reported == {"unit": unit, "status": "EN_ROUTE"}
    while doc["incidentComponent"]["incidentStatusInternalText"][0] != "EN_ROUTE":
        assert asyncio.get_running_loop().time() < deadline + T, doc["incidentComponent"]
        await asyncio.sleep(0.5)
        doc = await shown()
