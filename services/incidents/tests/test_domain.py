"""Pure rules: the state machine, the catalog, validation (places outside the service area)."""

from datetime import UTC, datetime
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icc_incidents.domain import lifecycle
from icc_incidents.domain.lifecycle import TRANSITIONS, Draft
from icc_incidents.domain.model import Assignment, Incident, Location
from icc_incidents.main import load_rules
from icc_kernel.actors import Actor
from icc_kernel.errors import IllegalTransition, InvalidInput, StaleEtag
from icc_kernel.vocabulary import Agency, AssignmentState, IncidentState, Priority

RULES = load_rules()
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
ACTOR = Actor("calltaker-7", Agency.COMMAND_CENTER, "call-taker")
S = IncidentState


def new(**kw: object) -> Incident:
    draft = Draft(type_code="FIRE.STRUCTURE", location=Location(10.7725, 106.698), **kw)  # type: ignore[arg-type]
    return lifecycle.new_incident(RULES, draft, incident_id="i1", actor=ACTOR, now=NOW).incident


def in_state(state: IncidentState, **kw: object) -> Incident:
    return new().bumped(NOW, state=state, **kw)


def test_catalog_covers_every_service() -> None:
    catalog = RULES.catalog
    assert len(catalog) >= 40
    categories = {t.category for t in catalog.all()}
    assert {"POLICE", "FIRE", "RESCUE", "MEDICAL", "TRAFFIC", "FLOOD", "HAZMAT"} <= categories
    for code in (
        "FIRE.STRUCTURE",
        "MEDICAL.CARDIAC_ARREST",
        "POLICE.ROBBERY",
        "TRAFFIC.COLLISION_INJURY",
    ):
        assert code in catalog
    for t in catalog.all():
        assert t.label_vi and t.label_en and t.agencies


def test_catalog_search_with_or_without_diacritics() -> None:
    with_marks = {t.code for t in RULES.catalog.search("Cháy nhà")}
    without = {t.code for t in RULES.catalog.search("chay nha")}
    assert "FIRE.STRUCTURE" in without
    assert with_marks == without
    assert "MEDICAL.CARDIAC_ARREST" in {t.code for t in RULES.catalog.search("ngung tim")}


def test_new_incident_takes_defaults_from_the_catalog() -> None:
    incident = new()
    assert incident.priority == Priority.P1
    assert incident.agencies == (Agency.FIRE, Agency.MEDICAL, Agency.POLICE)
    assert incident.state == S.NEW
    assert incident.version == 1


def test_every_transition_is_allowed_or_refused_with_a_reason() -> None:
    progress = {S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE}
    for start in IncidentState:
        for target in IncidentState:
            incident = in_state(start)
            legal = target in TRANSITIONS[start]
            try:
                if target in progress:
                    changed = lifecycle.advance(incident, target, now=NOW).incident
                elif target == S.CLOSED:
                    changed = lifecycle.close(
                        incident, resolution="", expected_etag="", now=NOW
                    ).incident
                elif target == S.CANCELLED:
                    changed = lifecycle.cancel(
                        incident, reason="false alarm", expected_etag="", now=NOW
                    ).incident
                elif target == S.MERGED:
                    other = new().bumped(NOW)
                    other = Incident(**{**other.__dict__, "id": "i2"})
                    changed = lifecycle.merge(other, incident, reason="", now=NOW)[1].incident
                else:
                    continue  # NEW is only ever the start
            except IllegalTransition as exc:
                assert not legal, f"{start.name} -> {target.name} should be allowed"
                assert start.name in str(exc) and target.name in str(exc)
                continue
            assert legal, f"{start.name} -> {target.name} should be refused"
            assert changed.state == target
            assert changed.version == incident.version + 1


def test_progress_stamps_first_dispatch_and_on_scene_once() -> None:
    dispatched = lifecycle.advance(new(), S.DISPATCHED, now=NOW).incident
    later = datetime(2026, 11, 24, 8, 7, tzinfo=UTC)
    on_scene = lifecycle.advance(dispatched, S.ON_SCENE, now=later).incident
    assert on_scene.first_dispatch_time == NOW
    assert on_scene.first_on_scene_time == later


def test_closing_needs_every_assignment_released() -> None:
    unit = Assignment(
        "assignments/a1", "units/u1", "CC-114-01", Agency.FIRE, AssignmentState.ACKNOWLEDGED
    )
    busy = in_state(S.ON_SCENE, assignments=(unit,))
    with pytest.raises(IllegalTransition, match="CC-114-01"):
        lifecycle.close(busy, resolution="", expected_etag="", now=NOW)
    released = in_state(
        S.ON_SCENE,
        assignments=(Assignment(**{**unit.__dict__, "state": AssignmentState.RELEASED}),),
    )
    assert (
        lifecycle.close(released, resolution="done", expected_etag="", now=NOW).incident.state
        == S.CLOSED
    )


def test_update_checks_etag_mask_and_values() -> None:
    incident = new()
    patch = Draft(type_code="", location=None, priority=Priority.P3)
    with pytest.raises(StaleEtag):
        lifecycle.update(RULES, incident, patch, ["priority"], expected_etag='W/"7"', now=NOW)
    with pytest.raises(InvalidInput) as err:
        lifecycle.update(
            RULES, incident, patch, ["state", "priority"], expected_etag=incident.etag, now=NOW
        )
    assert [v.field for v in err.value.violations] == ["update_mask"]
    change = lifecycle.update(
        RULES, incident, patch, ["priority"], expected_etag=incident.etag, now=NOW
    )
    assert change.incident.priority == Priority.P3
    assert change.fields == ("priority",)


def test_chronology_details_carry_no_personal_data() -> None:
    from icc_incidents.domain.model import Caller

    incident = new(caller=Caller("Trần Thị Bí Mật", "0909123456"))
    patch = Draft(type_code="", location=None, caller=Caller("Lê Văn Khác", "0911222333"))
    change = lifecycle.update(
        RULES, incident, patch, ["caller"], expected_etag=incident.etag, now=NOW
    )
    note = lifecycle.add_note(incident, "bệnh nhân tiểu đường", now=NOW)
    for detail in (change.detail, note.detail):
        assert "Lê Văn" not in detail and "0911" not in detail and "tiểu đường" not in detail


@given(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True)
)
def test_any_coordinates_are_accepted_or_refused_cleanly(lat: float, lon: float) -> None:
    draft = Draft(type_code="MEDICAL.CARDIAC_ARREST", location=Location(lat, lon))
    try:
        incident = lifecycle.new_incident(
            RULES, draft, incident_id="i", actor=ACTOR, now=NOW
        ).incident
    except InvalidInput as exc:
        assert all(v.field.startswith("incident.location") for v in exc.violations)
    else:
        assert RULES.area.contains(incident.location.lat, incident.location.lon)


def test_catalog_data_file_is_packaged() -> None:
    assert (resources.files("icc_incidents") / "data" / "incident_types.json").is_file()
