"""EIDO over gRPC (mutual TLS, real NATS, the test database): an incident read as an EIDO
document within the caller's scope, a call transferred in by a 112 center with a document
shaped like NENA's call-transfer sample, placed in the city; refusals name the path and
write nothing; import then export keeps what ICC holds."""

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc_incidents.eido import pidf, schema
from icc_incidents.eido.export import tracking_id
from icc_rpc.errors import field_violations

from .conftest import Service

T = 10
SAMPLE = json.loads(
    (Path(__file__).parent / "fixtures" / "nena-call-transfer-sample.json").read_text()
)
SENDER = "psap112.tphcm.gov.vn"
# The Opera House, Phường Sài Gòn.
OPERA = (10.776755, 106.703149)


def civic(**parts: str) -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in parts.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?> <presence xmlns="urn:ietf:params:xml:ns:pidf"'
        ' xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:caller@psap112">'
        ' <dm:device id="target123-1"> <gp:geopriv> <gp:location-info>'
        ' <civicAddress xmlns="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr">'
        f"{inner}</civicAddress> </gp:location-info> <gp:method>Manual</gp:method>"
        " </gp:geopriv> </dm:device> </presence>"
    )


def point(lat: float, lon: float) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf"'
        ' xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"'
        ' xmlns:gs="http://www.opengis.net/pidflo/1.0" xmlns:gml="http://www.opengis.net/gml"'
        ' entity="pres:caller@psap112"><dm:device id="d1"><gp:geopriv><gp:location-info>'
        '<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">'
        f"<gml:pos>{lat} {lon}</gml:pos>"
        '<gs:radius uom="urn:ogc:def:uom:EPSG::9001">15</gs:radius></gs:Circle>'
        "</gp:location-info><gp:method>GPS</gp:method></gp:geopriv></dm:device></presence>"
    )


def transfer(
    uid: str, *, location: str, updated: str = "2026-12-07T08:43:49.439+07:00"
) -> dict[str, Any]:
    """NENA's call-transfer sample as the city's 112 center would send it."""
    doc = copy.deepcopy(SAMPLE)
    text = json.dumps(doc).replace("state.pa.us", SENDER)
    text = text.replace("a56e556d871", uid).replace("2021-04-30T14:4", "2026-12-07T08:4")
    text = text.replace("-04:00", "+07:00")
    doc = json.loads(text)
    doc["lastUpdateTimeStamp"] = updated
    doc["locationComponent"][0]["locationByValue"] = location
    return doc


async def import_doc(stub: Any, doc: dict[str, Any]) -> pb.ImportEidoResponse:
    reply: pb.ImportEidoResponse = await stub.ImportEido(
        pb.ImportEidoRequest(document=json.dumps(doc, ensure_ascii=False)), timeout=T
    )
    return reply


async def export(stub: Any, name: str) -> dict[str, Any]:
    reply = await stub.GetIncidentEido(pb.GetIncidentEidoRequest(name=name), timeout=T)
    doc: dict[str, Any] = json.loads(reply.document)
    assert schema.violations(doc) == [], "ICC's export conforms to NENA's schema"
    return doc


async def count(service: Service) -> int:
    listed = await service.stub.ListIncidents(pb.ListIncidentsRequest(page_size=500), timeout=T)
    return len(listed.incidents)


async def test_a_112_center_transfers_a_call_placed_by_a_civic_address(service: Service) -> None:
    doc = transfer(
        "c0ffee01",
        location=civic(country="VN", A1="Hồ Chí Minh", A3="Bến Thành", RD="Lê Lợi", HNO="42"),
    )
    first = await import_doc(service.stub, doc)
    assert first.created and not first.replayed
    assert first.name == first.incident.name and first.name.startswith("incidents/")
    loc = first.incident.location
    # Đường Lê Lợi in the gazetteer: 10.7735, 106.7000.
    assert abs(loc.lat - 10.7735) < 0.002 and abs(loc.lon - 106.7) < 0.002
    assert loc.ward == "Bến Thành" and loc.address == "42 Lê Lợi"
    assert first.incident.caller.phone == "8195551212"
    assert first.incident.call_line == incident_pb2.CALL_LINE_EMERGENCY_112
    assert first.incident.description == "This is an example text."

    again = await import_doc(service.stub, doc)
    assert (again.name, again.created, again.replayed) == (first.name, False, True)
    assert await count(service) == 1

    exported = await export(service.stub, first.name)
    links = exported["linkComponent"]
    assert [link["incidentTrackingIdentifier"] for link in links] == [doc["$id"]]
    agencies = {a["$id"] for a in exported["agencyComponent"]}
    assert links[0]["involvedAgencyReference"]["$ref"] in agencies


async def test_a_transfer_with_a_point_lands_there_and_a_newer_document_updates_it(
    service: Service,
) -> None:
    doc = transfer("c0ffee02", location=point(*OPERA))
    doc["incidentComponent"] = {
        "$id": "urn:emergency:uid:incidentcomp:c0ffee02:psap112.tphcm.gov.vn",
        "lastUpdateTimeStamp": doc["lastUpdateTimeStamp"],
        "updatedByAgencyReference": {"$ref": SENDER},
        "incidentTypeCommonRegistryText": "FSTRU",
        "incidentCommonPriorityNumber": 2,
    }
    first = await import_doc(service.stub, doc)
    assert first.created
    assert (first.incident.location.lat, first.incident.location.lon) == OPERA
    assert first.incident.type_code == "FIRE.STRUCTURE"
    assert first.incident.priority == common_pb2.PRIORITY_P2

    newer = copy.deepcopy(doc)
    newer["lastUpdateTimeStamp"] = "2026-12-07T08:50:00+07:00"
    newer["incidentComponent"]["incidentCommonPriorityNumber"] = 1
    updated = await import_doc(service.stub, newer)
    assert (updated.name, updated.created, updated.replayed) == (first.name, False, False)
    assert updated.incident.priority == common_pb2.PRIORITY_P1

    older = copy.deepcopy(doc)
    older["incidentComponent"]["incidentCommonPriorityNumber"] = 4
    stale = await import_doc(service.stub, older)
    assert stale.replayed and stale.incident.priority == common_pb2.PRIORITY_P1


async def test_a_bad_document_is_refused_at_its_path_and_nothing_is_written(
    service: Service,
) -> None:
    good = transfer("c0ffee03", location=point(*OPERA))
    cases: list[tuple[str, str]] = [("{not json", "document")]
    broken = copy.deepcopy(good)
    broken["callComponent"][0]["direction"] = "sideways"
    cases.append((json.dumps(broken), "document.callComponent[0].direction"))
    broken = copy.deepcopy(good)
    del broken["agencyComponent"]
    cases.append((json.dumps(broken), "document.agencyComponent"))
    broken = copy.deepcopy(good)
    broken["callComponent"][0]["personReference"] = [{"$ref": "urn:nobody"}]
    cases.append((json.dumps(broken), "document.callComponent[0].personReference[0].$ref"))
    outside = transfer("c0ffee04", location=point(21.0285, 105.8542))  # Hà Nội
    cases.append((json.dumps(outside), "document.locationComponent"))
    broken = copy.deepcopy(good)
    broken["locationComponent"][0]["locationByValue"] = "<presence><unclosed>"
    cases.append((json.dumps(broken), "document.locationComponent[0].locationByValue"))
    for text, path in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await service.stub.ImportEido(pb.ImportEidoRequest(document=text), timeout=T)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, path
        assert path in [v.field for v in field_violations(err.value)], (path, err.value.details())
    assert await count(service) == 0


async def test_a_partner_reads_only_its_incidents_as_eido_and_personal_data_by_role(
    service: Service,
) -> None:
    made = await service.stub.CreateIncident(
        pb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code="POLICE.ROBBERY",
                location=common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn"),
                caller=incident_pb2.Caller(name="Nguyễn Văn A", phone="0909123456"),
            )
        ),
        timeout=T,
    )
    medical = await service.stub.CreateIncident(
        pb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code="MEDICAL.STROKE",
                location=common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn"),
            )
        ),
        timeout=T,
    )
    name = made.incident.name
    dispatcher = await export(service.as_("police-113"), name)
    assert dispatcher["personComponent"][0]["ncPersonComponent"]["name"][0]["personFullName"] == [
        {"value": "Nguyễn Văn A"}
    ]
    viewer = await export(service.as_("police-viewer"), name)
    assert "personComponent" not in viewer and "0909123456" not in json.dumps(viewer)
    assert viewer["$id"] == tracking_id(name.partition("/")[2])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.as_("police-113").GetIncidentEido(
            pb.GetIncidentEidoRequest(name=medical.incident.name), timeout=T
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_import_then_export_keeps_every_field_icc_holds(service: Service) -> None:
    made = await service.stub.CreateIncident(
        pb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code="TRAFFIC.MULTI_VEHICLE",
                priority=common_pb2.PRIORITY_P1,
                location=common_pb2.Location(
                    lat=10.7769, lon=106.7009, address="Công trường Lam Sơn", ward="Sài Gòn"
                ),
                description="3 xe máy và 1 ô tô",
                caller=incident_pb2.Caller(name="Lê Thị Mai", phone="+84909000111", language="vi"),
                call_line=incident_pb2.CALL_LINE_EMERGENCY_112,
            )
        ),
        timeout=T,
    )
    await service.stub.AddNote(
        pb.AddNoteRequest(parent=made.incident.name, text="Một người bất tỉnh"), timeout=T
    )
    original = await export(service.stub, made.incident.name)
    imported = await import_doc(service.stub, original)
    assert imported.created and imported.name != made.incident.name
    again = await export(service.stub, imported.name)

    def held(doc: dict[str, Any]) -> dict[str, Any]:
        inc = doc["incidentComponent"]
        place = pidf.read(doc["locationComponent"][0]["locationByValue"])
        person = doc["personComponent"][0]
        return {
            "type": (inc["incidentTypeInternalCode"], inc["incidentTypeCommonRegistryText"]),
            "priority": inc["incidentCommonPriorityNumber"],
            "place": (place.lat, place.lon, place.address, place.ward),
            "line": doc["callComponent"][0]["localCallType"],
            "caller": (
                person["ncPersonComponent"],
                doc["callbackComponent"][0]["callBackInformationUri"],
            ),
            "notes": sorted(n["notesActionComments"] for n in doc["notesComponent"]),
            "agencies": sorted(tuple(a["agencyType"]) for a in doc["agencyComponent"]),
            "status": inc["incidentStatusInternalText"],
        }

    assert held(again) == held(original)
    # The sender's incident (here also found as a possible duplicate: same place).
    sender_links = [link for link in again["linkComponent"] if "involvedAgencyReference" in link]
    assert [link["incidentTrackingIdentifier"] for link in sender_links] == [original["$id"]]


async def test_a_partner_watches_its_incidents_as_eido_documents_and_resumes(
    service: Service,
) -> None:
    police_113 = service.as_("police-113")
    stream = police_113.WatchIncidents(pb.WatchIncidentsRequest(eido=True), timeout=30)
    await stream.initial_metadata()  # subscribed: nothing published from now on is missed
    robbery = await service.stub.CreateIncident(
        pb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code="POLICE.ROBBERY",
                location=common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn"),
                caller=incident_pb2.Caller(name="Nguyễn Văn A", phone="0909123456"),
            )
        ),
        timeout=T,
    )
    await service.stub.CreateIncident(
        pb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code="MEDICAL.STROKE",
                location=common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn"),
            )
        ),
        timeout=T,
    )
    first = await asyncio.wait_for(stream.read(), timeout=T)
    assert first.WhichOneof("event") is None and first.eido_action == "created"
    document = json.loads(first.eido_document)
    assert schema.violations(document) == []
    assert document["$id"] == tracking_id(robbery.incident.name.partition("/")[2])
    assert document["personComponent"], "a partner dispatcher sees the caller"
    stream.cancel()

    await service.stub.AddNote(
        pb.AddNoteRequest(parent=robbery.incident.name, text="Hung thủ đi xe máy đỏ"), timeout=T
    )
    # Resumed after the first: the next of its incidents' events, the medical one skipped.
    resumed = police_113.WatchIncidents(
        pb.WatchIncidentsRequest(eido=True, cursor=first.cursor), timeout=30
    )
    second = await asyncio.wait_for(resumed.read(), timeout=T)
    assert second.eido_action == "note_added"
    notes = json.loads(second.eido_document)["notesComponent"]
    assert "Hung thủ đi xe máy đỏ" in [n["notesActionComments"] for n in notes]
    resumed.cancel()


async def test_partners_transfer_calls_within_their_scope(service: Service) -> None:
    doc = transfer("c0ffee05", location=point(*OPERA))
    doc["incidentComponent"] = {
        "$id": "urn:emergency:uid:incidentcomp:c0ffee05:psap112.tphcm.gov.vn",
        "lastUpdateTimeStamp": doc["lastUpdateTimeStamp"],
        "updatedByAgencyReference": {"$ref": SENDER},
        "incidentTypeCommonRegistryText": "BURGLARY",
    }
    police_113 = service.as_("police-113")
    made = await import_doc(police_113, doc)
    assert made.created and made.incident.type_code == "POLICE.BURGLARY"
    # The sample's sender is a PSAP and its queue names no line: the receiver's line.
    assert made.incident.call_line == incident_pb2.CALL_LINE_POLICE_113
    await export(police_113, made.name)

    # Another agency is not involved: it may not change the incident by sending it again.
    newer = copy.deepcopy(doc)
    newer["lastUpdateTimeStamp"] = "2026-12-07T09:00:00+07:00"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await import_doc(service.as_("medical-115"), newer)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # A partner's own agency joins what it transfers, whatever the type's agencies.
    medical = transfer("c0ffee06", location=point(*OPERA))
    joined = await import_doc(service.as_("medical-115"), medical)
    assert common_pb2.AGENCY_MEDICAL in joined.incident.agencies

    drill = transfer("c0ffee07", location=point(*OPERA))
    drill["incidentComponent"] = {
        **doc["incidentComponent"],
        "$id": "urn:emergency:uid:incidentcomp:c0ffee07:psap112.tphcm.gov.vn",
        "incidentStatusInternalText": ["NEW", "EXERCISE"],
    }
    for who, code in (
        ("police-113", grpc.StatusCode.PERMISSION_DENIED),  # takes no part in exercises
        ("police-viewer", grpc.StatusCode.PERMISSION_DENIED),  # a viewer takes no calls
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await import_doc(service.as_(who), drill if who == "police-113" else medical)
        assert err.value.code() == code, who
