"""EIDO conformance: ICC's documents for many kinds of incident validate against NENA's
published schema (vendored unchanged), carry the prologue on every component, and every
`$ref` names a component of the same document; read back, they give the fields ICC holds."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from icc_incidents.domain.model import (
    Assignment,
    Caller,
    Caution,
    Incident,
    Location,
    Note,
    PossibleDuplicate,
)
from icc_incidents.eido import codes, parse, pidf, schema
from icc_incidents.eido.export import SenderLink, to_eido, tracking_id
from icc_incidents.main import load_rules
from icc_kernel.actors import Actor
from icc_kernel.errors import InvalidInput
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CallLine,
    CautionKind,
    DuplicateReason,
    EtaSource,
    IncidentState,
    Priority,
)

RULES = load_rules()
T0 = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
CALL_TAKER = Actor("lan", Agency.COMMAND_CENTER, "call_taker")
FIXTURES = Path(__file__).parent / "fixtures"
BEN_THANH = Location(10.772431, 106.698048, "Chợ Bến Thành, Lê Lợi", "Bến Thành")
CALLER = Caller("Nguyễn Thị Hoa", "+84909123456", "vi", T0, CallLine.FIRE_114)


def incident(type_code: str, **changes: Any) -> Incident:
    kind = RULES.catalog.get(type_code)
    assert kind is not None
    base = Incident(
        id="a1b2c3d4e5f60718",
        type_code=type_code,
        priority=kind.default_priority,
        state=IncidentState.NEW,
        location=BEN_THANH,
        agencies=kind.agencies,
        caller=CALLER,
        description="Khói đen bốc lên từ tầng 2",
        exercise=False,
        created_by=CALL_TAKER,
        create_time=T0,
        update_time=T0 + timedelta(minutes=9),
        call_line=CallLine.FIRE_114,
    )
    return replace(base, **changes)


def unit(n: int, agency: Agency, state: AssignmentState, call_sign: str) -> Assignment:
    return Assignment(
        name=f"incidents/a1b2c3d4e5f60718/assignments/{n}",
        unit=f"U-{call_sign}",
        call_sign=call_sign,
        agency=agency,
        state=state,
        assign_time=T0 + timedelta(minutes=2),
        release_time=T0 + timedelta(minutes=40) if state is AssignmentState.RELEASED else None,
        eta_s=420,
        distance_m=2300,
        eta_source=EtaSource.TRAVEL_MODEL,
    )


def caution(kind: CautionKind, text: str) -> Caution:
    return Caution(
        id=f"c-{kind.name.lower()}",
        kind=kind,
        text=text,
        location=BEN_THANH,
        radius_m=30.0,
        valid_until=T0 + timedelta(days=200),
        created_by=CALL_TAKER,
        create_time=T0 - timedelta(days=3),
    )


NOTE = Note(7, "Người gọi nói có 2 người mắc kẹt", CALL_TAKER, T0 + timedelta(minutes=3))
SENDER = SenderLink(
    "urn:emergency:uid:incidentid:77aa:psap112.tphcm.gov.vn", "psap112.tphcm.gov.vn"
)

# name -> (incident, senders, absorbed): at least ten kinds of incident.
KINDS: dict[str, tuple[Incident, tuple[SenderLink, ...], tuple[str, ...]]] = {
    "fire with cautions": (
        incident(
            "FIRE.STRUCTURE",
            state=IncidentState.ON_SCENE,
            cautions=(
                caution(CautionKind.HAZARDOUS_MATERIALS, "Kho sơn ở tầng trệt"),
                caution(CautionKind.ACCESS, "Hẻm 2 m: xe thang không vào được"),
            ),
            assignments=(
                unit(1, Agency.FIRE, AssignmentState.ACKNOWLEDGED, "PCCC-Q1-E1"),
                unit(2, Agency.FIRE, AssignmentState.ASSIGNED, "PCCC-Q1-L1"),
            ),
            first_dispatch_time=T0 + timedelta(minutes=2),
            first_on_scene_time=T0 + timedelta(minutes=8),
        ),
        (),
        (),
    ),
    "medical with a transport": (
        incident(
            "MEDICAL.CARDIAC_ARREST",
            call_line=CallLine.MEDICAL_115,
            caller=replace(CALLER, call_line=CallLine.MEDICAL_115),
            state=IncidentState.ON_SCENE,
            assignments=(unit(1, Agency.MEDICAL, AssignmentState.ACKNOWLEDGED, "115-A1"),),
            notes=(NOTE,),
        ),
        (),
        (),
    ),
    "a merged duplicate": (
        incident(
            "FIRE.STRUCTURE",
            state=IncidentState.MERGED,
            merged_into="incidents/ffeeddccbbaa9988",
            close_time=T0 + timedelta(minutes=5),
        ),
        (),
        (),
    ),
    "the incident duplicates were merged into": (
        incident("FIRE.STRUCTURE", priority=Priority.P1),
        (),
        ("0011223344556677", "8899aabbccddeeff"),
    ),
    "a multi-agency crash": (
        incident(
            "TRAFFIC.MULTI_VEHICLE",
            call_line=CallLine.POLICE_113,
            caller=replace(CALLER, call_line=CallLine.POLICE_113),
            state=IncidentState.EN_ROUTE,
            assignments=(
                unit(1, Agency.POLICE, AssignmentState.ACKNOWLEDGED, "CSGT-7"),
                unit(2, Agency.MEDICAL, AssignmentState.ASSIGNED, "115-B2"),
                unit(3, Agency.FIRE, AssignmentState.PROPOSED, "CNCH-3"),
            ),
        ),
        (),
        (),
    ),
    "a 112 transfer": (
        incident(
            "RESCUE.DROWNING",
            call_line=CallLine.EMERGENCY_112,
            caller=replace(CALLER, call_line=CallLine.EMERGENCY_112),
        ),
        (SENDER,),
        (),
    ),
    "a robbery with further callers": (
        incident(
            "POLICE.ROBBERY",
            call_line=CallLine.POLICE_113,
            caller=replace(CALLER, call_line=CallLine.POLICE_113),
            additional_callers=(
                Caller("Trần Văn Nam", "0911222333", "vi", T0 + timedelta(minutes=1)),
                Caller("", "", "en", T0 + timedelta(minutes=2), CallLine.EMERGENCY_112),
            ),
            caller_count=3,
        ),
        (),
        (),
    ),
    "a drill": (
        incident("HAZMAT.GAS_LEAK", exercise=True),
        (),
        (),
    ),
    "a closed incident": (
        incident(
            "MEDICAL.TRAUMA",
            state=IncidentState.CLOSED,
            resolution="Đã chuyển bệnh nhân đến BV Chợ Rẫy",
            close_time=T0 + timedelta(hours=1),
            assignments=(unit(1, Agency.MEDICAL, AssignmentState.RELEASED, "115-C3"),),
        ),
        (),
        (),
    ),
    "a cancelled call": (
        incident(
            "FIRE.ALARM",
            state=IncidentState.CANCELLED,
            resolution="báo động giả",
            close_time=T0 + timedelta(minutes=4),
            caller=Caller(),
            description="",
        ),
        (),
        (),
    ),
    "a flood with possible duplicates": (
        incident(
            "FLOOD.PEOPLE_TRAPPED",
            possible_duplicates=(
                PossibleDuplicate(
                    "incidents/1234123412341234",
                    (DuplicateReason.NEARBY, DuplicateReason.SAME_PHONE),
                    40.0,
                    "FLOOD.STREET_FLOODING",
                    IncidentState.DISPATCHED,
                    T0 - timedelta(minutes=20),
                    "",
                ),
            ),
        ),
        (),
        (),
    ),
}


def components(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every data component of a document, with its member name."""
    out: list[tuple[str, dict[str, Any]]] = [("document", doc)]
    for key, value in doc.items():
        if key == "incidentComponent":
            out.append((key, value))
            out.extend(("dispositionComponent", d) for d in value.get("dispositionComponent", []))
        elif key.endswith("Component") and isinstance(value, list):
            out.extend((key, c) for c in value)
    return out


def references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            found.extend(references(value))
        return found
    if isinstance(node, list):
        return [r for item in node for r in references(item)]
    return []


def test_the_vendored_schema_accepts_nenas_own_sample() -> None:
    sample = json.loads((FIXTURES / "nena-call-transfer-sample.json").read_text())
    assert schema.violations(sample) == []


@pytest.mark.parametrize("personal_data", [True, False], ids=["personal data", "no personal data"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_documents_conform_to_nenas_schema_with_prologues_and_links(
    kind: str, personal_data: bool
) -> None:
    found, senders, absorbed = KINDS[kind]
    doc = to_eido(
        found,
        RULES.catalog.get(found.type_code),
        personal_data=personal_data,
        senders=senders,
        absorbed=absorbed,
    )
    # Through JSON text, as partners receive it.
    doc = json.loads(json.dumps(doc, ensure_ascii=False))
    assert schema.violations(doc) == []
    ids = [c["$id"] for _, c in components(doc)]
    assert len(ids) == len(set(ids)), "every component's $id is unique"
    for name, c in components(doc):
        assert {"$id", "lastUpdateTimeStamp", "updatedByAgencyReference"} <= c.keys(), name
        datetime.fromisoformat(c["lastUpdateTimeStamp"])
    assert set(references(doc)) <= set(ids), "every $ref names a component of the document"
    assert doc["$id"] == tracking_id(found.id)
    assert doc["incidentComponent"]["incidentTypeInternalCode"] == found.type_code
    apco = doc["incidentComponent"]["incidentTypeCommonRegistryText"]
    assert apco == codes.APCO_OF_TYPE[found.type_code]
    places = [pidf.read(loc["locationByValue"]) for loc in doc["locationComponent"]]
    assert (places[0].lat, places[0].lon, places[0].ward) == (
        found.location.lat,
        found.location.lon,
        found.location.ward,
    )
    text = json.dumps(doc, ensure_ascii=False)
    if not personal_data:
        assert "personComponent" not in doc and "callbackComponent" not in doc
        assert CALLER.phone not in text and CALLER.name not in text and NOTE.text not in text
    assert len(doc["callComponent"]) == 1 + len(found.additional_callers)
    assert len(doc.get("emergencyResourceComponent", [])) == len(found.assignments)


def test_every_type_in_the_catalog_has_an_apco_code_nenas_schema_lists() -> None:
    listed = (
        Path(schema.__file__).parent.parent / "data/eido/NIEMComponents/apco.yaml"
    ).read_text()
    for t in RULES.catalog.all():
        code = codes.APCO_OF_TYPE[t.code]
        assert f"        - {code}\n" in listed, (t.code, code)


@pytest.mark.parametrize(
    "kind", [k for k in KINDS if KINDS[k][0].state is not IncidentState.MERGED]
)
def test_read_back_a_document_gives_every_field_icc_holds(kind: str) -> None:
    found, senders, absorbed = KINDS[kind]
    doc = to_eido(
        found,
        RULES.catalog.get(found.type_code),
        personal_data=True,
        senders=senders,
        absorbed=absorbed,
    )
    transfer = parse.read(json.loads(json.dumps(doc)), RULES.catalog, T0)
    d = transfer.draft
    assert transfer.document_id == tracking_id(found.id)
    assert transfer.typed
    assert (d.type_code, d.priority, d.location, d.description, d.exercise) == (
        found.type_code,
        found.priority,
        found.location,
        found.description,
        found.exercise,
    )
    assert d.call_line == (found.caller.call_line or found.call_line)
    assert (d.caller.name, d.caller.phone, d.caller.language) == (
        found.caller.name,
        found.caller.phone,
        found.caller.language,
    )
    assert set(d.agencies) == {*found.agencies, *(a.agency for a in found.assignments)}
    assert transfer.notes == tuple(n.text for n in found.notes)


def test_a_document_naming_a_component_it_lacks_is_refused_at_that_path() -> None:
    found = KINDS["fire with cautions"][0]
    doc = to_eido(found, None, personal_data=True)
    doc["incidentComponent"]["locationReference"] = [{"$ref": "urn:nowhere"}]
    with pytest.raises(InvalidInput) as err:
        parse.read(doc, RULES.catalog, T0)
    assert [v.field for v in err.value.violations] == [
        "document.incidentComponent.locationReference[0].$ref"
    ]


def test_schema_faults_are_named_by_their_path() -> None:
    doc = to_eido(KINDS["a drill"][0], None, personal_data=False)
    doc["callComponent"][0]["direction"] = "sideways"
    del doc["agencyComponent"]
    doc["incidentComponent"]["incidentCommonPriorityNumber"] = "P1"
    fields = {v.field for v in schema.violations(doc)}
    assert fields == {
        "document.agencyComponent",
        "document.callComponent[0].direction",
        "document.incidentComponent.incidentCommonPriorityNumber",
    }


def test_callback_numbers_are_read_from_tel_and_sip_uris() -> None:
    found = KINDS["a 112 transfer"][0]
    doc = to_eido(found, None, personal_data=True)
    for uri, phone in (
        ("tel:+84 (28) 3829 1234", "+842838291234"),
        ("sip:+84909123456@carrier.vn;user=phone", "+84909123456"),
        ("sip:alice@example.com", ""),
        ("mailto:x@y", ""),
    ):
        doc["callbackComponent"][0]["callBackInformationUri"] = [uri]
        assert parse.read(doc, RULES.catalog, T0).draft.caller.phone == phone, uri
