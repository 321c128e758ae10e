"""The incidents service over real gRPC, with a real nats-server and database."""

import asyncio

import grpc
import nats
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from icc.common.v1 import common_pb2
from icc.incident.v1 import events_pb2, incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc_rpc.errors import field_violations

from .conftest import Service, stream_messages

BEN_THANH = (10.7725, 106.6980)
T = 10.0


def draft(
    type_code: str = "FIRE.STRUCTURE",
    lat: float = BEN_THANH[0],
    lon: float = BEN_THANH[1],
    **kw: object,
) -> incident_pb2.Incident:
    return incident_pb2.Incident(
        type_code=type_code,
        location=common_pb2.Location(lat=lat, lon=lon, address="Chợ Bến Thành", ward="Bến Thành"),
        caller=incident_pb2.Caller(name="Nguyễn Văn Thử", phone="+84901234567", language="vi"),
        **kw,  # type: ignore[arg-type]
    )


async def create(svc: Service, request_id: str = "", **kw: object) -> incident_pb2.Incident:
    response = await svc.stub.CreateIncident(
        pb.CreateIncidentRequest(request_id=request_id, incident=draft(**kw)), timeout=T
    )
    return response.incident


async def wait_for_events(svc: Service, count: int) -> list[object]:
    nc = await nats.connect(svc.nats.url)
    try:
        for _ in range(100):
            msgs = await stream_messages(nc)
            if len(msgs) >= count:
                await asyncio.sleep(0.2)  # and no more than that
                return await stream_messages(nc)
            await asyncio.sleep(0.05)
        return await stream_messages(nc)
    finally:
        await nc.close()


async def test_create_publishes_one_event_with_headers(service: Service) -> None:
    created = await create(service, request_id="req-1")
    assert created.name.startswith("incidents/")
    assert created.state == incident_pb2.INCIDENT_STATE_NEW
    assert created.priority == common_pb2.PRIORITY_P1  # the catalog's default for structure fires
    assert list(created.agencies) == [
        common_pb2.AGENCY_FIRE,
        common_pb2.AGENCY_MEDICAL,
        common_pb2.AGENCY_POLICE,
    ]
    msgs = await wait_for_events(service, 1)
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg.subject == "icc.incident.created"  # type: ignore[attr-defined]
    headers = msg.headers  # type: ignore[attr-defined]
    assert headers["Icc-Event-Type"] == "icc.incident.v1.IncidentCreated"
    assert headers["Nats-Msg-Id"]
    assert headers["traceparent"].startswith("00-")
    event = events_pb2.IncidentCreated.FromString(msg.data)  # type: ignore[attr-defined]
    assert event.metadata.event_id == headers["Nats-Msg-Id"]
    assert event.incident.name == created.name
    # Personal data stays in the service.
    assert not event.incident.HasField("caller")
    assert b"+84901234567" not in msg.data  # type: ignore[attr-defined]


async def test_create_is_idempotent_by_request_id(service: Service) -> None:
    first = await service.stub.CreateIncident(
        pb.CreateIncidentRequest(request_id="same", incident=draft()), timeout=T
    )
    results = await asyncio.gather(
        *(
            service.stub.CreateIncident(
                pb.CreateIncidentRequest(request_id="same", incident=draft()), timeout=T
            )
            for _ in range(5)
        )
    )
    assert not first.replayed
    assert all(r.replayed and r.incident.name == first.incident.name for r in results)
    msgs = await wait_for_events(service, 1)
    assert len(msgs) == 1
    listed = await service.stub.ListIncidents(pb.ListIncidentsRequest(), timeout=T)
    assert len(listed.incidents) == 1


async def test_update_with_field_mask_and_stale_etag(service: Service) -> None:
    created = await create(service)
    patch = incident_pb2.Incident(
        name=created.name,
        etag=created.etag,
        priority=common_pb2.PRIORITY_P2,
        description="Khói đen",
    )
    updated = (
        await service.stub.UpdateIncident(
            pb.UpdateIncidentRequest(
                incident=patch, update_mask=FieldMask(paths=["priority", "description"])
            ),
            timeout=T,
        )
    ).incident
    assert updated.priority == common_pb2.PRIORITY_P2
    assert updated.description == "Khói đen"
    assert updated.type_code == created.type_code  # not in the mask: untouched
    assert updated.etag != created.etag

    stale = incident_pb2.Incident(
        name=created.name, etag=created.etag, priority=common_pb2.PRIORITY_P4
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.stub.UpdateIncident(
            pb.UpdateIncidentRequest(incident=stale, update_mask=FieldMask(paths=["priority"])),
            timeout=T,
        )
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert "changed" in (err.value.details() or "")
    after = (
        await service.stub.GetIncident(pb.GetIncidentRequest(name=created.name), timeout=T)
    ).incident
    assert after.priority == common_pb2.PRIORITY_P2
    assert after.etag == updated.etag
    msgs = await wait_for_events(service, 2)
    assert [m.subject for m in msgs] == ["icc.incident.created", "icc.incident.updated"]  # type: ignore[attr-defined]
    event = events_pb2.IncidentUpdated.FromString(msgs[1].data)  # type: ignore[attr-defined]
    assert sorted(event.update_mask.paths) == ["description", "priority"]


BAD_INPUTS = [
    ("missing type code", {"type_code": ""}, "incident.type_code"),
    ("unknown type code", {"type_code": "FIRE.DRAGON"}, "incident.type_code"),
    ("latitude out of range", {"lat": 91.0}, "incident.location.lat"),
    ("longitude out of range", {"lon": -181.0}, "incident.location.lon"),
    ("outside the city (Biên Hòa)", {"lat": 10.95, "lon": 106.82}, "incident.location"),
    ("outside the city (Hà Nội)", {"lat": 21.03, "lon": 105.85}, "incident.location"),
    ("oversized description", {"description": "x" * 2001}, "incident.description"),
    ("unknown priority", {"priority": 9}, "incident.priority"),
]


@pytest.mark.parametrize(("case", "kw", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_bad_input_names_the_field(
    service: Service, case: str, kw: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(service, **kw)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in field_violations(err.value)]
    listed = await service.stub.ListIncidents(pb.ListIncidentsRequest(), timeout=T)
    assert len(listed.incidents) == 0  # nothing half-written


async def test_bad_request_fields_outside_the_incident(service: Service) -> None:
    cases: list[tuple[object, object, str]] = [
        (
            service.stub.CreateIncident,
            pb.CreateIncidentRequest(request_id="x" * 65, incident=draft()),
            "request_id",
        ),
        (
            service.stub.ListIncidents,
            pb.ListIncidentsRequest(page_token="not-a-token"),
            "page_token",
        ),
        (service.stub.ListIncidents, pb.ListIncidentsRequest(page_size=-1), "page_size"),
        (service.stub.GetIncident, pb.GetIncidentRequest(name="units/1"), "name"),
        (service.stub.AddNote, pb.AddNoteRequest(parent="incidents/abc", text=""), "text"),
        (service.stub.WatchIncidents, pb.WatchIncidentsRequest(cursor="yesterday"), "cursor"),
        (
            service.stub.UpdateIncident,
            pb.UpdateIncidentRequest(
                incident=incident_pb2.Incident(name="incidents/abc", etag='W/"1"'),
                update_mask=FieldMask(paths=["state"]),
            ),
            "update_mask",
        ),
    ]
    for method, request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            call = method(request, timeout=T)  # type: ignore[operator]
            if hasattr(call, "read"):
                await call.read()
            else:
                await call
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in [v.field for v in field_violations(err.value)], (field, err.value.details())


async def test_lifecycle_close_cancel_merge_and_chronology(service: Service) -> None:
    fire = await create(service)
    dup = await create(service, type_code="FIRE.STRUCTURE", priority=common_pb2.PRIORITY_P2)
    await service.stub.AddNote(
        pb.AddNoteRequest(parent=fire.name, text="Người gọi nói có trẻ em trong nhà"), timeout=T
    )
    merged = await service.stub.MergeIncidents(
        pb.MergeIncidentsRequest(name=fire.name, duplicates=[dup.name], reason="same fire"),
        timeout=T,
    )
    assert merged.duplicates[0].state == incident_pb2.INCIDENT_STATE_MERGED
    assert merged.duplicates[0].merged_into == fire.name

    # A merged incident cannot be closed, and says why.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.stub.CloseIncident(pb.CloseIncidentRequest(name=dup.name), timeout=T)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "MERGED" in (err.value.details() or "")

    closed = (
        await service.stub.CloseIncident(
            pb.CloseIncidentRequest(name=fire.name, resolution="extinguished"), timeout=T
        )
    ).incident
    assert closed.state == incident_pb2.INCIDENT_STATE_CLOSED
    assert closed.HasField("close_time")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.stub.CancelIncident(
            pb.CancelIncidentRequest(name=fire.name, reason="prank"), timeout=T
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    got = (
        await service.stub.GetIncident(pb.GetIncidentRequest(name=fire.name), timeout=T)
    ).incident
    assert [n.text for n in got.notes] == ["Người gọi nói có trẻ em trong nhà"]
    chron = await service.stub.ListChronology(pb.ListChronologyRequest(parent=fire.name), timeout=T)
    assert [e.action for e in chron.entries] == ["created", "note_added", "merged", "closed"]
    assert [e.sequence for e in chron.entries] == [1, 2, 3, 4]
    text = str(chron)
    assert "Nguyễn" not in text and "+8490" not in text and "trẻ em" not in text

    msgs = await wait_for_events(service, 5)
    assert [m.subject for m in msgs] == [  # type: ignore[attr-defined]
        "icc.incident.created",
        "icc.incident.created",
        "icc.incident.note_added",
        "icc.incident.merged",
        "icc.incident.closed",
    ]


async def test_list_filters_and_pages(service: Service) -> None:
    for code in [
        "MEDICAL.CARDIAC_ARREST",
        "POLICE.ROBBERY",
        "TRAFFIC.COLLISION_INJURY",
        "POLICE.ROBBERY",
    ]:
        await create(service, type_code=code)
    police = await service.stub.ListIncidents(
        pb.ListIncidentsRequest(agency=common_pb2.AGENCY_POLICE), timeout=T
    )
    assert {i.type_code for i in police.incidents} >= {"POLICE.ROBBERY"}
    assert all(common_pb2.AGENCY_POLICE in i.agencies for i in police.incidents)
    seen: list[str] = []
    token = ""
    while True:
        page = await service.stub.ListIncidents(
            pb.ListIncidentsRequest(page_size=3, page_token=token), timeout=T
        )
        seen.extend(i.name for i in page.incidents)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 4
    with pytest.raises(grpc.aio.AioRpcError) as err:
        first = await service.stub.ListIncidents(pb.ListIncidentsRequest(page_size=1), timeout=T)
        await service.stub.ListIncidents(
            pb.ListIncidentsRequest(
                page_size=1, page_token=first.next_page_token, agency=common_pb2.AGENCY_FIRE
            ),
            timeout=T,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_watch_resumes_from_cursor_without_gaps_or_repeats(service: Service) -> None:
    stream = service.stub.WatchIncidents(pb.WatchIncidentsRequest(), timeout=T)
    await stream.initial_metadata()  # the watch is live: nothing created from now is missed
    names = [(await create(service, request_id=f"w{n}")).name for n in range(3)]
    got = [await stream.read() for _ in range(2)]
    stream.cancel()
    cursor = got[-1].cursor
    more = [(await create(service, request_id=f"w{n}")).name for n in range(3, 5)]
    resumed = service.stub.WatchIncidents(pb.WatchIncidentsRequest(cursor=cursor), timeout=T)
    rest = [await resumed.read() for _ in range(3)]
    resumed.cancel()
    seen = [r.created.incident.name for r in got + rest]
    assert seen == names + more
    assert len({r.cursor for r in got + rest}) == 5


async def test_health_and_reflection(service: Service) -> None:
    health = health_pb2_grpc.HealthStub(service.channel)
    reply = await health.Check(
        health_pb2.HealthCheckRequest(service="icc.incident.v1.IncidentService"), timeout=T
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(service.channel)
    call = refl.ServerReflectionInfo(timeout=T)
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    answer = await call.read()
    await call.done_writing()
    names = {s.name for s in answer.list_services_response.service}
    assert "icc.incident.v1.IncidentService" in names
    assert "grpc.health.v1.Health" in names


async def test_incident_types_catalog(service: Service) -> None:
    types = (await service.stub.ListIncidentTypes(pb.ListIncidentTypesRequest(), timeout=T)).types
    assert len(types) >= 40
    fire = (
        await service.stub.ListIncidentTypes(
            pb.ListIncidentTypesRequest(agency=common_pb2.AGENCY_FIRE), timeout=T
        )
    ).types
    assert 0 < len(fire) < len(types)
