"""Call-taking over real gRPC, a real nats-server and database: the line, possible
duplicates and another caller, premise cautions and the place's history, key questions."""

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.incident.v1 import events_pb2, incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_city.geo import Point, offset
from icc_incidents.api import SERVICE_NAME
from icc_kernel.roles import Role
from icc_kernel.vocabulary import Agency
from icc_pki.assertion import Person
from icc_rpc.errors import field_violations

from .conftest import Service
from .test_api import T, wait_for_events

MARKET = Point(10.7725, 106.6980)
# People at the center's screen, for whom the gateway acts (its signed assertion).
CALL_TAKER_115 = Person("ct-7", Agency.MEDICAL, Role.CALL_TAKER)
SUPERVISOR = Person("sup-1", Agency.COMMAND_CENTER, Role.SUPERVISOR)
# A partner's own system calling with its certificate.
PARTNER = "medical-115"
PHONE = "+84 901 234 567"


def at(p: Point, address: str = "Chợ Bến Thành") -> common_pb2.Location:
    return common_pb2.Location(lat=p.lat, lon=p.lon, address=address, ward="Bến Thành")


async def create(
    svc: Service,
    type_code: str = "MEDICAL.CARDIAC_ARREST",
    where: Point = MARKET,
    phone: str = PHONE,
    who: Person | str = CALL_TAKER_115,
    **kw: object,
) -> incident_pb2.Incident:
    stub, metadata = as_who(svc, who)
    reply = await stub.CreateIncident(
        pb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code=type_code,
                location=at(where),
                caller=incident_pb2.Caller(name="Trần Thị Gọi", phone=phone),
                **kw,  # type: ignore[arg-type]
            )
        ),
        metadata=metadata,
        timeout=T,
    )
    return reply.incident


def as_who(
    svc: Service, who: Person | str
) -> tuple[pb_grpc.IncidentServiceStub, tuple[tuple[str, str], ...]]:
    """A stub and metadata calling as a partner's certificate, or as a person through the
    gateway."""
    if isinstance(who, str):
        return svc.as_(who), ()
    return svc.as_("gateway"), svc.pki.acting_for(who, SERVICE_NAME)


async def invalid(call: object) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return [v.field for v in field_violations(err.value)]


def ts(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


async def test_the_line_is_set_at_intake_and_kept_through_a_transfer(service: Service) -> None:
    by_115 = await create(service)
    assert by_115.call_line == incident_pb2.CALL_LINE_MEDICAL_115  # the call-taker's agency
    by_partner = await create(service, phone="", who=PARTNER)
    assert by_partner.call_line == incident_pb2.CALL_LINE_PARTNER
    on_112 = await create(service, phone="", call_line=incident_pb2.CALL_LINE_EMERGENCY_112)
    assert on_112.call_line == incident_pb2.CALL_LINE_EMERGENCY_112
    # 112 transfers the call to the police: the agencies change, the line does not.
    moved = await service.stub.UpdateIncident(
        pb.UpdateIncidentRequest(
            incident=incident_pb2.Incident(
                name=on_112.name, etag=on_112.etag, agencies=[common_pb2.AGENCY_POLICE]
            ),
            update_mask=FieldMask(paths=["agencies"]),
        ),
        timeout=T,
    )
    assert moved.incident.call_line == incident_pb2.CALL_LINE_EMERGENCY_112
    msgs = await wait_for_events(service, 4)
    last = events_pb2.IncidentUpdated.FromString(msgs[-1].data)  # type: ignore[attr-defined]
    assert last.incident.call_line == incident_pb2.CALL_LINE_EMERGENCY_112
    fields = await invalid(
        service.stub.CreateIncident(
            pb.CreateIncidentRequest(
                incident=incident_pb2.Incident(
                    type_code="FIRE.STRUCTURE", location=at(MARKET), call_line=99
                )
            ),
            timeout=T,
        )
    )
    assert fields == ["incident.call_line"]


async def test_a_repeat_call_is_a_possible_duplicate_and_joins_as_another_caller(
    service: Service,
) -> None:
    first = await create(service)
    assert list(first.possible_duplicates) == []
    near = offset(MARKET, 40, 30)
    found = await service.stub.FindPossibleDuplicates(
        pb.FindPossibleDuplicatesRequest(
            location=at(near), type_code="MEDICAL.UNCONSCIOUS", caller_phone="0909000111"
        ),
        timeout=T,
    )
    assert [d.incident for d in found.duplicates] == [first.name]
    assert list(found.duplicates[0].reasons) == [incident_pb2.DUPLICATE_REASON_NEARBY]
    assert 40 < found.duplicates[0].distance_m < 60
    # Another family at the same place is another event; the same phone anywhere is not.
    other = await service.stub.FindPossibleDuplicates(
        pb.FindPossibleDuplicatesRequest(location=at(near), type_code="POLICE.ROBBERY"),
        timeout=T,
    )
    assert list(other.duplicates) == []
    far = Point(10.8500, 106.7550)
    same_phone = await service.stub.FindPossibleDuplicates(
        pb.FindPossibleDuplicatesRequest(
            location=at(far), type_code="POLICE.ROBBERY", caller_phone="0901234567"
        ),
        timeout=T,
    )
    assert [list(d.reasons) for d in same_phone.duplicates] == [
        [incident_pb2.DUPLICATE_REASON_SAME_PHONE]
    ]
    # Created anyway, the incident says what it may repeat.
    second = await create(service, where=near, phone="0909000111")
    assert [d.incident for d in second.possible_duplicates] == [first.name]
    assert "nearby" in second.possible_duplicates[0].summary

    # Attached as another caller instead: no new incident, no new dispatch.
    request = pb.AddCallerRequest(
        parent=first.name,
        caller=incident_pb2.Caller(name="Lê Văn Hai", phone="0909000222"),
        request_id="call-2",
    )
    stub, metadata = as_who(service, CALL_TAKER_115)
    added = await stub.AddCaller(request, metadata=metadata, timeout=T)
    assert not added.replayed
    assert added.incident.caller_count == 2
    assert [c.phone for c in added.incident.additional_callers] == ["0909000222"]
    again = await service.stub.AddCaller(request, timeout=T)
    assert again.replayed
    assert again.incident.caller_count == 2
    chronology = await service.stub.ListChronology(
        pb.ListChronologyRequest(parent=first.name), timeout=T
    )
    assert "another caller attached" in chronology.entries[-1].detail
    # The attached caller's phone now finds the incident too, and never travels.
    by_phone = await service.stub.FindPossibleDuplicates(
        pb.FindPossibleDuplicatesRequest(
            location=at(far), type_code="POLICE.ROBBERY", caller_phone="+84909000222"
        ),
        timeout=T,
    )
    assert [d.incident for d in by_phone.duplicates] == [first.name]
    msgs = await wait_for_events(service, 3)
    assert [m.subject for m in msgs] == [  # type: ignore[attr-defined]
        "icc.incident.created",
        "icc.incident.created",
        "icc.incident.updated",
    ]
    for m in msgs:
        for phone in (b"0909000222", b"909000111", b"901234567"):
            assert phone not in m.data  # type: ignore[attr-defined]
    updated = events_pb2.IncidentUpdated.FromString(msgs[-1].data)  # type: ignore[attr-defined]
    assert updated.incident.caller_count == 2
    assert list(updated.update_mask.paths) == ["caller_count"]


async def test_find_possible_duplicates_bad_input(service: Service) -> None:
    fields = await invalid(
        service.stub.FindPossibleDuplicates(
            pb.FindPossibleDuplicatesRequest(type_code="NOPE", caller_phone="call me"), timeout=T
        )
    )
    assert sorted(fields) == ["caller_phone", "type_code"]
    fields = await invalid(
        service.stub.FindPossibleDuplicates(pb.FindPossibleDuplicatesRequest(), timeout=T)
    )
    assert fields == ["location"]
    fields = await invalid(
        service.stub.FindPossibleDuplicates(
            pb.FindPossibleDuplicatesRequest(location=common_pb2.Location(lat=21.03, lon=105.85)),
            timeout=T,
        )
    )
    assert fields == ["location"]


async def test_the_form_may_ask_with_a_phone_only_or_no_type_yet(service: Service) -> None:
    first = await create(service)
    by_phone = await service.stub.FindPossibleDuplicates(
        pb.FindPossibleDuplicatesRequest(caller_phone="0901234567"), timeout=T
    )
    assert [d.incident for d in by_phone.duplicates] == [first.name]
    assert "place not given" in by_phone.duplicates[0].summary
    any_family = await service.stub.FindPossibleDuplicates(
        pb.FindPossibleDuplicatesRequest(location=at(offset(MARKET, 20, 20))), timeout=T
    )
    assert [d.incident for d in any_family.duplicates] == [first.name]


async def test_cautions_are_listed_and_travel_with_a_new_incident(service: Service) -> None:
    home = Point(10.7905, 106.6890)
    until = datetime.now(UTC) + timedelta(days=30)
    supervisor, acting = as_who(service, SUPERVISOR)
    made = await supervisor.CreateCaution(
        pb.CreateCautionRequest(
            request_id="caution-1",
            caution=incident_pb2.Caution(
                kind=incident_pb2.CAUTION_KIND_HAZARDOUS_MATERIALS,
                text="Kho bình gas ở tầng trệt",
                location=common_pb2.Location(
                    lat=home.lat, lon=home.lon, address="12 Trần Quang Khải"
                ),
                valid_until=ts(until),
            ),
        ),
        metadata=acting,
        timeout=T,
    )
    caution = made.caution
    assert caution.name.startswith("cautions/")
    assert caution.created_by.user == "sup-1"
    listed = await service.stub.ListCautions(
        pb.ListCautionsRequest(near=common_pb2.Location(lat=home.lat, lon=home.lon)), timeout=T
    )
    assert [c.name for c in listed.cautions] == [caution.name]
    elsewhere = await service.stub.ListCautions(
        pb.ListCautionsRequest(near=common_pb2.Location(lat=MARKET.lat, lon=MARKET.lon)),
        timeout=T,
    )
    assert list(elsewhere.cautions) == []
    fire = await create(service, type_code="FIRE.STRUCTURE", where=home, phone="")
    assert [c.name for c in fire.cautions] == [caution.name]
    assert fire.cautions[0].text == "Kho bình gas ở tầng trệt"
    msgs = await wait_for_events(service, 1)
    event = events_pb2.IncidentCreated.FromString(msgs[0].data)  # type: ignore[attr-defined]
    assert [c.name for c in event.incident.cautions] == [caution.name]  # to dispatch and units
    replay = await service.stub.CreateCaution(
        pb.CreateCautionRequest(request_id="caution-1", caution=made.caution), timeout=T
    )
    assert replay.replayed
    assert replay.caution.name == caution.name


@pytest.mark.parametrize(
    ("caution", "field"),
    [
        (
            incident_pb2.Caution(
                kind=incident_pb2.CAUTION_KIND_VIOLENCE,
                text="x",
                location=common_pb2.Location(lat=21.03, lon=105.85),  # Hà Nội
                valid_until=ts(datetime.now(UTC) + timedelta(days=1)),
            ),
            "caution.location",
        ),
        (
            incident_pb2.Caution(
                kind=incident_pb2.CAUTION_KIND_VIOLENCE,
                text="x",
                location=common_pb2.Location(lat=MARKET.lat, lon=MARKET.lon),
                valid_until=ts(datetime.now(UTC) - timedelta(minutes=1)),
            ),
            "caution.valid_until",
        ),
        (
            incident_pb2.Caution(
                kind=incident_pb2.CAUTION_KIND_WEAPONS,
                location=common_pb2.Location(lat=MARKET.lat, lon=MARKET.lon),
            ),
            "caution.text",
        ),
        (
            incident_pb2.Caution(kind=99, text="x", location=at(MARKET)),
            "caution.kind",
        ),
        (
            incident_pb2.Caution(
                kind=incident_pb2.CAUTION_KIND_ACCESS,
                text=" ",
                location=common_pb2.Location(lat=MARKET.lat, lon=MARKET.lon),
                radius_m=5000,
                valid_until=ts(datetime.now(UTC) + timedelta(days=1)),
            ),
            "caution.radius_m",
        ),
    ],
)
async def test_a_bad_caution_names_the_field_and_writes_nothing(
    service: Service, caution: incident_pb2.Caution, field: str
) -> None:
    fields = await invalid(
        service.stub.CreateCaution(pb.CreateCautionRequest(caution=caution), timeout=T)
    )
    assert field in fields
    listed = await service.stub.ListCautions(
        pb.ListCautionsRequest(
            near=common_pb2.Location(lat=MARKET.lat, lon=MARKET.lon), radius_m=2000
        ),
        timeout=T,
    )
    assert list(listed.cautions) == []


async def test_a_new_incident_counts_earlier_incidents_near_it(service: Service) -> None:
    await create(service, phone="")
    await create(service, type_code="POLICE.SNATCH_THEFT", where=offset(MARKET, 20, 0), phone="")
    await create(service, type_code="POLICE.ASSAULT", where=Point(10.80, 106.70), phone="")
    third = await create(service, type_code="MEDICAL.TRAUMA", where=offset(MARKET, 0, 30), phone="")
    assert {(h.family, h.count, h.days) for h in third.history} == {
        ("MEDICAL", 1, 30),
        ("POLICE", 1, 30),
    }


async def test_key_questions_raise_the_priority_and_change_the_type(service: Service) -> None:
    listed = await service.stub.ListKeyQuestions(
        pb.ListKeyQuestionsRequest(type_code="MEDICAL.SICK_PERSON"), timeout=T
    )
    ids = [q.id for q in listed.questions]
    assert ids[:2] == ["medical.conscious", "medical.breathing"]
    breathing = listed.questions[1]
    no = next(o for o in breathing.options if o.value == "no")
    assert no.priority == common_pb2.PRIORITY_P1
    assert no.type_code == "MEDICAL.CARDIAC_ARREST"
    assert "CPR" in no.instruction_en

    sick = await create(service, type_code="MEDICAL.SICK_PERSON", phone="")
    assert sick.priority == common_pb2.PRIORITY_P3
    answered = await service.stub.AnswerKeyQuestions(
        pb.AnswerKeyQuestionsRequest(
            name=sick.name,
            etag=sick.etag,
            answers=[
                incident_pb2.KeyAnswer(question="medical.conscious", answer="no"),
                incident_pb2.KeyAnswer(question="medical.breathing", answer="no"),
            ],
        ),
        timeout=T,
    )
    raised = answered.incident
    assert raised.priority == common_pb2.PRIORITY_P1
    assert raised.type_code == "MEDICAL.CARDIAC_ARREST"
    assert any("ép tim" in i for i in raised.instructions)
    assert list(raised.agencies) == [common_pb2.AGENCY_MEDICAL, common_pb2.AGENCY_FIRE]

    at_intake = await create(
        service,
        type_code="MEDICAL.SICK_PERSON",
        phone="",
        answers=[incident_pb2.KeyAnswer(question="medical.breathing", answer="no")],
    )
    assert (at_intake.type_code, at_intake.priority) == (
        "MEDICAL.CARDIAC_ARREST",
        common_pb2.PRIORITY_P1,
    )
    msgs = await wait_for_events(service, 3)
    for m in msgs:
        assert b"medical.breathing" not in m.data  # type: ignore[attr-defined]


async def test_answers_to_questions_that_do_not_exist_are_refused(service: Service) -> None:
    fields = await invalid(
        service.stub.CreateIncident(
            pb.CreateIncidentRequest(
                incident=incident_pb2.Incident(
                    type_code="FIRE.STRUCTURE",
                    location=at(MARKET),
                    answers=[
                        incident_pb2.KeyAnswer(question="medical.breathing", answer="no"),
                        incident_pb2.KeyAnswer(question="fire.people_inside", answer="maybe"),
                    ],
                )
            ),
            timeout=T,
        )
    )
    assert fields == ["incident.answers[0].question", "incident.answers[1].answer"]
    listed = await service.stub.ListIncidents(pb.ListIncidentsRequest(), timeout=T)
    assert list(listed.incidents) == []
    fire = await create(service, type_code="FIRE.STRUCTURE", phone="")
    fields = await invalid(
        service.stub.AnswerKeyQuestions(
            pb.AnswerKeyQuestionsRequest(
                name=fire.name, answers=[incident_pb2.KeyAnswer(question="nope", answer="yes")]
            ),
            timeout=T,
        )
    )
    assert fields == ["answers[0].question"]
    fields = await invalid(
        service.stub.ListKeyQuestions(pb.ListKeyQuestionsRequest(type_code="NOPE"), timeout=T)
    )
    assert fields == ["type_code"]


@pytest.mark.parametrize(
    "query", ["", "   ", "x" * 201, "Chợ Bến\x00Thành", "Bến Thành\n", "a\u202eb"]
)
async def test_search_places_refuses_bad_queries(service: Service, query: str) -> None:
    fields = await invalid(
        service.stub.SearchPlaces(pb.SearchPlacesRequest(query=query), timeout=T)
    )
    assert fields == ["query"]


async def test_search_places_finds_a_landmark_without_diacritics(service: Service) -> None:
    reply = await service.stub.SearchPlaces(
        pb.SearchPlacesRequest(
            query="cho ben thanh", near=common_pb2.Location(lat=10.7769, lon=106.7009)
        ),
        timeout=T,
    )
    best = reply.places[0]
    assert best.label == "Chợ Bến Thành"
    assert best.kind == incident_pb2.PLACE_KIND_MARKET
    assert best.location.ward == "Bến Thành"
    assert best.approximate
    assert best.source == "gazetteer"
    district = await service.stub.SearchPlaces(pb.SearchPlacesRequest(query="Q1"), timeout=T)
    assert district.places[0].kind == incident_pb2.PLACE_KIND_FORMER_DISTRICT
    assert set(district.places[0].wards) == {"Sài Gòn", "Tân Định", "Bến Thành", "Cầu Ông Lãnh"}


async def test_a_caution_without_kind_or_expiry_is_other_for_a_year(service: Service) -> None:
    made = await service.stub.CreateCaution(
        pb.CreateCautionRequest(
            caution=incident_pb2.Caution(text="Chó dữ trong sân", location=at(MARKET))
        ),
        timeout=T,
    )
    assert made.caution.kind == incident_pb2.CAUTION_KIND_OTHER
    year = made.caution.valid_until.ToDatetime(UTC) - made.caution.create_time.ToDatetime(UTC)
    assert year == timedelta(days=365)
    incident = await create(service, type_code="POLICE.ASSAULT", phone="")
    assert [c.name for c in incident.cautions] == [made.caution.name]


async def test_the_form_sees_the_place_history_a_new_incident_would_record(
    service: Service,
) -> None:
    await create(service, phone="")
    await create(service, type_code="POLICE.SNATCH_THEFT", where=offset(MARKET, 20, 0), phone="")
    await create(service, type_code="POLICE.ASSAULT", where=Point(10.80, 106.70), phone="")
    near = common_pb2.Location(lat=MARKET.lat, lon=MARKET.lon + 0.0002)
    seen = await service.stub.GetPlaceHistory(pb.GetPlaceHistoryRequest(near=near), timeout=T)
    assert {(h.family, h.count, h.days) for h in seen.history} == {
        ("MEDICAL", 1, 30),
        ("POLICE", 1, 30),
    }
    created = await create(service, type_code="MEDICAL.TRAUMA", where=Point(near.lat, near.lon))
    assert list(created.history) == list(seen.history)
    far = common_pb2.Location(lat=10.86, lon=106.77)
    nothing = await service.stub.GetPlaceHistory(pb.GetPlaceHistoryRequest(near=far), timeout=T)
    assert list(nothing.history) == []
    assert await invalid(service.stub.GetPlaceHistory(pb.GetPlaceHistoryRequest(), timeout=T)) == [
        "near"
    ]
    outside = common_pb2.Location(lat=12.5, lon=100.1)
    request = pb.GetPlaceHistoryRequest(near=outside)
    assert await invalid(service.stub.GetPlaceHistory(request, timeout=T)) == ["near"]
