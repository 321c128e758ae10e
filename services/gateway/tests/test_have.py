"""Hospital availability shaped after EDXL-HAVE: the public feed lists the resources
service's hospitals (real services), each with its beds by kind and its emergency
department's status for ambulances from ICC's diversion."""

from datetime import UTC, datetime
from typing import Any

from icc.common.v1 import common_pb2
from icc.resource.v1 import resource_pb2
from icc_gateway import have

from .conftest import Gateway, eventually, incident_body


def test_diversion_and_beds_in_haves_words() -> None:
    hospital = resource_pb2.Hospital(
        name="hospitals/HOSP-X",
        name_vi="Bệnh viện X",
        name_en="X Hospital",
        location=common_pb2.Location(lat=10.75, lon=106.66),
        total=resource_pb2.HospitalCapacity(emergency_beds=40, icu=10, burn=0),
        available=resource_pb2.HospitalCapacity(emergency_beds=0, icu=3),
        diversion=resource_pb2.DIVERSION_STATUS_PARTIAL,
    )
    status = have.hospital_status(hospital)
    assert status["emergencyDepartmentStatus"]["emsTraffic"]["emsTrafficStatus"] == "Advisory"
    assert status["hospitalBedCapacityStatus"] == [
        {
            "bedType": "EmergencyDepartment",
            "capacity": {
                "capacityStatus": "NotAvailable",
                "availableCount": 0,
                "baselineCount": 40,
            },
        },
        {
            "bedType": "AdultICU",
            "capacity": {
                "capacityStatus": "Vacant/Available",
                "availableCount": 3,
                "baselineCount": 10,
            },
        },
    ]
    full = resource_pb2.Hospital(diversion=resource_pb2.DIVERSION_STATUS_FULL)
    assert have.hospital_status(full)["emergencyDepartmentStatus"]["emsTraffic"] == {
        "emsTrafficStatus": "Closed"
    }
    document = have.have_document([hospital], datetime(2026, 12, 7, tzinfo=UTC))
    assert document["shapedAfter"].startswith("OASIS EDXL-HAVE 2.0")


async def test_the_public_reads_every_hospitals_availability_without_a_session(
    gateway: Gateway,
) -> None:
    public = await gateway.client()
    reply = await public.get("/public/hospitals.json")
    assert reply.status_code == 200, reply.text
    hospitals = reply.json()["hospitalStatus"]
    assert len(hospitals) >= 40
    ids = [h["organizationInformation"]["organizationID"] for h in hospitals]
    assert "hospitals/HOSP-CHORAY" in ids and len(set(ids)) == len(ids)
    for h in hospitals:
        traffic = h["emergencyDepartmentStatus"]["emsTraffic"]["emsTrafficStatus"]
        assert traffic in ("Normal", "Advisory", "Closed")
        for bed in h["hospitalBedCapacityStatus"]:
            assert bed["bedType"] in {name for _, name in have.BED_TYPES}
            assert bed["capacity"]["availableCount"] >= 0 and bed["capacity"]["baselineCount"] >= 0
    choray = hospitals[ids.index("hospitals/HOSP-CHORAY")]
    assert "EmergencyDepartment" in [b["bedType"] for b in choray["hospitalBedCapacityStatus"]]


async def test_an_ambulances_assignment_names_its_destination_hospital(gateway: Gateway) -> None:
    calltaker = await gateway.client("calltaker")
    dispatcher = await gateway.client("dispatcher")
    created = await calltaker.post(
        "/api/v1/incidents",
        json=incident_body("have-1", "MEDICAL.HEAT_ILLNESS", priority=1),
    )
    assert created.status_code == 201, created.text
    incident_id = created.json()["incident"]["id"]
    assignments: list[dict[str, Any]] = []

    async def assigned() -> bool:
        reply = await dispatcher.get(f"/api/v1/incidents/{incident_id}/dispatch")
        if reply.status_code != 200:
            return False  # 404 until dispatch has heard of the incident
        assignments[:] = reply.json()["assignments"]
        return bool(assignments)

    await eventually(assigned, timeout_s=20)
    ambulances = [a for a in assignments if a["kind"] in ("AMBULANCE_ALS", "AMBULANCE_BLS")]
    assert ambulances, assignments
    public = (await (await gateway.client()).get("/public/hospitals.json")).json()
    ids = {h["organizationInformation"]["organizationID"] for h in public["hospitalStatus"]}
    for a in ambulances:
        assert f"hospitals/{a['destination_hospital']}" in ids, a
