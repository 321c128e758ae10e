"""What each caller sees and changes of the incidents, on SQLite and PostgreSQL: a partner
only the incidents its agency is involved in, callers' details only to those allowed,
drills only to those taking part, and the watch filtered by the same rules."""

import asyncio

import grpc
import pytest

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb

from .conftest import Service

T = 5
AT = common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn")


async def create(
    service: Service, type_code: str, exercise: bool = False, who: str = ""
) -> incident_pb2.Incident:
    stub = service.as_(who) if who else service.stub
    reply = await stub.CreateIncident(
        pb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code=type_code,
                location=AT,
                exercise=exercise,
                caller=incident_pb2.Caller(name="Nguyễn Văn A", phone="0909123456"),
            )
        ),
        timeout=T,
    )
    return reply.incident


async def refused(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    return err.value.code()


DENIED = grpc.StatusCode.PERMISSION_DENIED


async def test_a_partner_reads_and_changes_only_what_its_agency_is_involved_in(
    service: Service,
) -> None:
    medical = await create(service, "MEDICAL.CARDIAC_ARREST")
    police = await create(service, "POLICE.BURGLARY")
    drill = await create(service, "POLICE.BURGLARY", exercise=True)
    await service.stub.AddNote(pb.AddNoteRequest(parent=police.name, text="dog on site"), timeout=T)
    police_113 = service.as_("police-113")

    listed = (await police_113.ListIncidents(pb.ListIncidentsRequest(), timeout=T)).incidents
    assert [i.name for i in listed] == [police.name]
    assert await refused(police_113.GetIncident(pb.GetIncidentRequest(name=medical.name))) == DENIED
    assert await refused(police_113.GetIncident(pb.GetIncidentRequest(name=drill.name))) == DENIED
    got = (
        await police_113.GetIncident(pb.GetIncidentRequest(name=police.name), timeout=T)
    ).incident
    assert got.caller.phone == "0909123456" and got.notes  # a partner dispatcher: personal data
    for call in (
        police_113.AddNote(pb.AddNoteRequest(parent=medical.name, text="x"), timeout=T),
        police_113.UpdateIncident(
            pb.UpdateIncidentRequest(
                incident=incident_pb2.Incident(
                    name=medical.name, etag=medical.etag, caller=incident_pb2.Caller(name="B")
                ),
                update_mask={"paths": ["caller"]},
            ),
            timeout=T,
        ),
        police_113.CloseIncident(pb.CloseIncidentRequest(name=medical.name), timeout=T),
        police_113.CancelIncident(pb.CancelIncidentRequest(name=medical.name), timeout=T),
        police_113.MergeIncidents(
            pb.MergeIncidentsRequest(name=police.name, duplicates=[medical.name]), timeout=T
        ),
        police_113.ListChronology(pb.ListChronologyRequest(parent=medical.name), timeout=T),
        # Its own incident, but who is involved is the center's to change.
        police_113.UpdateIncident(
            pb.UpdateIncidentRequest(
                incident=incident_pb2.Incident(
                    name=police.name, etag=got.etag, agencies=[common_pb2.AGENCY_FIRE]
                ),
                update_mask={"paths": ["agencies"]},
            ),
            timeout=T,
        ),
        # A MEDICAL call, or a drill, is not police-113's to create.
        create(service, "MEDICAL.CARDIAC_ARREST", who="police-113"),
        create(service, "POLICE.BURGLARY", exercise=True, who="police-113"),
    ):
        assert await refused(call) == DENIED
    note = await police_113.AddNote(pb.AddNoteRequest(parent=police.name, text="ok"), timeout=T)
    assert note.note.author.user == "police-113"
    assert (await create(service, "POLICE.BURGLARY", who="police-113")).created_by.user == (
        "police-113"
    )


async def test_viewers_never_see_callers_or_notes(service: Service) -> None:
    police = await create(service, "POLICE.BURGLARY")
    await service.stub.AddNote(pb.AddNoteRequest(parent=police.name, text="medical history"))
    viewer = service.as_("police-viewer")
    got = (await viewer.GetIncident(pb.GetIncidentRequest(name=police.name), timeout=T)).incident
    assert not got.caller.name and not got.caller.phone and not got.notes
    listed = (await viewer.ListIncidents(pb.ListIncidentsRequest(), timeout=T)).incidents
    assert listed and all(not i.caller.phone and not i.notes for i in listed)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await viewer.AddNote(pb.AddNoteRequest(parent=police.name, text="x"), timeout=T)
    assert err.value.code() == DENIED
    # The center's supervisor sees them.
    full = (await service.stub.GetIncident(pb.GetIncidentRequest(name=police.name))).incident
    assert full.caller.phone == "0909123456" and full.notes


async def test_the_watch_is_filtered_at_the_server_like_reads(service: Service) -> None:
    police_113 = service.as_("police-113")
    seen: list[str] = []
    stream = police_113.WatchIncidents(pb.WatchIncidentsRequest(), timeout=30)
    await stream.initial_metadata()  # subscribed: nothing published from now on is missed

    async def watch() -> None:
        async for event in stream:
            kind = event.WhichOneof("event") or ""
            seen.append(getattr(event, kind).incident.name)

    watching = asyncio.create_task(watch())
    medical = await create(service, "MEDICAL.CARDIAC_ARREST")
    drill = await create(service, "POLICE.BURGLARY", exercise=True)
    police = await create(service, "POLICE.BURGLARY")
    deadline = asyncio.get_running_loop().time() + 10
    while police.name not in seen:
        assert asyncio.get_running_loop().time() < deadline, seen
        await asyncio.sleep(0.05)
    watching.cancel()
    assert medical.name not in seen and drill.name not in seen
